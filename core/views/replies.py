"""Replies to alerts: the resident's reply and rating pages (a signed link, no sign-in),
the inbound email webhook, and the staff inboxes where replies are dealt with."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import wtforms
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, literal, or_, select
from werkzeug.wrappers import Response
from wtforms.validators import DataRequired, InputRequired, Length

from core.access import has_permission, log_denied, public, staff_required
from core.extensions import csrf, db, limiter
from core.forms import GovCheckboxInput, GovRadioInput, GovSelect, GovSubmitInput, GovTextArea
from core.models import (
    LANGUAGES,
    REPLY_STATES,
    Area,
    Member,
    Message,
    Reply,
    Staff,
    staff_area,
)
from core.replies import (
    MAX_REPLY_LENGTH,
    ReplyLink,
    answer_reply,
    current_rating,
    message_ratings,
    rate,
    ratings_by_sender,
    read_reply_link,
    take_email,
    take_reply,
)
from core.scoping import get_scoped_reply, log_access, reply_scope, scoped_members

bp = Blueprint("replies", __name__)

STATE_LABELS = {"open": _l("Open"), "pending": _l("Pending"), "closed": _l("Closed")}
VIA_LABELS = {"web": _l("Reply link"), "email": _l("Email")}
SHOW_LABELS = [("team", _l("All replies to my teams")), ("mine", _l("Mine: my messages and "
               "replies assigned to me")), ("flagged", _l("Flagged"))]


# -- forms -----------------------------------------------------------------------------------


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class ReplyForm(FlaskForm):
    """What a resident says: only their text and whether they may be contacted."""

    body = wtforms.TextAreaField(
        _l("Your reply"),
        [DataRequired(message=_l("Write your reply")),
         Length(max=MAX_REPLY_LENGTH, message=_l("Keep your reply to 5,000 characters"))],
        filters=[_strip], widget=GovTextArea(),
        description=_l("What you saw or know: where, when, and anything that may help."))
    may_contact = wtforms.BooleanField(
        _l("You may contact me about this"), widget=GovCheckboxInput(),
        description=_l("We use the contact details we already hold for you."))
    submit = wtforms.SubmitField(_l("Send reply"), widget=GovSubmitInput())


class RatingForm(FlaskForm):
    """The button that records a rating (only a POST counts)."""

    submit = wtforms.SubmitField(_l("Confirm"), widget=GovSubmitInput())


class NoteForm(FlaskForm):
    """An internal note, for staff only."""

    note = wtforms.TextAreaField(
        _l("Internal note"),
        [DataRequired(message=_l("Write the note")), Length(max=MAX_REPLY_LENGTH)],
        filters=[_strip], widget=GovTextArea(),
        description=_l("Only staff see notes. They are never sent to the resident."))
    submit = wtforms.SubmitField(_l("Add note"), widget=GovSubmitInput())


class AnswerForm(FlaskForm):
    """A public answer, sent to the resident."""

    answer = wtforms.TextAreaField(
        _l("Answer to the resident"),
        [DataRequired(message=_l("Write the answer")),
         Length(max=2000, message=_l("Keep the answer to 2,000 characters"))],
        filters=[_strip], widget=GovTextArea(),
        description=_l("Sent to the resident by email or text message, as they chose."))
    submit = wtforms.SubmitField(_l("Send answer"), widget=GovSubmitInput())


class TicketForm(FlaskForm):
    """A reply's state, assignee and flag; the assignee choices are set per reply."""

    state = wtforms.RadioField(
        _l("State"), choices=[(s, STATE_LABELS[s]) for s in REPLY_STATES],
        validators=[InputRequired(message=_l("Choose a state"))], widget=GovRadioInput())
    assignee = wtforms.SelectField(_l("Assigned to"), choices=[], widget=GovSelect())
    flagged = wtforms.BooleanField(_l("Flagged"), widget=GovCheckboxInput())
    submit = wtforms.SubmitField(_l("Save"), widget=GovSubmitInput())


class InboxFilterForm(FlaskForm):
    """The inbox's filters, read from the query string."""

    class Meta:
        csrf = False

    show = wtforms.SelectField(_l("Show"), choices=SHOW_LABELS, default="team",
                               widget=GovSelect())
    state = wtforms.SelectField(
        _l("State"), choices=[("", _l("Any state"))] + [(s, STATE_LABELS[s]) for s in
                                                          REPLY_STATES],
        default="", widget=GovSelect())
    message = wtforms.IntegerField(widget=wtforms.widgets.HiddenInput(),
                                   validators=[wtforms.validators.Optional()])


# -- the resident's pages ----------------------------------------------------------------------


def _language(member: Member) -> str:
    """The language of a resident's page: one chosen on the site, else the member's."""
    chosen = request.args.get("lang") or session.get("lang")
    return chosen if chosen in LANGUAGES else member.language


def _title(message: Message, language: str) -> str:
    return message.title_cy if language == "cy" and message.title_cy else message.title


def _link_problem(link: ReplyLink) -> tuple[str, int]:
    """A forged link gets 400; an expired one, or one whose message or resident is gone,
    410."""
    if link.problem == "forged":
        log_denied("forged reply link")
        return render_template("replies/link_problem.html", expired=False), 400
    return render_template("replies/link_problem.html", expired=True), 410


def _reply_limit() -> str:
    return current_app.config["REPLY_LIMIT"]


def _link_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return "reply:" + hashlib.sha256(token.encode()).hexdigest()[:32]


@bp.route("/reply/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_reply_limit, key_func=_link_key, methods=["POST"])
def reply(token: str) -> str | Response | tuple[str, int]:
    """The reply form of an alert's "Reply to the sender" link: no sign-in, and nothing
    asked that the platform already holds."""
    link = read_reply_link(token)
    if link.problem:
        return _link_problem(link)
    message, member = link.message, link.member
    assert message is not None and member is not None
    form = ReplyForm()
    if form.validate_on_submit():
        take_reply(message, member, form.body.data, "web", bool(form.may_contact.data))
        db.session.commit()
        return redirect(url_for("replies.sent"))
    language = _language(member)
    with force_locale(language):
        return render_template("replies/reply.html", form=form, message=message,
                               title=_title(message, language), token=token)


@bp.get("/reply-sent")
@public
def sent() -> str:
    """Thanks for a reply."""
    return render_template("replies/sent.html")


def _rating_page(token: str, useful: bool) -> str | Response | tuple[str, int]:
    link = read_reply_link(token)
    if link.problem:
        return _link_problem(link)
    message, member = link.message, link.member
    assert message is not None and member is not None
    form = RatingForm()
    # Only a POST records a rating: mail scanners that open every link must not vote.
    if form.validate_on_submit():
        rate(message, member, useful)
        with force_locale(_language(member)):
            flash(_("Thank you: your rating is recorded"), "success")
        endpoint = "replies.rate_useful" if useful else "replies.rate_not_useful"
        return redirect(url_for(endpoint, token=token))
    language = _language(member)
    with force_locale(language):
        return render_template("replies/rate.html", form=form, useful=useful, token=token,
                               title=_title(message, language),
                               current=current_rating(message, member))


@bp.route("/reply/<token>/useful", methods=["GET", "POST"])
@public
def rate_useful(token: str) -> str | Response | tuple[str, int]:
    """Rate an alert useful: GET asks for confirmation, POST records it."""
    return _rating_page(token, True)


@bp.route("/reply/<token>/not-useful", methods=["GET", "POST"])
@public
def rate_not_useful(token: str) -> str | Response | tuple[str, int]:
    """Rate an alert not useful: GET asks for confirmation, POST records it."""
    return _rating_page(token, False)


# -- inbound email ---------------------------------------------------------------------------


def _problem(status: int, reason: str) -> tuple[Response, int]:
    return jsonify({"error": reason}), status


@bp.post("/inbound/email")
@public
@csrf.exempt  # posted by the mail system with a bearer token of ours, not a form
def inbound_email() -> tuple[Response, int]:
    """Take in an emailed reply: the raw RFC 822 message as the body (``message/rfc822``)
    or as the form field or file ``email``, with ``Authorization: Bearer
    <INBOUND_EMAIL_TOKEN>``."""
    expected = current_app.config.get("INBOUND_EMAIL_TOKEN")
    if not expected:
        log_denied("inbound email webhook not configured")
        abort(404)
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not hmac.compare_digest(
            given.removeprefix("Bearer ").encode(), str(expected).encode()):
        log_denied("bad inbound email token")
        return _problem(401, "a valid bearer token is required")
    if request.mimetype == "message/rfc822":
        raw = request.get_data()
    elif "email" in request.files:
        raw = request.files["email"].read()
    else:
        raw = request.form.get("email", "").encode()
    if not raw.strip():
        return _problem(400, "no email: send it as message/rfc822 or the form field email")
    outcome = take_email(raw)
    if outcome.reply is None:
        return _problem(422, outcome.reason)
    return jsonify({"reply": outcome.reply.id, "duplicate": outcome.duplicate}), 200


# -- staff inboxes ---------------------------------------------------------------------------


@bp.get("/staff/replies/")
@staff_required("core.messages.send")
def inbox() -> str:
    """Replies to the teams of the signed-in staff, with filters."""
    staff: Staff = g.staff
    form = InboxFilterForm(request.args)
    form.validate()
    query = select(Reply).where(reply_scope(staff))
    show = form.show.data if form.show.data in dict(SHOW_LABELS) else "team"
    if show == "mine":
        own = select(Message.id).where(Message.sender_id == staff.id)
        query = query.where(or_(Reply.assignee_id == staff.id, Reply.message_id.in_(own)))
    elif show == "flagged":
        query = query.where(Reply.flagged.is_(True))
    if form.state.data in REPLY_STATES:
        query = query.where(Reply.state == form.state.data)
    if form.message.data:
        query = query.where(Reply.message_id == form.message.data)
    replies = db.session.scalars(
        query.order_by(Reply.received_at.desc(), Reply.id.desc()).limit(200)).all()
    return render_template("replies/inbox.html", replies=replies, form=form, show=show,
                           states=STATE_LABELS, via=VIA_LABELS)


def _assignee_choices(reply: Reply) -> list[tuple[str, str]]:
    """Staff who may be given ``reply``: active accounts of its organisation who can see
    it (working in its team's or escalation team's area, or above) and write messages."""
    paths = [a.path for a in (reply.team_area, reply.escalated_area) if a is not None]
    over = [literal(path).startswith(Area.path) for path in paths]
    found: dict[int, Staff] = {}
    if over:
        found = {s.id: s for s in db.session.scalars(
            select(Staff).join(staff_area, staff_area.c.staff_id == Staff.id)
            .join(Area, Area.id == staff_area.c.area_id)
            .where(Staff.organisation_id == reply.organisation_id, Staff.active.is_(True),
                   or_(*over)))}
    sender = reply.message.sender
    if sender is not None and sender.active and sender.organisation_id == reply.organisation_id:
        found.setdefault(sender.id, sender)
    people = sorted((s for s in found.values() if has_permission(s, "core.messages.send")),
                    key=lambda s: (s.name.lower(), s.id))
    return [("", _("Nobody"))] + [(str(s.id), s.name) for s in people]


def _show(reply: Reply, failed: FlaskForm | None = None) -> str:
    staff: Staff = g.staff
    note_form = failed if isinstance(failed, NoteForm) else NoteForm(formdata=None)
    answer_form = failed if isinstance(failed, AnswerForm) else AnswerForm(formdata=None)
    ticket_form = failed if isinstance(failed, TicketForm) else TicketForm(formdata=None)
    if failed is None or not isinstance(failed, TicketForm):
        ticket_form.state.data = reply.state
        ticket_form.assignee.data = str(reply.assignee_id or "")
        ticket_form.flagged.data = reply.flagged
    ticket_form.assignee.choices = _assignee_choices(reply)
    resident = None
    if has_permission(staff, "core.members.view"):
        resident = db.session.scalar(scoped_members(staff).where(Member.id == reply.member_id))
        if resident is not None and failed is None:
            # Shown like the member's page, so recorded like it, for the resident to see
            # (a form sent back with errors shows again what that view showed).
            log_access(staff, "view", [resident.id])
            db.session.commit()
    return render_template("replies/show.html", reply=reply, resident=resident,
                           note_form=note_form, answer_form=answer_form,
                           ticket_form=ticket_form, form=failed, states=STATE_LABELS,
                           via=VIA_LABELS,
                           can_view_member=has_permission(staff, "core.members.view"))


@bp.get("/staff/replies/<int:reply_id>")
@staff_required("core.messages.send")
def show(reply_id: int) -> str:
    """A reply, its notes and answers, and the forms to deal with it."""
    return _show(get_scoped_reply(g.staff, reply_id))


@bp.post("/staff/replies/<int:reply_id>/notes")
@staff_required("core.messages.send")
def add_note(reply_id: int) -> str | Response:
    """Add an internal note (never sent to the resident)."""
    from core.models import ReplyNote

    staff: Staff = g.staff
    reply = get_scoped_reply(staff, reply_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _show(reply, form)
    db.session.add(ReplyNote(reply_id=reply.id, staff_id=staff.id, text=form.note.data))
    db.session.commit()
    flash(_("Note added. Only staff can see it."), "success")
    return redirect(url_for("replies.show", reply_id=reply.id))


@bp.post("/staff/replies/<int:reply_id>/answer")
@staff_required("core.messages.send")
def answer(reply_id: int) -> str | Response:
    """Send a public answer to the resident."""
    staff: Staff = g.staff
    reply = get_scoped_reply(staff, reply_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _show(reply, form)
    answer_reply(reply, staff, form.answer.data)
    flash(_("Answer sent to the resident"), "success")
    return redirect(url_for("replies.show", reply_id=reply.id))


@bp.post("/staff/replies/<int:reply_id>/ticket")
@staff_required("core.messages.send")
def update(reply_id: int) -> str | Response:
    """Change a reply's state, assignee and flag."""
    staff: Staff = g.staff
    reply = get_scoped_reply(staff, reply_id)
    form = TicketForm()
    form.assignee.choices = _assignee_choices(reply)
    if not form.validate_on_submit():
        return _show(reply, form)
    reply.state = form.state.data
    reply.assignee_id = int(form.assignee.data) if form.assignee.data else None
    reply.flagged = bool(form.flagged.data)
    db.session.commit()
    flash(_("Saved"), "success")
    return redirect(url_for("replies.show", reply_id=reply.id))


@bp.get("/staff/replies/ratings")
@staff_required("core.messages.send")
def ratings() -> str:
    """Residents' ratings per sender, over the messages the signed-in staff may see."""
    return render_template("replies/ratings.html", rows=ratings_by_sender(g.staff))


@bp.app_template_global()
def message_feedback(message: Message) -> dict[str, Any]:
    """Ratings and replies of ``message`` for its staff page (messages/show.html, which
    shows only messages the signed-in staff may see); replies counted in their scope."""
    useful, not_useful = message_ratings(message.id)
    staff = g.get("staff")
    replies = 0
    if isinstance(staff, Staff):
        replies = db.session.scalar(
            select(func.count()).select_from(Reply)
            .where(Reply.message_id == message.id, reply_scope(staff))) or 0
    return {"useful": useful, "not_useful": not_useful, "replies": replies}
