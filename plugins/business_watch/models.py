"""Business Watch's table: the businesses members register, with their premises."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.api import Area, UTCDateTime, db, utcnow

#: The sectors a business can be in, as stored; docs/business_watch.md lists them.
SECTORS = (
    "retail",
    "licensed",
    "food",
    "finance",
    "transport",
    "motor",
    "health",
    "hospitality",
    "construction",
    "office",
    "agriculture",
    "charity",
    "other",
)


class Business(db.Model):
    """A business a member runs or works at, and where its premises are."""

    __tablename__ = "business_watch_business"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(32), index=True)
    address_line: Mapped[str] = mapped_column(String(200))
    #: In the standard form, and the area it lies in (kept in step by the forms).
    postcode: Mapped[str] = mapped_column(String(10))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    opening_hours: Mapped[str] = mapped_column(Text, default="")
    staff_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    area: Mapped[Area] = relationship(lazy="joined")


MODELS = [Business]
