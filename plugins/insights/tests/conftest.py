"""This plugin's tests run against the core and this plugin alone (tests that read
surveys or surgery name those plugins too)."""

import pytest


@pytest.fixture
def commonwatch_plugins() -> str:
    return "insights"
