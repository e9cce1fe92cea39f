"""This plugin's tests run against the core and this plugin alone (a test that needs a
watch type names its plugin too)."""

import pytest


@pytest.fixture
def commonwatch_plugins() -> str:
    return "surveys"
