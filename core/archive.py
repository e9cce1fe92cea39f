"""The public alerts archive: sent messages their senders marked public, per area, with
an Atom feed per area (docs/messaging.md, "Public archive and feed").

Which messages an area's page lists
===================================

A message is listed on the page of area *A* when it was sent (its state is ``sending``
or ``sent``), it is marked ``public``, and one of the areas it was **aimed at** is *A*,
an ancestor of *A* or a descendant of *A*. The areas it was aimed at are those it named,
or, when it named none, the sender's own areas; they are recorded when it is sent
(``Message.area_paths``), so later changes to the sender's areas do not move it. So a
ward's page shows what was sent to the ward, to its streets, and to its district and
force; a district's page shows what was sent to the district, to the force and to any
ward or street of the district, but not what was sent only to another district.

Nothing about recipients is ever read here: no delivery, count or target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy import ColumnElement, Select, or_, select

from core.areas import ancestors
from core.extensions import db
from core.forms import ROLE_LABELS
from core.models import Area, Message
from core.verification import SENT_STATES

#: Messages per page of an area's archive, and in its feed.
PAGE_SIZE = 20
FEED_SIZE = 50


def covers(area: Area) -> ColumnElement[bool]:
    """SQL over Message: one of the areas the message was aimed at is ``area``, one of
    its ancestors or one of its descendants (see the module's docstring)."""
    above = [a.path for a in ancestors(area) if a.id != area.id]
    # " /1/4/" matches the area itself (" /1/4/ ") and everything below (" /1/4/17/ ");
    # an ancestor must match whole (" /1/ "). Paths hold only digits and slashes.
    return or_(Message.area_paths.contains(f" {area.path}"),
               *(Message.area_paths.contains(f" {path} ") for path in above))


def archived(area: Area) -> Select[tuple[Message]]:
    """A SELECT of the public sent messages listed for ``area``, newest first."""
    return (
        select(Message)
        .where(Message.public.is_(True), Message.status.in_(SENT_STATES), covers(area))
        .order_by(Message.sent_at.desc(), Message.id.desc())
    )


def top_areas() -> list[Area]:
    """The areas at the top of the hierarchy (the forces), by name."""
    return list(db.session.scalars(
        select(Area).where(Area.parent_id.is_(None)).order_by(Area.name)))


def child_areas(area: Area) -> list[Area]:
    """The areas directly inside ``area``, by name."""
    return list(db.session.scalars(
        select(Area).where(Area.parent_id == area.id).order_by(Area.name)))


@dataclass
class SenderDetails:
    """Who sent a message, as the public may see it."""

    name: str | None
    role: str | None
    organisation: str
    areas: str

    def line(self) -> str:
        """"Sam Patel, Officer, Wealdshire Police (Ashendry North)"."""
        parts = [p for p in (self.name, self.role, self.organisation) if p]
        text = ", ".join(parts)
        return f"{text} ({self.areas})" if self.areas else text


def sender_details(message: Message) -> SenderDetails:
    """The sender's name, role, organisation and areas (the organisation alone when the
    sender's account has since been deleted)."""
    if message.sender_name:  # sent on behalf of a group (core.messaging.GroupSender)
        return SenderDetails(message.sender_name, message.sender_role,
                             message.organisation.name, message.sender_areas or "")
    sender = message.sender
    if sender is None:
        return SenderDetails(None, None, message.organisation.name, "")
    return SenderDetails(sender.name, str(ROLE_LABELS.get(sender.role, sender.role)),
                         message.organisation.name,
                         ", ".join(a.name for a in sorted(sender.areas, key=lambda a: a.code)))


def in_language(message: Message) -> dict[str, Any]:
    """The message's title and (sanitised) body in the page's language: Welsh when the
    page is in Welsh and the message has a Welsh version."""
    welsh = str(get_locale()) == "cy" and bool(message.title_cy)
    return {
        "welsh": welsh,
        "title": message.title_cy if welsh else message.title,
        "body_html": (message.body_html_cy if welsh else message.body_html) or "",
    }


def verify_url(message: Message) -> str:
    """The public address of ``message``'s verification page (from ``BASE_URL``)."""
    base = str(current_app.config["BASE_URL"]).rstrip("/")
    return f"{base}/verify/{message.code_for_reading}"


def atom_feed(area: Area, messages: list[Message], page_url: str, feed_url: str,
              outcome_labels: dict[str, Any]) -> bytes:
    """The Atom document of ``area``'s archive: one entry per message (newest first),
    with its title, sanitised body, outcome, sender and verification page."""
    from feedgen.feed import FeedGenerator

    brand = current_app.config["BRAND_NAME"]
    feed = FeedGenerator()
    feed.id(feed_url)
    feed.title(_("%(brand)s alerts for %(area)s", brand=brand, area=area.name))
    feed.subtitle(_("Public alerts from the policing teams and partners of %(area)s",
                    area=area.name))
    feed.link(href=page_url, rel="alternate", type="text/html")
    feed.link(href=feed_url, rel="self", type="application/atom+xml")
    feed.language(str(get_locale()))
    feed.author(name=brand)
    feed.generator(brand)
    latest: datetime | None = None
    for message in messages:
        shown = in_language(message)
        entry = feed.add_entry(order="append")
        link = verify_url(message)
        entry.id(link)
        entry.title(shown["title"])
        entry.link(href=link, rel="alternate", type="text/html")
        body = shown["body_html"]
        if message.outcome:
            body += str(_outcome_paragraph(message, outcome_labels))
        entry.content(body, type="html")
        entry.author(name=sender_details(message).line())
        sent = message.sent_at or message.created_at
        updated = max(sent, message.outcome_at) if message.outcome_at else sent
        entry.published(sent)
        entry.updated(updated)
        latest = updated if latest is None or updated > latest else latest
    if latest is not None:
        feed.updated(latest)
    return feed.atom_str(pretty=True)


def _outcome_paragraph(message: Message, outcome_labels: dict[str, Any]) -> str:
    label = outcome_labels.get(message.outcome or "", message.outcome)
    note = f" {escape(message.outcome_note)}" if message.outcome_note else ""
    return f"<p><strong>{escape(_('Outcome: %(outcome)s', outcome=label))}</strong>{note}</p>"
