"""Rural watches: Horse, Dog, Canal and Farm Watch, each its own watch type."""

from core import hookimpl
from core.api import WatchType
from core.api import lazy_gettext as _l


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType("rural_watch.horse", _l("Horse Watch"),
                  _l("Tack theft, livestock worrying and alerts for horse owners")),
        WatchType("rural_watch.dog", _l("Dog Watch"),
                  _l("Dog theft and alerts for dog owners and walkers")),
        WatchType("rural_watch.canal", _l("Canal Watch"),
                  _l("Alerts for boaters and people who live or work by the canal")),
        WatchType("rural_watch.farm", _l("Farm Watch"),
                  _l("Machinery and fuel theft, hare coursing and alerts for farms")),
    ]
