"""This plugin's tests run against the core and this plugin alone."""

import pytest


@pytest.fixture
def commonwatch_plugins() -> str:
    return "senior_watch"
