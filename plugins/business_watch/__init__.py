"""Business Watch: alerts for shops, pubs and other local businesses."""

from core import hookimpl
from core.api import WatchType
from core.api import lazy_gettext as _l


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(
            "business_watch.business",
            _l("Business Watch"),
            _l("Alerts for people who run or work in a local business"),
        )
    ]
