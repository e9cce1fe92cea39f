"""Finding, enabling and calling plugins.

Plugins are Python modules advertised under the ``commonwatch.plugins`` entry-point
group. A deployment chooses which are enabled with ``COMMONWATCH_PLUGINS`` (a comma
separated list, or ``all``, the default). Each app gets its own plugin manager; nothing
is registered at import time.
"""

from __future__ import annotations

import importlib.metadata
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pluggy

from core import hookspecs

ENTRY_POINT_GROUP = "commonwatch.plugins"

hookimpl = pluggy.HookimplMarker("commonwatch")


class PluginError(RuntimeError):
    """A plugin could not be loaded, or failed while the core called one of its hooks."""


class MessageVetoed(Exception):
    """Raised by ``commonwatch_message_before_send`` to stop a message, with a reason."""


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin package found through its entry point."""

    name: str
    module: str
    distribution: str
    version: str


def installed_plugins() -> dict[str, InstalledPlugin]:
    """Every plugin installed in this environment, by name (enabled or not)."""
    found: dict[str, InstalledPlugin] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found[ep.name] = InstalledPlugin(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
        )
    return dict(sorted(found.items()))


def parse_enabled(setting: str | list[str] | None, installed: dict[str, Any]) -> list[str]:
    """Turn the ``PLUGINS`` setting into an ordered list of plugin names.

    ``None``, ``""`` and ``"all"`` mean every installed plugin; ``"none"`` means none.
    Unknown names are an error, so a typo cannot silently disable a watch type.
    """
    if setting is None or (isinstance(setting, str) and setting.strip() in ("", "all")):
        return list(installed)
    if isinstance(setting, str):
        if setting.strip() == "none":
            return []
        names = [n.strip() for n in setting.split(",") if n.strip()]
    else:
        names = list(setting)
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise PluginError(
            f"COMMONWATCH_PLUGINS names plugins that are not installed: {', '.join(unknown)}"
            f" (installed: {', '.join(installed) or 'none'})"
        )
    return names


class CommonwatchPlugins:
    """The plugin manager of one app, and the enabled plugins' names."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("commonwatch")
        self.pm.add_hookspecs(hookspecs)
        self.enabled: list[str] = []

    def load(self, names: list[str], installed: dict[str, InstalledPlugin]) -> None:
        """Import and register the named plugins; fail naming every one that broke."""
        failures = []
        for name in names:
            try:
                module = importlib.import_module(installed[name].module)
                self.pm.register(module, name=name)
            except Exception as exc:  # noqa: BLE001 - reported together below
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
            else:
                self.enabled.append(name)
        if failures:
            raise PluginError("plugins failed to load:\n  " + "\n  ".join(failures))
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {self.pm.get_name(exc.plugin)!r}: {exc}") from exc

    def register_core(self, module: types.ModuleType) -> None:
        """Register the core's own default implementations under the name ``core``."""
        self.pm.register(module, name="core")

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call one hook implementation at a time, yielding (plugin name, result).

        A failing implementation raises :class:`PluginError` naming its plugin.
        """
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            args = {k: kwargs[k] for k in impl.argnames}
            try:
                result = impl.function(**args)
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            yield impl.plugin_name, result

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook the pluggy way; a failure raises :class:`PluginError` naming
        the plugin whose implementation raised."""
        caller = getattr(self.pm.hook, hook_name)
        try:
            return caller(**kwargs)
        except (PluginError, MessageVetoed):
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {self._culprit(caller, exc)!r} failed in {hook_name}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    @staticmethod
    def _culprit(caller: Any, exc: BaseException) -> str:
        codes = {impl.function.__code__: impl.plugin_name for impl in caller.get_hookimpls()}
        tb = exc.__traceback__
        culprit = "?"
        while tb is not None:
            culprit = codes.get(tb.tb_frame.f_code, culprit)
            tb = tb.tb_next
        return culprit

    def plugin_module(self, name: str) -> types.ModuleType | None:
        """The registered module of an enabled plugin, or ``None``."""
        plugin = self.pm.get_plugin(name)
        return plugin if isinstance(plugin, types.ModuleType) else None

