"""Fixtures come from the core's pytest plugin (core.testing.pytest_plugin)."""
