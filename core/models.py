"""The core's tables: organisations, areas, postcodes, members and staff.

Plugins add tables of their own (named ``<plugin>_...``) and may point foreign keys at
these, but never alter them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from core.extensions import db


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no
    zone, PostgreSQL does; code and exports see the same either way)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


#: Kinds of organisation that share a platform.
ORGANISATION_KINDS = ("police", "fire", "council", "watch_association", "pcc", "other")

#: Staff roles, most powerful first.
ROLES = ("system_admin", "force_admin", "supervisor", "officer", "coordinator")

#: Ways a resident can be reached.
CHANNELS = ("email", "sms", "voice", "push")

LANGUAGES = ("en", "cy")


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable identifier used in exports and configuration.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="police")

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"


class Area(db.Model):
    """A place at one level of the hierarchy (force > district > ward > street)."""

    __tablename__ = "area"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ONS GSS code where there is one; otherwise the force's own code.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(32), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    #: Materialised path of ids, "/1/4/17/": descendants are one indexed prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    households: Mapped[int | None] = mapped_column(Integer)
    #: GeoJSON geometry (Polygon or MultiPolygon), as text.
    boundary: Mapped[str | None] = mapped_column(Text)

    parent: Mapped[Area | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Area {self.code} {self.name}>"


class Postcode(db.Model):
    __tablename__ = "postcode"

    #: Normalised: upper case, one space before the inward code ("AL1 3AH").
    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]

    area: Mapped[Area] = relationship(lazy="joined")


class Member(UserMixin, db.Model):
    """A resident who receives alerts."""

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased so sign-in and uniqueness ignore case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: None until a resident registered on the doorstep confirms and sets one.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    address_line: Mapped[str] = mapped_column(String(255), default="")
    postcode: Mapped[str] = mapped_column(String(8))
    #: The street (or lowest known area) the postcode resolves to.
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    #: E.164, e.g. "+447700900123".
    phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2), default="en")
    #: Lowest priority the member wants: 1 urgent ... 5 low. 5 means everything.
    min_priority: Mapped[int] = mapped_column(Integer, default=5)
    #: Set when the address or number kept failing permanently; cleared when it changes.
    email_invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Non-urgent messages only in the daily digest.
    digest_only: Mapped[bool] = mapped_column(Boolean, default=False,
                                              server_default=false())
    #: Optional demographics the member gave; keys in docs/members-and-staff.md.
    demographics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: They let their app report where they are, for alerts to "people currently in an
    #: area" (core.locations).
    location_alerts: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())
    privacy_notice_version: Mapped[str] = mapped_column(String(20))
    privacy_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when the member opted out of everything; nothing is sent while it is set.
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "self", "doorstep" or "import".
    registration_method: Mapped[str] = mapped_column(String(16), default="self")
    registered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: Last TOTP time step accepted, so a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    #: Bumped on password change: sessions carrying an older value end.
    auth_version: Mapped[int] = mapped_column(Integer, default=0)

    area: Mapped[Area] = relationship(lazy="joined")
    channels: Mapped[list[MemberChannel]] = relationship(
        cascade="all, delete-orphan", back_populates="member", lazy="selectin"
    )
    interests: Mapped[list[MemberInterest]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    field_values: Mapped[list[MemberFieldValue]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    consents: Mapped[list[MemberConsent]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    kind = "member"

    def get_id(self) -> str:
        return f"m:{self.id}:{self.auth_version}"

    @property
    def interest_names(self) -> set[str]:
        return {i.watch_type for i in self.interests}

    @property
    def consented_organisation_ids(self) -> set[int]:
        return {c.organisation_id for c in self.consents}

    def __repr__(self) -> str:
        return f"<Member {self.id}>"


class MemberChannel(db.Model):
    """A channel a member allows, and when: by day, by night or both."""

    __tablename__ = "member_channel"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    by_day: Mapped[bool] = mapped_column(Boolean, default=True)
    by_night: Mapped[bool] = mapped_column(Boolean, default=True)

    member: Mapped[Member] = relationship(back_populates="channels")


class MemberInterest(db.Model):
    __tablename__ = "member_interest"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    #: Qualified watch type name; kept even if its plugin is disabled, so re-enabling
    #: restores it.
    watch_type: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class MemberFieldValue(db.Model):
    """The value of one plugin-defined profile field for one member."""

    __tablename__ = "member_field_value"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    value: Mapped[str] = mapped_column(Text)


class MemberConsent(db.Model):
    """A member's permission for one organisation to see their details and contact them."""

    __tablename__ = "member_consent"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "self", "doorstep" or "import": how it was given.
    method: Mapped[str] = mapped_column(String(16), default="self")

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class MemberAccess(db.Model):
    """A staff view or export of a member's record, shown to the member."""

    __tablename__ = "member_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    #: "view" or "export".
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


staff_area = db.Table(
    "staff_area",
    db.Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    db.Column("area_id", ForeignKey("area.id", ondelete="CASCADE"), primary_key=True),
)


class Staff(UserMixin, db.Model):
    """A police officer, member of staff or volunteer coordinator."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    auth_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    #: The areas this account works in; its permissions reach their descendants too.
    areas: Mapped[list[Area]] = relationship(secondary=staff_area, lazy="selectin")

    kind = "staff"

    def get_id(self) -> str:
        return f"s:{self.id}:{self.auth_version}"

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive accounts
        return self.active

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.role}>"


class RecoveryCode(db.Model):
    """A single-use two-factor recovery code, stored hashed."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("staff_id", "member_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(db.Model):
    """A signed-in session, kept server-side so that ending it refuses its cookie even if
    the cookie is replayed."""

    __tablename__ = "user_session"

    #: SHA-256 of the random session id carried in the (signed) session cookie.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the user last proved their password; sensitive changes need it recent.
    fresh_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecurityEvent(db.Model):
    """A change to how someone signs in, which they are told about by email."""

    __tablename__ = "security_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    #: "password_changed", "email_changed" or "two_factor_enabled".
    kind: Mapped[str] = mapped_column(String(32))
    #: For "email_changed": the address the notice also goes to.
    old_email: Mapped[str | None] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: What an alert is about; shown to residents and used for approval rules.
MESSAGE_CATEGORIES = (
    "crime_alert",
    "witness_appeal",
    "missing_person",
    "suspect_description",
    "scam_warning",
    "prevention_advice",
    "community_news",
    "survey_invitation",
)

#: How an appeal ended, as staff record it afterwards.
MESSAGE_OUTCOMES = ("found", "arrested", "resolved", "no_further_action")

#: Delivery states, in the order a delivery normally passes through them.
DELIVERY_STATES = (
    "digest",
    "queued",
    "sending",
    "sent",
    "delivered",
    "temporary-failure",
    "permanent-failure",
    "suppressed",
)


class Message(db.Model):
    """An alert written by staff and sent to the residents it targets."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown as written; ``body_html`` is its sanitised rendering.
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    #: The text for SMS and voice.
    plain_text: Mapped[str] = mapped_column(Text)
    #: The Welsh version, sent to residents who chose Welsh; all None when there is none.
    title_cy: Mapped[str | None] = mapped_column(String(200))
    body_cy: Mapped[str | None] = mapped_column(Text)
    body_html_cy: Mapped[str | None] = mapped_column(Text)
    plain_text_cy: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    #: 1 urgent ... 5 low.
    priority: Mapped[int] = mapped_column(Integer, default=3)
    #: "draft", "awaiting_approval", "scheduled", "sending" or "sent".
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    #: The second person who approved it, where the force requires approval.
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What was asked for: {"areas": [codes], "watch_types": [...], "rules": [...]}.
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The target in words, for the preview, the audit trail and the sender.
    target_description: Mapped[str] = mapped_column(Text, default="")
    recipient_count: Mapped[int | None] = mapped_column(Integer)
    #: When a scheduled message is due to go out.
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The public code printed in the alert, given when it is sent (core.verification):
    #: 8 characters of VERIFICATION_ALPHABET, stored without the dash ("K7QM4XT2").
    verification_code: Mapped[str | None] = mapped_column(String(8), unique=True, index=True)
    #: Shown on the public alerts pages of the areas it was sent to (core.archive).
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The paths of the areas it was aimed at when sent (its chosen areas, or the
    #: sender's), space-separated with a space at each end: " /1/4/ /1/5/17/ ".
    area_paths: Mapped[str | None] = mapped_column(Text)
    #: How an appeal ended (one of MESSAGE_OUTCOMES), with a public note, who said so
    #: and when (core.outcomes).
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who sent it, as recipients see it, when the sender is not a staff account (a
    #: group's coordinator, through :class:`core.messaging.GroupSender`); None otherwise.
    sender_name: Mapped[str | None] = mapped_column(String(200))
    sender_role: Mapped[str | None] = mapped_column(String(100))
    sender_areas: Mapped[str | None] = mapped_column(String(255))

    sender: Mapped[Staff | None] = relationship(foreign_keys=[sender_id])
    approved_by: Mapped[Staff | None] = relationship(foreign_keys=[approved_by_id])
    outcome_by: Mapped[Staff | None] = relationship(foreign_keys=[outcome_by_id])
    organisation: Mapped[Organisation] = relationship()

    @property
    def code_for_reading(self) -> str | None:
        """The verification code as printed, in two groups of four: "K7QM-4XT2"."""
        code = self.verification_code
        return f"{code[:4]}-{code[4:]}" if code else None


class Delivery(db.Model):
    """One message to one member over one channel: the record of what remains to send."""

    __tablename__ = "delivery"
    # The unique index also serves every lookup by message (its first column); each
    # further index slows the fan-out's INSERT.
    __table_args__ = (UniqueConstraint("message_id", "member_id", "channel"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    # No foreign keys on this, the one table written a row per recipient: PostgreSQL
    # checks a foreign key with a trigger per row, which cost 1.5 s of a 4 s county-wide
    # fan-out. Deliveries are deleted with their member by core.members.erase; messages
    # are never deleted once sent.
    message_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Held back until then (SMS and voice in quiet hours); None: send at once.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When a worker claimed it, and when the provider accepted it.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(255))


class DevOutbox(db.Model):
    """What the development channel "sent" (SMS, voice, push without a provider)."""

    __tablename__ = "dev_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("delivery.id", ondelete="CASCADE"), index=True,
    )
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(db.Model):
    """One browser or device where a member gets web push notifications."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    #: The push service's URL for this device. Whoever holds it can address the device,
    #: so it is unique: subscribing the same browser again updates its row.
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    #: The browser's P-256 public key and auth secret (base64url), which encrypt payloads.
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    #: The browser's User-Agent when it subscribed, so the member can tell devices apart.
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a push service last accepted a notification for it.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReachCount(db.Model):
    """How many members of one area an organisation reaches, pre-counted (core.reach):
    people and usable contacts per channel, by day and by night, by the members'
    priority threshold."""

    __tablename__ = "reach_count"

    organisation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The members' own area (a street, usually).
    area_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    min_priority: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: A channel, or "" for the people themselves.
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    by_day: Mapped[int] = mapped_column(Integer)
    by_night: Mapped[int] = mapped_column(Integer)
    #: People who had PREVIEW_RECENT_MESSAGES messages or more in the week before.
    busy: Mapped[int] = mapped_column(Integer, default=0)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReachDirty(db.Model):
    """An area whose members changed since they were last counted (None: every area)."""

    __tablename__ = "reach_dirty"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int | None] = mapped_column(Integer)


#: States of a reply, as a ticket: new and being dealt with, waiting (on the resident or
#: someone else), or done.
REPLY_STATES = ("open", "pending", "closed")


class Reply(db.Model):
    """What a resident said in answer to an alert, by the reply link or by email: a
    ticket in the inbox of the sender's team (and of the team a keyword escalated it to)."""

    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    #: The message's organisation: only its staff see the reply.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    body: Mapped[str] = mapped_column(Text)
    #: "web" (the reply link) or "email".
    via: Mapped[str] = mapped_column(String(8))
    #: The resident agreed to be contacted about it.
    may_contact: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: One of REPLY_STATES.
    state: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    #: The team whose inbox it is in: the area of the message's sender.
    team_area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The team a keyword rule escalated it to, and the keyword.
    escalated_area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    keyword: Mapped[str | None] = mapped_column(String(64))
    #: The Message-ID of the email it came in, so the same email is never taken twice.
    email_message_id: Mapped[str | None] = mapped_column(String(255), unique=True)

    message: Mapped[Message] = relationship()
    member: Mapped[Member] = relationship()
    assignee: Mapped[Staff | None] = relationship()
    team_area: Mapped[Area | None] = relationship(foreign_keys=[team_area_id])
    escalated_area: Mapped[Area | None] = relationship(foreign_keys=[escalated_area_id])
    notes: Mapped[list[ReplyNote]] = relationship(
        cascade="all, delete-orphan", order_by="ReplyNote.id", passive_deletes=True
    )
    answers: Mapped[list[ReplyAnswer]] = relationship(
        cascade="all, delete-orphan", order_by="ReplyAnswer.id", passive_deletes=True
    )


class ReplyNote(db.Model):
    """An internal note on a reply: seen by staff only, never sent to the resident."""

    __tablename__ = "reply_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(
        ForeignKey("reply.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff: Mapped[Staff | None] = relationship()


class ReplyAnswer(db.Model):
    """A public answer to a reply, sent back to the resident over their channels."""

    __tablename__ = "reply_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(
        ForeignKey("reply.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The channels it went out over, comma-separated ("email,sms"); "" until sent.
    channels: Mapped[str] = mapped_column(String(64), default="")
    #: Why it could not go out (or over some channel), if so.
    error: Mapped[str | None] = mapped_column(String(255))

    staff: Mapped[Staff | None] = relationship()


class Notice(db.Model):
    """A personal notice to one resident (an answer to a case they raised, say), sent
    over their email and text message channels by :func:`core.notices.notify_member`."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The channels it went out over, comma-separated ("email,sms"); "" if none.
    channels: Mapped[str] = mapped_column(String(64), default="")
    #: Why it could not go out (or over some channel), if so.
    error: Mapped[str | None] = mapped_column(String(255))


class MemberLocation(db.Model):
    """Where a member who shares their location last was, coarsened, until it expires."""

    __tablename__ = "member_location"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


#: What a personal access token may do (the API, docs/api.md).
TOKEN_SCOPES = ("read", "profile", "reply", "send")


class ApiToken(db.Model):
    """A personal access token for the JSON API, made by a resident or a staff member
    for themselves. Only a hash of it is kept; it is shown once, when made."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: SHA-256 of the token, hex: tokens are long and random, so no slow hash is needed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, so its owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    #: Space-separated TOKEN_SCOPES.
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_set(self) -> set[str]:
        """The token's scopes."""
        return set(self.scopes.split())


class MessageRating(db.Model):
    """A resident's verdict on an alert: useful or not. One per member and message; a
    resident may change their mind."""

    __tablename__ = "message_rating"

    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    useful: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
