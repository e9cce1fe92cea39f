"""Every hook a Commonwatch plugin can implement.

Plugins implement these with ``from core import hookimpl``. Hooks are grouped by the
phase of the application's life in which the core calls them:

* **registry** hooks are called once, while ``create_app()`` builds the app; what they
  return is checked (names must be unique and prefixed with the plugin's name) and kept
  in the app's registry, so a disabled plugin contributes nothing;
* **request** hooks are called while a page is built;
* **event** hooks are called when something happens to a member or a message; they
  must not fail the action that triggered them for reasons of their own.

docs/plugin_hooks.md describes each hook for plugin authors; a test fails when a hook
here is missing from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    import click
    from flask import Blueprint, Flask

    from core.models import Member, Staff
    from core.registry import (
        Channel,
        Concern,
        NavItem,
        Permission,
        ProfileField,
        TargetingRule,
        WatchType,
    )

hookspec = pluggy.HookspecMarker("commonwatch")


# -- registry phase ---------------------------------------------------------------------


@hookspec
def commonwatch_watch_types() -> Sequence[WatchType]:
    """Return the watch types (interests) this plugin contributes.

    Each :class:`core.registry.WatchType` has a qualified ``name`` that starts with the
    plugin's name and a dot (``"rural_watch.horse"``), a translatable ``label`` and a
    ``description``. Residents choose among the watch types of enabled plugins when they
    register or edit their profile; messages can be aimed at them. A watch type may
    claim message ``categories``: a message of one of them that is aimed at other watch
    types or rules also reaches its members in the same areas.

    Called once per app. Implemented by every watch-type plugin.
    """


@hookspec
def commonwatch_member_fields() -> Sequence[ProfileField]:
    """Return extra registration and profile fields this plugin adds for residents.

    Each :class:`core.registry.ProfileField` names a qualified field
    (``"rural_watch.horses_kept"``), a factory returning an *unbound* WTForms field, and
    optionally the watch type it belongs to (its value is kept only while the member has
    that interest). Values are stored by the core, one row per member and field, in
    ``member_field_value`` as text; targeting rules read them with
    :func:`core.api.member_field_value`. A plugin that needs richer storage keeps its own
    tables and listens to :func:`commonwatch_member_registered`.

    Called once per app.
    """


@hookspec
def commonwatch_targeting_rules() -> Sequence[TargetingRule]:
    """Return the targeting rules this plugin offers to people composing a message.

    Each :class:`core.registry.TargetingRule` has a qualified ``name``, a ``label``, a
    ``form`` (a WTForms ``Form`` subclass whose fields set the rule's parameters) and a
    ``build(params)`` function. ``build`` receives the form's ``data`` dict and returns
    a :class:`core.registry.RuleFilter`: a SQLAlchemy boolean expression over
    :class:`core.models.Member` plus a human description for the preview and audit log.

    ``build`` must be pure and set-based: it returns an expression the database
    evaluates; it never loads members into Python and never sends anything.

    Called once per app.
    """


@hookspec
def commonwatch_channels() -> Sequence[Channel]:
    """Return the delivery channels this plugin provides.

    Each :class:`core.registry.Channel` has a ``name`` (``"email"``, ``"sms"``,
    ``"voice"``, ``"push"``) and a ``send(message, items)`` callable that delivers a batch
    of :class:`core.registry.Outgoing` items and returns, for each delivery id it could
    not send, ``(state, reason)`` with state ``"temporary-failure"`` or
    ``"permanent-failure"``; ids it does not mention count as sent. The core provides
    email (Flask-Mail) and a development channel for the others, both ``trylast``; the
    first implementation naming a channel wins.

    Called once per app.
    """


@hookspec
def commonwatch_permissions() -> Sequence[Permission]:
    """Return the permissions this plugin defines for staff.

    Each :class:`core.registry.Permission` has a qualified ``name``, a ``label`` and the
    set of staff roles that hold it. Views guard themselves with
    ``core.access.staff_required("plugin.permission")``.

    Called once per app.
    """


@hookspec
def commonwatch_blueprints() -> Sequence[Blueprint]:
    """Return the Flask blueprints of this plugin.

    Each blueprint is named after the plugin (or starts with ``<plugin>.``) and brings its
    own templates (under ``templates/<plugin>/``) and static files. The core registers
    them; every view must declare its access with a decorator from :mod:`core.access`.

    Called once per app, before the first request.
    """


@hookspec
def commonwatch_api_blueprints() -> Sequence[Blueprint]:
    """Return the plugin's JSON API operations, on a blueprint named ``<plugin>_api``.

    The core registers each under ``/api/v1/<plugin>``, with the API's token
    authentication, JSON errors, CSRF exemption and rate limit, and lists its operations
    in the OpenAPI document. Add operations with ``core.api.api_operation``; a view of
    the blueprint that is not an operation is refused. Called once while the app is
    built; a disabled plugin has no API.
    """


@hookspec
def commonwatch_models() -> Sequence[type]:
    """Return the SQLAlchemy model classes this plugin defines.

    Tables must be named ``<plugin>_...``; the core refuses to start otherwise. Plugins
    may point foreign keys at core tables but never alter them.

    Called once per app.
    """


@hookspec
def commonwatch_migration_locations() -> Sequence[str]:
    """Return directories holding this plugin's Alembic revision scripts.

    A plugin's revisions form their own branch, labelled with the plugin's name, whose
    first revision ``depends_on`` the core's head at the time it was written.
    ``commonwatch db upgrade`` applies the core's and every enabled plugin's branch.

    Called once per app.
    """


@hookspec
def commonwatch_cli_commands() -> Sequence[click.Command]:
    """Return click commands (or groups) to add to the ``commonwatch`` command line.

    Name a group after the plugin (``commonwatch rural-watch ...``) to avoid clashes;
    the core refuses duplicate names. Commands run inside the app context.

    Called once per app.
    """


@hookspec
def commonwatch_app_ready(app: Flask) -> None:
    """Finish setting up ``app`` once the registry is built and blueprints registered.

    For template filters, request hooks and similar. Must not touch the database.
    Called once per app, last in ``create_app()``.
    """


# -- request phase ----------------------------------------------------------------------


@hookspec
def commonwatch_navigation(user: Member | Staff | None) -> Sequence[NavItem]:
    """Return navigation items this plugin adds for ``user`` (``None`` when signed out).

    Each :class:`core.registry.NavItem` has a ``label``, an ``href`` and an ``order``
    (lower first). Return only items the user may use.

    Called on every page render.
    """


@hookspec
def commonwatch_member_data(member: Member) -> Mapping[str, Any] | None:
    """Return what this plugin holds about ``member``, for their own data download.

    Return JSON-ready data (dicts, lists, strings, numbers, booleans, ``None``), or
    ``None`` when the plugin holds nothing about them. The core adds a non-empty answer to
    the download under ``plugins`` and the plugin's name. Include everything the plugin
    keeps about the member except what staff wrote for staff only. Rows the plugin keeps
    about a member must point at ``member.id`` with ``ON DELETE CASCADE``, so erasing
    the member erases them too.

    Called while the member's download is built, once per download.
    """


@hookspec
def commonwatch_area_concerns(since: datetime) -> Sequence[Concern] | None:
    """Return what residents told the plugin worries them, since ``since``, per area.

    One :class:`core.registry.Concern` per area and concern: the area the residents live
    in or the concern is about (the lowest known, e.g. a street), the concern in English
    words, how many raised it, and where it comes from. Count people, not rows: a
    resident who ranked speeding in a survey once counts once. Return None or nothing
    when the plugin holds no such thing. Called by plugins that weigh concerns by area
    (insights), from a background job; it may run a few queries.
    """


@hookspec
def commonwatch_demo_data() -> Sequence[str] | None:
    """Add the plugin's part of the demo county, and say what was added.

    Called by ``commonwatch demo`` after the core's areas, organisations, staff and
    residents exist (the fictional county of Wealdshire, ``core/fixtures``). Add only
    what is missing, so that running the demo twice adds nothing twice, commit it, and
    return lines to show the person ("crimes: 61 imported"), or nothing.
    """


# -- event phase ------------------------------------------------------------------------


@hookspec
def commonwatch_member_registered(member: Member, method: str) -> None:
    """React to a new member, after their record is flushed to the database.

    ``method`` is ``"self"`` (the resident signed up), ``"doorstep"`` (staff registered
    them) or ``"import"``. Called inside the registration's transaction: implementations
    may add rows of their own, and an exception aborts the registration.
    """


@hookspec
def commonwatch_message_before_send(message: Any) -> None:
    """Inspect or veto a message just before its recipients are resolved.

    Raise :class:`core.plugins.MessageVetoed` with a reason to stop the send; the reason
    is shown to the sender. Called by the messaging pipeline.
    """


@hookspec
def commonwatch_message_sent(message: Any, recipient_count: int) -> None:
    """React to a message whose deliveries have all been queued.

    ``recipient_count`` is the number of distinct members reached. Called once per
    message by the messaging pipeline, after its transaction commits.
    """


@hookspec(firstresult=True)
def commonwatch_message_link(message: Any) -> str | None:
    """Name the page ``message`` invites its recipients to, if it is one of the plugin's.

    Return the endpoint of a page taking a ``token`` argument (``"surveys.answer"``), or
    None for messages that are not the plugin's. Each recipient's copy of the message
    then carries their own signed link to that page wherever its texts say
    ``{personal_url}`` (by email, text message and push, and on their copy of the message
    on the site); the page reads the token with ``core.api.read_personal_link``, which
    gives the message and the member without their signing in. The first plugin to name
    an endpoint wins. Called when a message's deliveries are prepared and when a
    resident opens a message, so it should be quick.
    """

