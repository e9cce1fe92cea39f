"""Asking residents: rounds, their daily batches of invitations, and the repeat schedule.

A round aims at a message target chosen on the core's compose form. Its invitations are
spread over ``invite_days`` days: each day's batch takes an even share of the members
the target reaches who were not invited yet, records them as invitations and sends them
one message (through the messaging pipeline: consent, opt-outs, channels, quiet hours)
whose target is the round's plus the rule "invited in this batch". The first batch's
message is checked, approved where the force requires it and sent by staff; the later
batches follow it, once it went out, as ``commonwatch surveys run`` finds them due.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import wtforms
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import exists, func, insert, literal, select
from wtforms.validators import InputRequired, NumberRange, Optional

from core.api import (
    PERSONAL_STAND_IN,
    Member,
    Message,
    RuleFilter,
    Staff,
    Target,
    create_message,
    db,
    message_recipients,
    notify_staff,
    send_message,
    utcnow,
)
from core.api import lazy_gettext as _l
from plugins.surveys.models import Batch, Invitation, Round, Survey

#: The targeting rule that narrows an invitation message to one batch (or one round).
INVITED_RULE = "surveys.invited"
#: Messages whose delivery is under way or done: a round's later batches wait for this.
SENT_STATES = ("sending", "sent")


class InvitedForm(wtforms.Form):
    """Parameters of the "invited to a survey" rule."""

    round = wtforms.IntegerField(_l("Survey round (its id)"),
                                 [InputRequired(), NumberRange(min=1)])
    batch = wtforms.IntegerField(_l("Only the batch with this id (optional)"),
                                 [Optional(), NumberRange(min=1)])


def invited_rule(params: dict[str, Any]) -> RuleFilter:
    """Members invited to round ``params["round"]`` (in batch ``params["batch"]`` when
    given)."""
    query = select(Invitation.id).where(Invitation.member_id == Member.id,
                                        Invitation.round_id == int(params["round"]))
    if params.get("batch"):
        query = query.where(Invitation.batch_id == int(params["batch"]))
    return RuleFilter(exists(query), f"invited to survey round {params['round']}")


def _batch_target(round_: Round, batch: Batch) -> dict[str, Any]:
    target = Target.from_json(round_.target)
    target.rules = [*target.rules, {"name": INVITED_RULE, "mode": "must",
                                    "params": {"round": round_.id, "batch": batch.id}}]
    return target.to_json()


def _eligible(round_: Round, sender: Staff, category: str, priority: int) -> Any:
    """A SELECT of the ids of the members the round's target reaches (raises
    core TargetError for a target outside the sender's scope)."""
    probe = Message(target=round_.target, category=category, priority=priority)
    return message_recipients(probe, sender)


def choose_batch(round_: Round, batch: Batch, sender: Staff, category: str, priority: int,
                 days_left: int) -> int:
    """Invite an even share of the members the round reaches who were not invited yet
    (all of them on the last day) in ``batch``; returns how many."""
    eligible = _eligible(round_, sender, category, priority).where(
        ~exists(select(Invitation.id).where(Invitation.round_id == round_.id,
                                            Invitation.member_id == Member.id)))
    remaining = db.session.scalar(select(func.count()).select_from(eligible.subquery())) or 0
    share = remaining if days_left <= 1 else math.ceil(remaining / days_left)
    if share == 0:
        return 0
    chosen = (eligible.with_only_columns(Member.id, Member.area_id)
              .order_by(func.random()).limit(share).subquery())
    db.session.execute(insert(Invitation).from_select(
        ["round_id", "batch_id", "member_id", "area_id"],
        select(literal(round_.id), literal(batch.id), chosen.c.id, chosen.c.area_id)))
    return share


def invitation_texts(survey: Survey) -> dict[str, str | None]:
    """The invitation's default words, with each member's own link to the survey."""
    link = PERSONAL_STAND_IN
    intro = survey.introduction.strip()
    texts: dict[str, str | None] = {
        "title": f"Survey: {survey.title}"[:200],
        "body": (f"{intro}\n\n" if intro else "")
        + f"[Answer the survey]({link}). It takes a few minutes; the link is yours alone.",
        "plain_text": f"{survey.title}: please answer our short survey at {link}",
    }
    if survey.title_cy:
        intro_cy = (survey.introduction_cy or "").strip()
        texts.update({
            "title_cy": f"Arolwg: {survey.title_cy}"[:200],
            "body_cy": (f"{intro_cy}\n\n" if intro_cy else "")
            + f"[Atebwch yr arolwg]({link}). Mae'n cymryd ychydig funudau; chi yn unig "
              "biau'r ddolen.",
            "plain_text_cy": f"{survey.title_cy}: atebwch ein harolwg byr yn {link}",
        })
    return texts


def start_round(survey: Survey, sender: Staff, target: Target, message_fields: dict[str, Any],
                invite_days: int | None = None, scheduled: bool = False) -> Round:
    """Open the survey's next round aimed at ``target`` and choose its first batch, with a
    draft invitation message from ``sender`` (``message_fields``: its texts, category,
    priority...) for staff to check and send. Not committed. Raises core TargetError
    for a target outside ``sender``'s areas."""
    now = utcnow()
    number = (db.session.scalar(select(func.max(Round.number))
                                .where(Round.survey_id == survey.id)) or 0) + 1
    round_ = Round(survey=survey, number=number, sender_id=sender.id, target=target.to_json(),
                   invite_days=invite_days or survey.invite_days, opens_at=now,
                   closes_at=now + timedelta(days=survey.round_days), scheduled=scheduled)
    db.session.add(round_)
    db.session.flush()
    batch = Batch(round=round_, day=0)
    db.session.add(batch)
    db.session.flush()
    fields = {"category": "community_news", "priority": 4, **message_fields, "public": False}
    choose_batch(round_, batch, sender, fields["category"], int(fields["priority"]),
                 round_.invite_days)
    message = create_message(sender, target=_batch_target(round_, batch), **fields)
    db.session.add(message)
    db.session.flush()
    batch.message_id = message.id
    return round_


def first_message(round_: Round) -> Message | None:
    """The message of the round's first batch (None if it was deleted)."""
    first = next((b for b in round_.batches if b.day == 0), None)
    return db.session.get(Message, first.message_id) if first and first.message_id else None


def _copied_fields(message: Message) -> dict[str, Any]:
    """The words, category and priority of an invitation, for the next one."""
    return {k: getattr(message, k) for k in (
        "title", "body", "plain_text", "title_cy", "body_cy", "plain_text_cy",
        "category", "priority")}


def is_open(round_: Round, at: datetime | None = None) -> bool:
    """Whether the round takes answers at ``at`` (now)."""
    at = at or utcnow()
    return round_.opens_at <= at < round_.closes_at


def send_due_batches(at: datetime | None = None) -> int:
    """Send each open round's next daily batch once its first went out and a day has
    passed since the last; returns how many batches were sent."""
    at = at or utcnow()
    sent = 0
    rounds = db.session.scalars(select(Round).where(Round.closes_at > at)).all()
    for round_ in rounds:
        first = first_message(round_)
        if first is None or first.status not in SENT_STATES or first.sent_at is None:
            continue
        last = round_.batches[-1]
        day = last.day + 1
        if day >= round_.invite_days or at < first.sent_at + timedelta(days=day):
            continue
        sender = db.session.get(Staff, round_.sender_id) if round_.sender_id else None
        if sender is None or not sender.active:
            continue
        batch = Batch(round=round_, day=day)
        db.session.add(batch)
        db.session.flush()
        chose = choose_batch(round_, batch, sender, first.category, first.priority,
                             round_.invite_days - day)
        message = create_message(sender, target=_batch_target(round_, batch), public=False,
                                 **_copied_fields(first))
        db.session.add(message)
        db.session.flush()
        batch.message_id = message.id
        db.session.commit()
        if chose:
            send_message(message, sender)
        else:
            message.status = "sent"
            message.sent_at = at
            message.recipient_count = 0
            db.session.commit()
        sent += 1
    return sent


def start_due_rounds(at: datetime | None = None) -> int:
    """Open the next round of each repeating survey whose last round began
    ``repeat_months`` ago, aimed as that round was, with a draft invitation for its
    sender to check and send (they are emailed); returns how many were opened."""
    from core.api import TargetError, external_url

    at = at or utcnow()
    opened = 0
    for survey in db.session.scalars(select(Survey).where(Survey.repeat_months.is_not(None))):
        if not survey.rounds:
            continue
        last = survey.rounds[-1]
        due = last.opens_at + relativedelta(months=int(survey.repeat_months or 0))
        sender = db.session.get(Staff, last.sender_id) if last.sender_id else None
        previous = first_message(last)
        if at < due or sender is None or not sender.active or previous is None:
            continue
        try:
            round_ = start_round(survey, sender, Target.from_json(last.target),
                                 _copied_fields(previous),
                                 invite_days=last.invite_days, scheduled=True)
        except TargetError:
            db.session.rollback()
            current_app.logger.warning("survey %s: round not opened, target refused", survey.id)
            continue
        db.session.commit()
        message = first_message(round_)
        if message is not None:
            notify_staff(sender, f"Round {round_.number} of “{survey.title}” is ready to send",
                         "The survey's next round has opened on its schedule. Check its "
                         "invitation and send it.",
                         link=external_url("messages.check", message_id=message.id))
        opened += 1
    return opened


def round_of_message(message_id: int) -> Round | None:
    """The round a survey invitation message belongs to, or None for other messages."""
    return db.session.scalar(select(Round).join(Batch, Batch.round_id == Round.id)
                             .where(Batch.message_id == message_id))
