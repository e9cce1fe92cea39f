"""Commonwatch: a community alert and watch-scheme platform.

Plugins need only ``from core import hookimpl`` and :mod:`core.api`.
"""

from core.plugins import hookimpl

__all__ = ["create_app", "hookimpl"]


def create_app(config=None):  # noqa: ANN001, ANN201 - see core.app.create_app
    """Build a Commonwatch app; see :func:`core.app.create_app`."""
    from core.app import create_app as _create_app

    return _create_app(config)
