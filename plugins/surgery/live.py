"""Live beat surgeries: an officer's online chat with the residents of an area.

An officer schedules a session for one of their areas. Scheduling opens its case record
(``kind = "beat_surgery"``, which keeps the transcript) and writes a draft invitation
to the area's residents, which goes through the normal check, approval and sending of
messages. Residents of the area join under their name or a name they choose (up to
``SURGERY_BEAT_MAX_PARTICIPANTS``, 100 by default) and post while the officer has the
session open. In a moderated session their messages wait for the officer's approval;
the officer's own are published at once. Closing the session writes the transcript on
the case record and closes the case.

Messages reach open pages as they are published, as server-sent events: a stream first
sends what the client has not seen (after its ``Last-Event-ID``), then what is published
while it is open, woken by Redis pub/sub (channel :func:`channel`) when the app has
``REDIS_URL``, else by looking at the database once a second. A stream ends after
``SURGERY_BEAT_STREAM_SECONDS`` (300) and the browser reconnects, so no server thread is
held for long. Streams hold one thread each while open: serve the app with threads (or
gevent) rather than plain synchronous workers. Without JavaScript the page shows the
messages as they were when it loaded, a form that posts and comes back, and a Refresh
link.

Other residents only ever see a participant's chosen name, and only published messages.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
import wtforms
from babel.dates import format_datetime
from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from core.api import (
    Area,
    GovCheckboxInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    Member,
    Message,
    Staff,
    Target,
    TargetError,
    check_area_code,
    create_message,
    db,
    external_url,
    gettext,
    has_permission,
    log_denied,
    member_required,
    preview_message,
    redis_connection,
    staff_required,
    utcnow,
    within,
)
from core.api import lazy_gettext as _l
from plugins.surgery import cases
from plugins.surgery.models import Beat, Case, Participant, Post
from plugins.surgery.views import bp

BEAT = "surgery.beat"
UK = ZoneInfo("Europe/London")

#: Participants a session takes when ``SURGERY_BEAT_MAX_PARTICIPANTS`` is not set.
DEFAULT_MAX_PARTICIPANTS = 100
#: Longest message anyone may post.
BODY_MAX = 2000
#: Longest name shown for a participant.
NAME_MAX = 60
#: Messages one participant may post in a minute (``SURGERY_BEAT_POSTS_PER_MINUTE``).
DEFAULT_POSTS_PER_MINUTE = 10
#: Longest a session may last.
LONGEST_SESSION = timedelta(hours=12)

#: How long one stream stays open when ``SURGERY_BEAT_STREAM_SECONDS`` is not set.
DEFAULT_STREAM_SECONDS = 300
#: A comment line this often keeps proxies from closing a quiet stream, and notices
#: clients that went away.
KEEPALIVE_SECONDS = 15
#: Without Redis, how often a stream looks for news in the database.
POLL_SECONDS = 1.0
#: A stream resuming from a client's last event also sends what was published this long
#: before it: a message published earlier may be committed a moment later. The page
#: skips what it has already.
RESUME_OVERLAP = timedelta(seconds=10)
#: How long a browser waits before reconnecting to an ended stream, in milliseconds.
RETRY_MS = 3000

STATUS_LABELS: dict[str, Any] = {
    "scheduled": _l("Scheduled"),
    "open": _l("Open now"),
    "closed": _l("Closed"),
}
STATUS_TAGS = {"scheduled": "govuk-tag--blue", "open": "govuk-tag--green",
               "closed": "govuk-tag--grey"}


# -- settings -------------------------------------------------------------------------------


def max_participants() -> int:
    """How many residents may join one session: ``SURGERY_BEAT_MAX_PARTICIPANTS``
    (default 100)."""
    return int(current_app.config.get("SURGERY_BEAT_MAX_PARTICIPANTS")
               or DEFAULT_MAX_PARTICIPANTS)


def posts_per_minute() -> int:
    """How many messages one participant may post in a minute."""
    return int(current_app.config.get("SURGERY_BEAT_POSTS_PER_MINUTE")
               or DEFAULT_POSTS_PER_MINUTE)


def stream_seconds() -> float:
    """How long one event stream stays open before the browser reconnects:
    ``SURGERY_BEAT_STREAM_SECONDS`` (default 300; 0 sends what there is and ends)."""
    value = current_app.config.get("SURGERY_BEAT_STREAM_SECONDS")
    return float(DEFAULT_STREAM_SECONDS if value is None else value)


# -- time -----------------------------------------------------------------------------------


def uk_time(moment: datetime | None, pattern: str = "d MMMM yyyy, HH:mm") -> str:
    """``moment`` in UK time, written in the page's language ('' for None)."""
    if moment is None:
        return ""
    return format_datetime(moment, pattern, tzinfo=UK, locale=str(get_locale() or "en"))


def parse_uk_time(text: str) -> datetime:
    """A UK date and time typed as "2026-12-24 18:30" in UTC; ``ValueError`` if it is
    not one."""
    cleaned = re.sub(r"\s+", " ", (text or "").strip().replace("T", " "))
    return datetime.strptime(cleaned, "%Y-%m-%d %H:%M").replace(tzinfo=UK).astimezone(UTC)


# -- forms ----------------------------------------------------------------------------------


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ScheduleForm(FlaskForm):
    """What an officer gives to schedule a session."""

    title = wtforms.StringField(
        _l("Title"), [DataRequired(message=_l("Enter a title")),
                      Length(max=200, message=_l("Keep the title to 200 characters"))],
        widget=GovTextInput(), filters=[_strip],
        description=_l("Residents see it in the invitation and on the session's page, for "
                       "example: Mill Lane beat surgery"))
    area = wtforms.StringField(
        _l("Area code"), [InputRequired(message=_l("Enter an area code")), Length(max=64),
                          check_area_code],
        widget=GovTextInput(), filters=[_strip],
        description=_l("One of your areas or an area inside one, as on the message page. "
                       "Its residents are invited and may take part."))
    starts = wtforms.StringField(
        _l("Starts"), [InputRequired(message=_l("Enter when it starts"))],
        widget=GovTextInput(), filters=[_strip],
        description=_l("UK time, for example 2026-12-24 18:30"))
    ends = wtforms.StringField(
        _l("Ends"), [InputRequired(message=_l("Enter when it ends"))],
        widget=GovTextInput(), filters=[_strip],
        description=_l("UK time, for example 2026-12-24 19:30"))
    moderated = wtforms.BooleanField(
        _l("Hold residents' messages for my approval before others see them"),
        default=True, widget=GovCheckboxInput(),
        description=_l("Your own messages are always shown at once."))
    submit = wtforms.SubmitField(_l("Schedule it and write the invitation"),
                                 widget=GovSubmitInput())

    def __init__(self, staff: Staff, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staff = staff

    def validate_area(self, field: wtforms.Field) -> None:
        """The area must be one of the officer's or inside one."""
        area = getattr(field, "area", None)
        if area is not None and not any(area.path.startswith(a.path)
                                        for a in self.staff.areas):
            raise wtforms.ValidationError(_l("Choose one of your own areas, or an area "
                                             "inside one"))

    def validate_starts(self, field: wtforms.Field) -> None:
        """A UK date and time; kept in UTC on ``field.moment``."""
        try:
            field.moment = parse_uk_time(field.data)
        except ValueError:
            field.moment = None
            raise wtforms.ValidationError(
                _l("Enter a date and time like 2026-12-24 18:30")) from None

    def validate_ends(self, field: wtforms.Field) -> None:
        """A UK date and time in the future, after the start and at most 12 hours on."""
        try:
            field.moment = parse_uk_time(field.data)
        except ValueError:
            field.moment = None
            raise wtforms.ValidationError(
                _l("Enter a date and time like 2026-12-24 19:30")) from None
        starts = getattr(self.starts, "moment", None)
        if field.moment <= utcnow():
            raise wtforms.ValidationError(_l("The end must be in the future"))
        if starts is not None and field.moment <= starts:
            raise wtforms.ValidationError(_l("The end must be after the start"))
        if starts is not None and field.moment - starts > LONGEST_SESSION:
            raise wtforms.ValidationError(_l("A session can last 12 hours at most"))


class JoinForm(FlaskForm):
    """How a resident appears to the others."""

    appear_as = wtforms.RadioField(
        _l("How do you want to appear to the others?"),
        choices=[("name", _l("Under your name")), ("pseudonym", _l("Under a name you choose"))],
        validators=[InputRequired(message=_l("Choose how you want to appear"))],
        widget=GovRadioInput())
    display_name = wtforms.StringField(
        _l("The name to show, if you choose one"),
        [Optional(), Length(max=NAME_MAX, message=_l("Keep the name to 60 characters"))],
        widget=GovTextInput(), filters=[_strip],
        description=_l("Others see only this name. It may not be the officer's name or "
                       "that of someone already taking part."))
    submit = wtforms.SubmitField(_l("Join the beat surgery"), widget=GovSubmitInput())


class PostForm(FlaskForm):
    """A message to the session."""

    body = wtforms.TextAreaField(
        _l("Your message"),
        [DataRequired(message=_l("Enter your message")),
         Length(max=BODY_MAX, message=_l("Keep your message to 2,000 characters"))],
        widget=GovTextArea(), filters=[_strip])
    submit = wtforms.SubmitField(_l("Send"), widget=GovSubmitInput())


class OpenForm(FlaskForm):
    """Open a scheduled session."""

    submit = wtforms.SubmitField(_l("Open the session"), widget=GovSubmitInput())


class CloseForm(FlaskForm):
    """Close a session for good."""

    submit = wtforms.SubmitField(_l("Close the session"), widget=GovSubmitInput())


class ModerateForm(FlaskForm):
    """Approve or reject one held message."""

    post_id = wtforms.IntegerField(validators=[InputRequired()],
                                   widget=wtforms.widgets.HiddenInput())
    approve = wtforms.SubmitField(_l("Approve"), widget=GovSubmitInput())
    reject = wtforms.SubmitField(_l("Reject"), widget=GovSubmitInput())


# -- who sees which session -----------------------------------------------------------------


def beat_scope(staff: Staff) -> ColumnElement[bool]:
    """SQL: the sessions ``staff`` may see and run: their organisation's, in their areas
    (or areas inside them)."""
    return and_(Beat.organisation_id == staff.organisation_id,
                within(staff.areas, Beat.area_id))


def get_staff_beat(staff: Staff, beat_id: int) -> Beat:
    """Session ``beat_id`` if ``staff`` may see it; 404 otherwise (so another team's ids
    cannot be told from ids that do not exist)."""
    found = db.session.scalar(select(Beat).where(beat_scope(staff), Beat.id == beat_id))
    if found is None:
        log_denied("beat surgery not in scope or not found")
        abort(404)
    return found


def member_beats_clause(member: Member) -> ColumnElement[bool]:
    """SQL: sessions held for an area that holds ``member``'s (their own included)."""
    return Beat.area_id.in_(cases.area_ids_holding(member.area))


def get_member_beat(member: Member, beat_id: int) -> Beat:
    """Session ``beat_id`` if it is for an area holding ``member``'s; 404 otherwise."""
    found = db.session.scalar(select(Beat).where(member_beats_clause(member),
                                                 Beat.id == beat_id))
    if found is None:
        log_denied("beat surgery not for the member's area or not found")
        abort(404)
    return found


def participant_of(beat: Beat, member: Member) -> Participant | None:
    """``member``'s place in ``beat``, if they joined it."""
    return db.session.scalar(select(Participant).where(Participant.beat_id == beat.id,
                                                       Participant.member_id == member.id))


def participant_count(beat: Beat) -> int:
    """How many residents joined ``beat``."""
    return db.session.scalar(select(func.count(Participant.id))
                             .where(Participant.beat_id == beat.id)) or 0


def published_posts(beat: Beat) -> list[Post]:
    """The session's published messages, in the order they were published."""
    return list(db.session.scalars(
        select(Post).where(Post.beat_id == beat.id, Post.state == "published")
        .order_by(Post.published_at, Post.id)))


def held_posts(beat: Beat) -> list[Post]:
    """Messages waiting for the officer's approval, oldest first."""
    return list(db.session.scalars(
        select(Post).where(Post.beat_id == beat.id, Post.state == "held")
        .order_by(Post.at, Post.id)))


def posts_for_participant(beat: Beat, participant: Participant) -> list[Post]:
    """What a participant sees: the published messages and their own still held, in
    order. Never someone else's held or rejected message."""
    return list(db.session.scalars(
        select(Post).where(Post.beat_id == beat.id,
                           or_(Post.state == "published",
                               and_(Post.state == "held",
                                    Post.participant_id == participant.id)))
        .order_by(func.coalesce(Post.published_at, Post.at), Post.id)))


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def name_refusal(beat: Beat, name: str, member: Member) -> str | None:
    """Why ``name`` may not be shown for ``member`` in ``beat`` (None if it may): it must
    have 1 to 60 characters and must not be the officer's name or another participant's."""
    if not name or len(name) > NAME_MAX:
        return gettext("Enter a name of 60 characters or fewer")
    if beat.officer is not None and _same_name(name, beat.officer.name):
        return gettext("That is the officer's name: choose another")
    others = db.session.scalars(select(Participant.display_name).where(
        Participant.beat_id == beat.id, Participant.member_id != member.id))
    if any(_same_name(name, other) for other in others):
        return gettext("Someone taking part already uses that name: choose another")
    return None


# -- telling the streams --------------------------------------------------------------------


def channel(beat_id: int) -> str:
    """The Redis pub/sub channel on which a session's changes are announced (in an app
    context). Pub/sub channels are shared by every database of a Redis server, so the name
    carries the app's database number: deployments (or test workers) sharing a server on
    different databases never hear each other's sessions."""
    number = redis_connection().connection_pool.connection_kwargs.get("db", 0)
    return f"commonwatch:{number}:surgery:beat:{beat_id}"


def announce(beat_id: int, **event: Any) -> None:
    """Tell the session's open streams that something changed (committed already):
    ``post=<id>`` or ``status=<status>``, as JSON on :func:`channel` when the app has
    Redis. Streams take it as a hint and read the database, so nothing personal goes
    through Redis. Without Redis it does nothing: streams look at the database
    themselves. A Redis failure is logged, never raised."""
    if not current_app.config.get("REDIS_URL"):
        return
    try:
        redis_connection().publish(channel(beat_id), json.dumps(event))
    except redis.RedisError:
        current_app.logger.warning("could not announce a change to beat surgery %s", beat_id)


# -- what a stream sends --------------------------------------------------------------------


@dataclass
class Viewer:
    """Whose stream it is: the officer's side (sees held messages) or a participant's
    (sees published messages and their own held ones)."""

    beat_id: int
    participant_id: int | None = None
    staff: bool = False
    #: Post id -> the state the viewer was last sent.
    sent: dict[int, str] = field(default_factory=dict)
    #: The latest publication time sent.
    cursor: datetime | None = None
    status: str | None = None

    def sees(self, post: Post) -> bool:
        """Whether this viewer may be sent ``post`` as it stands."""
        if post.beat_id != self.beat_id:
            return False
        if post.state == "published":
            return True
        return post.state == "held" and (
            self.staff or (self.participant_id is not None
                           and post.participant_id == self.participant_id))


def post_data(post: Post, viewer_participant_id: int | None = None) -> dict[str, Any]:
    """A message as the page script gets it: no one's real name, only the name shown."""
    return {"id": post.id, "author": post.author_name, "body": post.body, "state": post.state,
            "time": uk_time(post.published_at or post.at, "HH:mm"),
            "officer": post.participant_id is None,
            "mine": viewer_participant_id is not None
            and post.participant_id == viewer_participant_id}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor_id(moment: datetime) -> str:
    return str((moment - EPOCH) // timedelta(microseconds=1))


def parse_cursor(value: str | None) -> datetime | None:
    """The publication time a client says it has seen up to (an event id), or None."""
    if not value or not value.strip().isdigit():
        return None
    try:
        return EPOCH + timedelta(microseconds=int(value.strip()))
    except (OverflowError, ValueError):
        return None


def _event(kind: str, data: dict[str, Any], event_id: str | None = None) -> str:
    lines = [f"event: {kind}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _post_events(viewer: Viewer, posts: list[Post]) -> list[str]:
    out = []
    for post in posts:
        before = viewer.sent.get(post.id)
        if viewer.sees(post):
            if before == post.state:
                continue
            viewer.sent[post.id] = post.state
            event_id = None
            if post.state == "published" and post.published_at is not None:
                if viewer.cursor is None or post.published_at > viewer.cursor:
                    viewer.cursor = post.published_at
                event_id = _cursor_id(viewer.cursor)
            out.append(_event("post", post_data(post, viewer.participant_id), event_id))
        elif before == "held":  # rejected (or gone) since the viewer was shown it
            viewer.sent[post.id] = post.state
            out.append(_event("removed", {"id": post.id}))
    return out


def catch_up(viewer: Viewer) -> list[str]:
    """The events ``viewer`` has not had yet: the session's status when it changed, then
    messages published since its cursor (with an overlap), held messages it may see,
    and the end of held messages it was shown. Leaves the database session closed, so a
    long stream holds no connection."""
    try:
        status = db.session.scalar(select(Beat.status).where(Beat.id == viewer.beat_id))
        since = Post.state == "published"
        if viewer.cursor is not None:
            since = and_(since, Post.published_at > viewer.cursor - RESUME_OVERLAP)
        held = Post.state == "held"
        if not viewer.staff:
            held = and_(held, Post.participant_id == viewer.participant_id)
        shown_held = [i for i, s in viewer.sent.items() if s == "held"]
        wanted = or_(since, held, Post.id.in_(shown_held)) if shown_held else or_(since, held)
        posts = list(db.session.scalars(
            select(Post).where(Post.beat_id == viewer.beat_id, wanted)
            .order_by(func.coalesce(Post.published_at, Post.at), Post.id)))
        events = []
        if status != viewer.status:
            viewer.status = status
            events.append(_event("status", {"status": status or "closed"}))
        events += _post_events(viewer, posts)
        return events
    finally:
        db.session.remove()


def _one_post(viewer: Viewer, post_id: Any) -> list[str]:
    try:
        post = db.session.get(Post, int(post_id))
        return _post_events(viewer, [post]) if post is not None else []
    except (TypeError, ValueError):
        return []
    finally:
        db.session.remove()


def _subscribe(beat_id: int) -> Any | None:
    """A pub/sub subscription to the session's announcements, or None without Redis."""
    if not current_app.config.get("REDIS_URL"):
        return None
    try:
        pubsub = redis_connection().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel(beat_id))
        return pubsub
    except redis.RedisError:
        current_app.logger.warning("beat surgery stream without Redis; polling")
        return None


def events(viewer: Viewer, seconds: float) -> Iterator[str]:
    """The text of an event stream for ``viewer``: what it has not seen, then changes as
    they happen (woken by Redis pub/sub when the app has it, else by polling the
    database), with keep-alive comments, for ``seconds`` or until the session closes."""
    pubsub = None
    try:
        yield f"retry: {RETRY_MS}\n\n"
        # Subscribed before catching up, so nothing falls between the two.
        pubsub = _subscribe(viewer.beat_id)
        yield from catch_up(viewer)
        deadline = time.monotonic() + seconds
        keepalive = time.monotonic() + KEEPALIVE_SECONDS
        while viewer.status in ("scheduled", "open"):
            now = time.monotonic()
            if now >= deadline:
                return
            wait = min(POLL_SECONDS, deadline - now)
            if pubsub is not None:
                try:
                    message = pubsub.get_message(timeout=wait)
                except redis.RedisError:
                    current_app.logger.warning("beat surgery stream lost Redis; polling")
                    pubsub = None
                    continue
                if message and message.get("type") == "message":
                    try:
                        hint = json.loads(message["data"])
                    except (TypeError, ValueError):
                        hint = {}
                    if isinstance(hint, dict) and "post" in hint:
                        yield from _one_post(viewer, hint["post"])
                    elif isinstance(hint, dict) and "status" in hint:
                        yield from catch_up(viewer)
            else:
                time.sleep(wait)
                yield from catch_up(viewer)
            if time.monotonic() >= keepalive:
                keepalive = time.monotonic() + KEEPALIVE_SECONDS
                yield ": keep-alive\n\n"
                if pubsub is not None:  # anything an announcement missed
                    yield from catch_up(viewer)
    finally:
        if pubsub is not None:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()
        db.session.remove()


def event_stream(viewer: Viewer) -> Response:
    """A text/event-stream response of :func:`events` for ``viewer``, resuming after the
    client's ``Last-Event-ID`` (or the page's ``after``)."""
    viewer.cursor = parse_cursor(request.headers.get("Last-Event-ID")
                                 or request.args.get("after"))
    get_locale()  # chosen now, while the signed-in account is at hand, for the times
    body = stream_with_context(events(viewer, stream_seconds()))
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


# -- shared actions -------------------------------------------------------------------------


def _wants_json() -> bool:
    """Whether the page script sent the form (it asks for JSON), rather than a browser
    without JavaScript."""
    return request.accept_mimetypes.best == "application/json"


def _form_errors(form: FlaskForm) -> Response:
    messages = [str(m) for errors in form.errors.values() for m in errors]
    response = jsonify({"error": " ".join(messages) or gettext("Check your message")})
    response.status_code = 400
    return response


def publish(post: Post, now: datetime | None = None) -> None:
    """Publish a held message (flushed)."""
    post.state = "published"
    post.published_at = now or utcnow()
    db.session.flush()


def transcript(beat: Beat) -> str:
    """The session's published messages as plain text, one per paragraph, with UK times
    and the names shown (never a participant's real name)."""
    lines = [gettext("Transcript of the beat surgery \"%(title)s\" for %(area)s, "
                     "%(start)s to %(end)s.", title=beat.title, area=beat.area.name,
                     start=uk_time(beat.starts_at), end=uk_time(beat.ends_at, "HH:mm"))]
    posts = published_posts(beat)
    for post in posts:
        who = post.author_name + (" " + gettext("(officer)") if post.participant_id is None
                                  else "")
        lines.append(f"[{uk_time(post.published_at, 'HH:mm')}] {who}: {post.body}")
    if not posts:
        lines.append(gettext("Nothing was published."))
    unpublished = db.session.scalar(select(func.count(Post.id)).where(
        Post.beat_id == beat.id, Post.state != "published")) or 0
    if unpublished:
        lines.append(gettext("Messages held back or rejected, not shown above: %(num)d",
                             num=unpublished))
    return "\n\n".join(lines)


def close_session(beat: Beat, staff: Staff) -> None:
    """Close ``beat`` (committed): the transcript goes on its case record as an internal
    note, the case is closed, and open pages are told."""
    if beat.status == "closed":
        return
    beat.status = "closed"
    found = db.session.get(Case, beat.case_id)
    cases.add_note(found, staff, transcript(beat))
    cases.set_status(found, staff, "closed")
    db.session.commit()
    announce(beat.id, status="closed")


# -- staff pages ----------------------------------------------------------------------------


@bp.get("/staff/beats")
@staff_required(BEAT)
def staff_beats() -> str:
    """The beat surgeries of the signed-in staff's organisation in their areas, latest
    first."""
    staff: Staff = g.staff
    beats = db.session.scalars(select(Beat).where(beat_scope(staff))
                               .order_by(Beat.starts_at.desc(), Beat.id.desc())
                               .limit(200)).all()
    counts = dict(db.session.execute(
        select(Participant.beat_id, func.count(Participant.id))
        .where(Participant.beat_id.in_([b.id for b in beats]))
        .group_by(Participant.beat_id)).all()) if beats else {}
    return render_template("surgery/beat_staff_list.html", beats=beats, counts=counts,
                           statuses=STATUS_LABELS, tags=STATUS_TAGS, uk_time=uk_time)


def _invitation(beat: Beat, staff: Staff) -> dict[str, str]:
    link = external_url("surgery.beat_page", beat_id=beat.id)
    values = {"officer": staff.name, "area": beat.area.name, "title": beat.title,
              "day": uk_time(beat.starts_at, "EEEE d MMMM yyyy"),
              "start": uk_time(beat.starts_at, "HH:mm"), "end": uk_time(beat.ends_at, "HH:mm"),
              "link": link}
    title = gettext("Online beat surgery: %(title)s", **values)[:200]
    intro = gettext("%(officer)s is holding an online beat surgery for %(area)s on %(day)s, "
                    "from %(start)s to %(end)s. Ask a question or raise a concern with "
                    "your local policing team, under your own name or a name you choose.",
                    **values)
    body = intro + "\n\n" + gettext("[Join the beat surgery](%(link)s) (you will be asked "
                                    "to sign in).", **values)
    plain = intro + " " + gettext("Join it at %(link)s", **values)
    return {"title": title, "body": body, "plain_text": plain[:918]}


def invitation_texts(beat: Beat, staff: Staff) -> dict[str, str | None]:
    """The invitation's fields for :func:`create_message`: English, and Welsh too when
    the Welsh catalogue has its words."""
    with force_locale("en"):
        fields: dict[str, str | None] = dict(_invitation(beat, staff))
    with force_locale("cy"):
        # The same words as in _invitation: translated only once the catalogue has them.
        has_welsh = (gettext("Online beat surgery: %(title)s", title="")
                     != "Online beat surgery: ")
        welsh = _invitation(beat, staff) if has_welsh else {}
    for key in ("title", "body", "plain_text"):
        fields[f"{key}_cy"] = welsh.get(key)
    return fields


def schedule_beat(staff: Staff, area: Area, title: str, starts_at: datetime,
                  ends_at: datetime, moderated: bool = True) -> Beat:
    """Schedule a session of ``staff`` for ``area`` (flushed, not committed): its case
    record (assigned to ``staff``, due when the session ends), the session, and a draft
    invitation to the area's residents (``beat.message_id``) for ``staff`` to check and
    send. Raises :class:`TargetError` when ``staff`` may not message ``area``."""
    organisation = staff.organisation
    record = Case(kind="beat_surgery", organisation_id=organisation.id, team_area_id=area.id,
                  area_id=area.id, topic="beat_surgery", description=title,
                  reply_channel="email", status="assigned", assigned_to_id=staff.id,
                  region=cases.region_of(organisation), submitted_at=utcnow(),
                  due_at=ends_at)
    db.session.add(record)
    db.session.flush()
    beat = Beat(organisation_id=organisation.id, area_id=area.id, officer_id=staff.id,
                title=title, starts_at=starts_at, ends_at=ends_at, moderated=moderated,
                status="scheduled", case_id=record.id)
    db.session.add(beat)
    db.session.flush()
    message = create_message(staff, category="community_news", priority=3,
                             target=Target(areas=[area.code]).to_json(),
                             **invitation_texts(beat, staff))
    db.session.add(message)
    db.session.flush()
    preview_message(message, staff)
    beat.message_id = message.id
    db.session.flush()
    return beat


@bp.route("/staff/beats/new", methods=["GET", "POST"])
@staff_required(BEAT)
def new_beat() -> str | Response:
    """Schedule a session: its case record, the session, and a draft invitation to the
    area's residents, then on to checking and sending the invitation."""
    staff: Staff = g.staff
    form = ScheduleForm(staff)
    if form.validate_on_submit() and form.submit.data:
        try:
            beat = schedule_beat(staff, form.area.area, form.title.data, form.starts.moment,
                                 form.ends.moment, moderated=bool(form.moderated.data))
        except TargetError as exc:
            db.session.rollback()
            form.area.errors = [*form.area.errors, *exc.errors.values()]
        else:
            db.session.commit()
            flash(gettext("The beat surgery is scheduled. Check the invitation to its "
                          "residents and send it."), "success")
            return redirect(url_for("messages.check", message_id=beat.message_id))
    return render_template("surgery/beat_staff_form.html", form=form)


def _staff_page(beat: Beat, post_form: PostForm | None = None) -> str:
    staff: Staff = g.staff
    message = db.session.get(Message, beat.message_id) if beat.message_id else None
    published = published_posts(beat)
    return render_template(
        "surgery/beat_staff_page.html", beat=beat, message=message, published=published,
        held=held_posts(beat), joined=participant_count(beat), limit=max_participants(),
        form=post_form, post_form=post_form or PostForm(formdata=None),
        open_form=OpenForm(formdata=None), close_form=CloseForm(formdata=None),
        moderate_form=ModerateForm(formdata=None), statuses=STATUS_LABELS, tags=STATUS_TAGS,
        uk_time=uk_time, can_see_case=has_permission(staff, "surgery.handle"),
        after=_cursor_id(published[-1].published_at) if published else "")


@bp.get("/staff/beats/<int:beat_id>")
@staff_required(BEAT)
def staff_beat(beat_id: int) -> str:
    """The officer's page of a session: open or close it, post, approve or reject held
    messages, and the transcript so far."""
    return _staff_page(get_staff_beat(g.staff, beat_id))


def _back_to_staff(beat: Beat, message: str, category: str = "success") -> Response:
    if category == "error" and _wants_json():
        response = jsonify({"error": message})
        response.status_code = 409
        return response
    flash(message, category)
    return redirect(url_for("surgery.staff_beat", beat_id=beat.id))


@bp.post("/staff/beats/<int:beat_id>/open")
@staff_required(BEAT)
def open_beat(beat_id: int) -> Response:
    """Open a scheduled session: residents who joined may post."""
    beat = get_staff_beat(g.staff, beat_id)
    form = OpenForm()
    if not (form.validate_on_submit() and form.submit.data):
        return redirect(url_for("surgery.staff_beat", beat_id=beat.id))
    if beat.status != "scheduled":
        return _back_to_staff(beat, gettext("Only a scheduled session can be opened."),
                              "error")
    beat.status = "open"
    db.session.commit()
    announce(beat.id, status="open")
    return _back_to_staff(beat, gettext("The session is open: residents can post."))


@bp.post("/staff/beats/<int:beat_id>/close")
@staff_required(BEAT)
def close_beat(beat_id: int) -> Response:
    """Close a session for good: the transcript goes on its case record."""
    beat = get_staff_beat(g.staff, beat_id)
    form = CloseForm()
    if not (form.validate_on_submit() and form.submit.data):
        return redirect(url_for("surgery.staff_beat", beat_id=beat.id))
    if beat.status == "closed":
        return _back_to_staff(beat, gettext("The session is closed already."), "error")
    close_session(beat, g.staff)
    return _back_to_staff(beat, gettext("The session is closed. Its transcript is on the "
                                        "case record."))


@bp.post("/staff/beats/<int:beat_id>/post")
@staff_required(BEAT)
def staff_post(beat_id: int) -> str | Response:
    """The officer's message to the session, published at once."""
    staff: Staff = g.staff
    beat = get_staff_beat(staff, beat_id)
    form = PostForm()
    if not (form.validate_on_submit() and form.submit.data):
        if _wants_json():
            return _form_errors(form)
        return _staff_page(beat, form)
    if beat.status != "open":
        return _back_to_staff(beat, gettext("The session is not open."), "error")
    now = utcnow()
    post = Post(beat_id=beat.id, staff_id=staff.id, author_name=staff.name[:200],
                body=form.body.data, state="published", at=now, published_at=now)
    db.session.add(post)
    db.session.commit()
    announce(beat.id, post=post.id)
    if _wants_json():
        return jsonify({"post": post_data(post)})
    return _back_to_staff(beat, gettext("Your message is published."))


@bp.post("/staff/beats/<int:beat_id>/moderate")
@staff_required(BEAT)
def moderate_beat(beat_id: int) -> Response:
    """Approve (publish) or reject one held message."""
    beat = get_staff_beat(g.staff, beat_id)
    form = ModerateForm()
    if not (form.validate_on_submit() and (form.approve.data or form.reject.data)):
        return redirect(url_for("surgery.staff_beat", beat_id=beat.id))
    post = db.session.get(Post, form.post_id.data)
    if post is None or post.beat_id != beat.id:
        log_denied("post not of this beat surgery")
        abort(404)
    if post.state != "held" or beat.status == "closed":
        return _back_to_staff(beat, gettext("That message was dealt with already."), "error")
    if form.approve.data:
        publish(post)
        done = gettext("Approved: everyone taking part sees it.")
    else:
        post.state = "rejected"
        done = gettext("Rejected: nobody else will see it.")
    db.session.commit()
    announce(beat.id, post=post.id)
    return _back_to_staff(beat, done)


@bp.get("/staff/beats/<int:beat_id>/stream")
@staff_required(BEAT)
def staff_beat_stream(beat_id: int) -> Response:
    """The session's events for its staff: published and held messages, as they come."""
    beat = get_staff_beat(g.staff, beat_id)
    return event_stream(Viewer(beat.id, staff=True))


# -- residents' pages -----------------------------------------------------------------------


@bp.get("/beats")
@member_required
def beats() -> str:
    """The beat surgeries for the signed-in resident's area that have not ended yet."""
    member: Member = g.member
    found = db.session.scalars(select(Beat).where(member_beats_clause(member),
                                                  Beat.status != "closed")
                               .order_by(Beat.starts_at, Beat.id)).all()
    mine = set(db.session.scalars(select(Participant.beat_id).where(
        Participant.member_id == member.id,
        Participant.beat_id.in_([b.id for b in found])))) if found else set()
    return render_template("surgery/beat_list.html", beats=found, mine=mine,
                           statuses=STATUS_LABELS, tags=STATUS_TAGS, uk_time=uk_time)


def _join_form(member: Member, submitted: bool) -> JoinForm:
    form = JoinForm() if submitted else JoinForm(formdata=None)
    form.appear_as.choices = [
        ("name", gettext("Under your name, %(name)s", name=member.name)),
        ("pseudonym", gettext("Under a name you choose")),
    ]
    return form


def _member_page(beat: Beat, form: FlaskForm | None = None) -> str:
    member: Member = g.member
    participant = participant_of(beat, member)
    posts = posts_for_participant(beat, participant) if participant else []
    published = [p for p in posts if p.state == "published"]
    join_form = form if isinstance(form, JoinForm) else _join_form(member, submitted=False)
    if not isinstance(form, JoinForm):
        join_form.appear_as.data = join_form.appear_as.data or "name"
    post_form = form if isinstance(form, PostForm) else PostForm(formdata=None)
    return render_template(
        "surgery/beat_page.html", beat=beat, participant=participant, posts=posts,
        joined=participant_count(beat), limit=max_participants(), form=form,
        join_form=join_form, post_form=post_form, statuses=STATUS_LABELS, tags=STATUS_TAGS,
        uk_time=uk_time,
        after=_cursor_id(max(p.published_at for p in published)) if published else "")


@bp.get("/beats/<int:beat_id>")
@member_required
def beat_page(beat_id: int) -> str:
    """A session's page for a resident of its area: join it; once joined, its messages
    and a form to post."""
    return _member_page(get_member_beat(g.member, beat_id))


def _back_to_beat(beat: Beat, message: str, category: str = "success") -> Response:
    if category == "error" and _wants_json():
        response = jsonify({"error": message})
        response.status_code = 409
        return response
    flash(message, category)
    return redirect(url_for("surgery.beat_page", beat_id=beat.id) + "#messages")


@bp.post("/beats/<int:beat_id>/join")
@member_required
def join_beat(beat_id: int) -> str | Response:
    """Join a session under the resident's name or a name they choose; refused when it is
    full or over."""
    member: Member = g.member
    beat = get_member_beat(member, beat_id)
    form = _join_form(member, submitted=True)
    if not (form.validate_on_submit() and form.submit.data):
        return _member_page(beat, form)
    if participant_of(beat, member) is not None:
        return _back_to_beat(beat, gettext("You have joined this beat surgery already."))
    if beat.status == "closed":
        return _back_to_beat(beat, gettext("This beat surgery has ended."), "error")
    # A name typed in counts even with "Under your name" chosen: showing the real name
    # to someone who meant to hide it would be the worse mistake.
    pseudonym = form.appear_as.data == "pseudonym" or bool(form.display_name.data)
    if pseudonym:
        name = form.display_name.data or ""
        if not name:
            form.display_name.errors = [gettext("Enter the name to show")]
            return _member_page(beat, form)
    else:
        name = member.name.strip()[:NAME_MAX]
    if refusal := name_refusal(beat, name, member):
        field_ = form.display_name if pseudonym else form.appear_as
        field_.errors = [refusal]
        return _member_page(beat, form)
    # Lock the session's row (PostgreSQL) so that two joining at once cannot both take
    # the last place.
    db.session.scalar(select(Beat.id).where(Beat.id == beat.id).with_for_update())
    if participant_count(beat) >= max_participants():
        db.session.rollback()
        return _back_to_beat(beat, gettext(
            "This beat surgery is full: %(num)d people are taking part already, the most "
            "it can take. You can still read its transcript later or raise a concern "
            "with your local policing team.", num=max_participants()), "error")
    db.session.add(Participant(beat_id=beat.id, member_id=member.id, display_name=name))
    try:
        db.session.commit()
    except IntegrityError:  # joined twice at once
        db.session.rollback()
    return _back_to_beat(beat, gettext("You have joined as %(name)s.", name=name))


def _too_fast(participant: Participant) -> bool:
    since = utcnow() - timedelta(minutes=1)
    recent = db.session.scalar(select(func.count(Post.id)).where(
        Post.participant_id == participant.id, Post.at > since)) or 0
    return recent >= posts_per_minute()


@bp.post("/beats/<int:beat_id>/post")
@member_required
def post_beat(beat_id: int) -> str | Response:
    """A participant's message: held for the officer in a moderated session, else
    published at once. Only while the session is open."""
    member: Member = g.member
    beat = get_member_beat(member, beat_id)
    participant = participant_of(beat, member)
    form = PostForm()
    if not (form.validate_on_submit() and form.submit.data):
        if _wants_json():
            return _form_errors(form)
        return _member_page(beat, form)
    if participant is None:
        return _back_to_beat(beat, gettext("Join the beat surgery before you post."), "error")
    if beat.status != "open":
        return _back_to_beat(beat, gettext("You can post only while the session is open."),
                             "error")
    if _too_fast(participant):
        return _back_to_beat(beat, gettext("You are posting very quickly. Wait a minute, "
                                           "then send your message again."), "error")
    now = utcnow()
    post = Post(beat_id=beat.id, participant_id=participant.id,
                author_name=participant.display_name, body=form.body.data, at=now,
                state="held" if beat.moderated else "published",
                published_at=None if beat.moderated else now)
    db.session.add(post)
    db.session.commit()
    announce(beat.id, post=post.id)
    if _wants_json():
        return jsonify({"post": post_data(post, participant.id)})
    if post.state == "held":
        return _back_to_beat(beat, gettext("Your message is waiting for the officer's "
                                           "approval. Others will see it once it is "
                                           "approved."))
    return _back_to_beat(beat, gettext("Your message is published."))


@bp.get("/beats/<int:beat_id>/stream")
@member_required
def beat_stream(beat_id: int) -> Response:
    """The session's events for a participant: published messages and their own held
    ones, as they come. Only for residents who joined."""
    member: Member = g.member
    beat = get_member_beat(member, beat_id)
    participant = participant_of(beat, member)
    if participant is None:
        log_denied("not a participant of the beat surgery")
        abort(404)
    return event_stream(Viewer(beat.id, participant_id=participant.id))
