"""The small named objects plugins contribute, and the per-app map of them.

Registry hooks return lists of these; :func:`build_registry` collects them once per app,
checks every name is prefixed by its plugin's name and unique, and keeps them on
``app.extensions["commonwatch"].registry``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import wtforms

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from core.plugins import CommonwatchPlugins


@dataclass(frozen=True)
class WatchType:
    """An interest a resident can choose, such as Horse Watch."""

    #: Qualified name, ``"<plugin>.<watch type>"``; stored against members.
    name: str
    #: Shown to residents; pass a lazy_gettext string to translate it.
    label: Any
    description: Any = ""
    #: Message categories (``core.api.MESSAGE_CATEGORIES``) routed to this watch type:
    #: a message of one of them that is aimed at some watch types or rules also reaches
    #: this watch type's members in the same areas.
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfileField:
    """A registration/profile field a plugin adds for residents."""

    name: str
    #: Returns an unbound WTForms field, e.g. ``lambda: IntegerField(_l("Horses kept"))``.
    field: Callable[[], wtforms.Field]
    #: When set, the field is shown and kept only for members with this interest.
    watch_type: str | None = None


@dataclass(frozen=True)
class RuleFilter:
    """What a targeting rule resolves to: SQL over members, and words for people."""

    clause: ColumnElement[bool]
    description: str


@dataclass(frozen=True)
class TargetingRule:
    """A way to aim a message at members, e.g. "keeps horses at a yard in ward X"."""

    name: str
    label: Any
    #: Its parameter form; ``build`` receives ``form.data``.
    form: type[wtforms.Form]
    build: Callable[[dict[str, Any]], RuleFilter]


@dataclass(frozen=True)
class Permission:
    """Something staff may be allowed to do, held by default by ``roles``."""

    name: str
    label: Any
    roles: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class NavItem:
    """A link in the site's navigation."""

    label: Any
    href: str
    order: int = 100


@dataclass(frozen=True)
class Concern:
    """How many residents of one area raised one concern (a survey's top priority, a
    surgery case's topic...), for the insights of whatever plugin reads them."""

    area_id: int
    #: The concern in words, in English ("Speeding"), so that sources agree.
    label: str
    count: int
    #: Where it comes from, for people: "survey priorities", "surgery cases"...
    source: str


@dataclass(frozen=True)
class Outgoing:
    """One delivery handed to a channel: who, where, and the text in their language."""

    delivery_id: int
    member_id: int
    #: Email address or E.164 phone number.
    address: str
    language: str
    subject: str
    text: str
    html: str
    #: The member's signed one-click unsubscribe link (RFC 8058).
    unsubscribe_url: str = ""
    #: The member's signed "Reply to the sender" link for this alert (no sign-in); the
    #: rating links are it followed by "/useful" and "/not-useful". In emails, ``text``
    #: and ``html`` carry the stand-in ``{reply_url}`` where it goes (as ``html`` carries
    #: ``{unsubscribe_url}``): an email channel fills it in per recipient.
    reply_url: str = ""
    #: The member's own link to the page the message invites them to (a survey, say;
    #: core.links), already filled into ``text`` and ``html``; "" for most messages.
    personal_url: str = ""


@dataclass(frozen=True)
class Channel:
    """A way to reach residents; ``send(message, items)`` returns failures by delivery id."""

    name: str
    send: Callable[[Any, list[Outgoing]], dict[int, tuple[str, str]]]


class RegistryError(RuntimeError):
    """A plugin contributed something with a bad or duplicate name."""


@dataclass
class Registry:
    """Everything the enabled plugins contributed, by qualified name."""

    watch_types: dict[str, WatchType] = field(default_factory=dict)
    member_fields: dict[str, ProfileField] = field(default_factory=dict)
    targeting_rules: dict[str, TargetingRule] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    #: qualified name -> the plugin that contributed it.
    owners: dict[str, str] = field(default_factory=dict)

    def fields_for(self, interests: Iterable[str] | None = None) -> list[ProfileField]:
        """Profile fields shown to someone with ``interests`` (``None``: all fields)."""
        chosen = None if interests is None else set(interests)
        return [
            f
            for f in self.member_fields.values()
            if f.watch_type is None or chosen is None or f.watch_type in chosen
        ]


def _add(
    registry: Registry, table: dict[str, Any], kind: str, plugin: str, items: Iterable[Any]
) -> None:
    for item in items or ():
        name = item.name
        if plugin != "core" and not name.startswith(plugin + "."):
            raise RegistryError(
                f"plugin {plugin!r} contributed {kind} {name!r}: "
                f"names must start with {plugin + '.'!r}"
            )
        if name in table:
            raise RegistryError(
                f"{kind} {name!r} is contributed by both plugin "
                f"{registry.owners[name]!r} and plugin {plugin!r}"
            )
        table[name] = item
        registry.owners[name] = plugin


def current_registry() -> Registry:
    """The registry of the app handling this request or job."""
    from flask import current_app

    return current_app.extensions["commonwatch"].registry


def build_registry(plugins: CommonwatchPlugins) -> Registry:
    """Collect the registry hooks of every enabled plugin into one checked map."""
    registry = Registry()
    for hook, table, kind in (
        ("commonwatch_watch_types", registry.watch_types, "watch type"),
        ("commonwatch_member_fields", registry.member_fields, "profile field"),
        ("commonwatch_targeting_rules", registry.targeting_rules, "targeting rule"),
        ("commonwatch_permissions", registry.permissions, "permission"),
    ):
        for plugin, items in plugins.call_each(hook):
            _add(registry, table, kind, plugin, items)
    # Channels are named by kind, not by plugin; the first implementation wins, so a
    # provider plugin replaces the core's development channel.
    for _plugin, items in plugins.call_each("commonwatch_channels"):  # core (trylast) first
        for channel in items or ():
            registry.channels[channel.name] = channel
    from core.models import MESSAGE_CATEGORIES

    for name, w in registry.watch_types.items():
        unknown = sorted(set(w.categories) - set(MESSAGE_CATEGORIES))
        if unknown:
            raise RegistryError(
                f"watch type {name!r} claims unknown message categories {unknown}")
    for name, f in registry.member_fields.items():
        if f.watch_type is not None and f.watch_type not in registry.watch_types:
            raise RegistryError(
                f"profile field {name!r} belongs to unknown watch type {f.watch_type!r}"
            )
    return registry
