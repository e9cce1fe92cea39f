"""Test support for Commonwatch and its plugins: see :mod:`core.testing.pytest_plugin`."""
