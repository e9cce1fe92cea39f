"""The surgery's tables: cases and what was written on them, and live beat surgeries.

A *case* is one concern a resident raised (or someone raised for them at a community
centre), routed to the team whose area covers it. Everything written on a case is an
*entry*: the resident's own words and later additions, staff's public replies, and
internal notes and events (assignment, status, merging, escalation) that the resident
never sees. A *beat surgery* is a live online chat an officer holds for an area; its
transcript is kept on a case of its own (``kind = "beat_surgery"``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.api import Area, Member, Organisation, Staff, UTCDateTime, db, utcnow

#: A case's statuses, in the order a case usually moves through them.
STATUSES = ("new", "assigned", "awaiting_resident", "answered", "closed")
#: Statuses of a case still waiting for the team (the service level runs on these).
OPEN_STATUSES = ("new", "assigned", "awaiting_resident")

#: How a reply reaches the person who raised a case. A resident signed in chooses email
#: or text message; someone helped at a community centre may also choose a phone call,
#: a letter or collecting it at the centre (staff or the volunteer pass it on).
REPLY_CHANNELS = ("email", "sms", "phone", "post", "collect")

#: Kinds of entry the person who raised the case sees (page, notifications, download).
PUBLIC_KINDS = ("resident", "reply")
#: Every kind of entry: the public ones, then staff-only notes and recorded events.
ENTRY_KINDS = PUBLIC_KINDS + ("note", "assigned", "status", "merged", "escalated")


class Case(db.Model):
    """A concern raised with a local policing team, and where it stands."""

    __tablename__ = "surgery_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "concern", or "beat_surgery" for the record of a live session.
    kind: Mapped[str] = mapped_column(String(16), default="concern")
    #: The organisation and team (one of its staff's areas) the case was routed to.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    team_area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    #: Where the concern is: the given location's area, else the resident's own.
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    #: The resident who raised it; None when raised for someone without an account.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(Text)
    #: Optional: where it happens, in words, and its postcode (standard form).
    location: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str | None] = mapped_column(String(10))
    reply_channel: Mapped[str] = mapped_column(String(16), default="email")

    # Assisted-digital: who was helped, and how the reply gets back to them.
    requester_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_address: Mapped[str | None] = mapped_column(Text)
    collect_at: Mapped[str | None] = mapped_column(String(200))
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    #: The bank holiday calendar the due date was counted on (sla.REGIONS).
    region: Mapped[str] = mapped_column(String(32), default="england-and-wales")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What supervisors were last told of the case: "due-soon" or "overdue" (each once),
    #: and when.
    escalation: Mapped[str | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The case this one was merged into as a duplicate (it is then closed).
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("surgery_case.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    team_area: Mapped[Area] = relationship(foreign_keys=[team_area_id], lazy="joined")
    area: Mapped[Area] = relationship(foreign_keys=[area_id], lazy="joined")
    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    assigned_to: Mapped[Staff | None] = relationship(foreign_keys=[assigned_to_id])
    submitted_by: Mapped[Staff | None] = relationship(foreign_keys=[submitted_by_id])

    @property
    def reference(self) -> str:
        """The case's reference as residents and staff quote it."""
        return f"SUR-{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def person_name(self) -> str:
        """Who raised the case: the resident, or the person helped at a centre."""
        if self.member is not None:
            return self.member.name
        return self.requester_name or ""


class Entry(db.Model):
    """One thing written or done on a case; only ``PUBLIC_KINDS`` reach the resident."""

    __tablename__ = "surgery_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("surgery_case.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    #: The staff member who wrote it or acted; None for the resident's own entries.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: For replies: the channels the resident was told over, and why any failed.
    notified: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(255))

    staff: Mapped[Staff | None] = relationship()


class Beat(db.Model):
    """A live beat surgery: an officer's online chat with the residents of an area."""

    __tablename__ = "surgery_beat"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Residents' messages wait for the officer's approval before others see them.
    moderated: Mapped[bool] = mapped_column(Boolean, default=True)
    #: "scheduled", "open" (the officer opened it) or "closed".
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    #: The case record that keeps the transcript.
    case_id: Mapped[int] = mapped_column(ForeignKey("surgery_case.id"), index=True)
    #: The invitation (a core message, sent through messaging as any other).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    area: Mapped[Area] = relationship(lazy="joined")
    officer: Mapped[Staff | None] = relationship()
    case: Mapped[Case] = relationship()


class Participant(db.Model):
    """A resident taking part in a beat surgery, under their name or a pseudonym."""

    __tablename__ = "surgery_participant"
    __table_args__ = (UniqueConstraint("beat_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beat_id: Mapped[int] = mapped_column(ForeignKey("surgery_beat.id", ondelete="CASCADE"),
                                         index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                           index=True)
    display_name: Mapped[str] = mapped_column(String(60))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(db.Model):
    """One chat message in a beat surgery: "held" for moderation, "published" or
    "rejected"."""

    __tablename__ = "surgery_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    beat_id: Mapped[int] = mapped_column(ForeignKey("surgery_beat.id", ondelete="CASCADE"),
                                         index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("surgery_participant.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    #: The name shown to others: the participant's chosen name, or the officer's.
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="published", index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


MODELS = [Case, Entry, Beat, Participant, Post]
