"""Neighbourhood Watch: the street-level watch type (schemes and group spaces follow)."""

from core import hookimpl
from core.api import WatchType
from core.api import lazy_gettext as _l


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(
            "neighbourhood_watch.neighbourhood",
            _l("Neighbourhood Watch"),
            _l("Crime and safety news for your street and neighbourhood"),
        )
    ]
