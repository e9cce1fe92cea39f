"""Senior Watch: scam alerts and advice for older people and those who support them."""

from core import hookimpl
from core.api import WatchType
from core.api import lazy_gettext as _l


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(
            "senior_watch.senior",
            _l("Senior Watch"),
            _l("Scam alerts and advice for older people, their families and carers"),
        )
    ]
