"""Neighbourhood Watch's tables: schemes, their members and coordinators, group spaces,
their documents, and the record of every decision and document access."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.api import Area, Member, Organisation, Staff, UTCDateTime, db, utcnow

#: How far a scheme has been verified, least first.
LEVELS = ("self", "association", "police")

#: A scheme member's role: coordinators are "main" or "deputy".
SCHEME_ROLES = ("member", "deputy", "main")
COORDINATOR_ROLES = ("main", "deputy")

#: Where a request to join, an invitation or a coordinator application stands.
STATUSES = ("requested", "invited", "active", "declined")

GROUP_KINDS = ("community", "ward_panel")
GROUP_VISIBILITIES = ("public", "hidden")
#: A group member's role, most senior first; the first three are the group's officers.
GROUP_ROLES = ("chair", "vice_chair", "secretary", "member")
GROUP_OFFICERS = ("chair", "vice_chair", "secretary")


scheme_area = db.Table(
    "neighbourhood_watch_scheme_area",
    db.Column("scheme_id", ForeignKey("neighbourhood_watch_scheme.id", ondelete="CASCADE"),
              primary_key=True),
    db.Column("area_id", ForeignKey("area.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


class Scheme(db.Model):
    """A watch scheme: the streets it covers, its coordinators and its members."""

    __tablename__ = "neighbourhood_watch_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The organisation that looks after it (a watch association or the police):
    #: members who join consent to it, and its staff may verify the scheme.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: Optional GeoJSON boundary drawn on the map (core.api.check_shape); when set, only
    #: residents whose postcode lies inside it are in the scheme's boundary.
    shape: Mapped[str | None] = mapped_column(Text)
    #: One of LEVELS, with who raised it to that level and when.
    level: Mapped[str] = mapped_column(String(16), default="self")
    verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    verified_by: Mapped[Staff | None] = relationship(lazy="joined")
    areas: Mapped[list[Area]] = relationship(secondary=scheme_area, lazy="selectin")


class SchemeMember(db.Model):
    """A resident's place in a scheme: a request, an invitation or a membership, with
    their role and any pending application to coordinate."""

    __tablename__ = "neighbourhood_watch_scheme_member"
    __table_args__ = (UniqueConstraint("scheme_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhood_watch_scheme.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                           index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    status: Mapped[str] = mapped_column(String(16), default="requested")
    #: "main" or "deputy" while an application to coordinate awaits staff.
    applied_role: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    scheme: Mapped[Scheme] = relationship(lazy="joined")
    member: Mapped[Member] = relationship(lazy="joined")


class SchemeMessage(db.Model):
    """A message a coordinator sent to their scheme through the core's messaging."""

    __tablename__ = "neighbourhood_watch_scheme_message"

    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"),
                                            primary_key=True)
    scheme_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhood_watch_scheme.id", ondelete="CASCADE"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))


class Group(db.Model):
    """A community group or ward panel with a private space for its members."""

    __tablename__ = "neighbourhood_watch_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="community")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    #: Members who join consent to it; messages to the group come from it.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: The area it serves (a ward panel's ward): police whose areas cover it see its
    #: membership, and administer it with its officers when it is a ward panel.
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    #: Comma-separated GROUP_ROLES allowed to send documents to the group's mailing list.
    mailing_roles: Mapped[str] = mapped_column(String(100), default="chair,secretary")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    area: Mapped[Area] = relationship(lazy="joined")


class GroupMember(db.Model):
    """A resident's place in a group: a request, an invitation or a membership."""

    __tablename__ = "neighbourhood_watch_group_member"
    __table_args__ = (UniqueConstraint("group_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhood_watch_group.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                           index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[Group] = relationship(lazy="joined")
    member: Mapped[Member] = relationship(lazy="joined")


class Document(db.Model):
    """A file a group's officers uploaded; kept outside the web root under a random
    name, and served only to the group's members."""

    __tablename__ = "neighbourhood_watch_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhood_watch_group.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: The uploaded file's name, made safe; offered as the download's name.
    filename: Mapped[str] = mapped_column(String(200))
    #: The type found from the content (never the browser's claim).
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploaded_by: Mapped[Member | None] = relationship(lazy="joined")


class DocumentAccess(db.Model):
    """One opening of a document: who and when."""

    __tablename__ = "neighbourhood_watch_document_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhood_watch_document.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    #: "download", or "mailed" when sent to the group's mailing list.
    action: Mapped[str] = mapped_column(String(16), default="download")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[Member | None] = relationship(lazy="joined")


class Decision(db.Model):
    """Every approval or refusal: joins, invitations, coordinators and verifications,
    with who decided (a member or a staff account) and when."""

    __tablename__ = "neighbourhood_watch_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhood_watch_scheme.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhood_watch_group.id", ondelete="CASCADE"), index=True)
    #: Whom it was about, when it was about a person.
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    #: "join", "invite", "coordinator", "verify", "role", "remove" or "start".
    kind: Mapped[str] = mapped_column(String(16))
    #: "accepted", "declined", a level, or a role.
    outcome: Mapped[str] = mapped_column(String(32))
    by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by_staff: Mapped[Staff | None] = relationship(foreign_keys=[by_staff_id], lazy="joined")
    by_member: Mapped[Member | None] = relationship(foreign_keys=[by_member_id],
                                                    lazy="joined")
    subject: Mapped[Member | None] = relationship(foreign_keys=[subject_id], lazy="joined")


MODELS = [Scheme, SchemeMember, SchemeMessage, Group, GroupMember, Document,
          DocumentAccess, Decision]
