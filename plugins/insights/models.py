"""The insights' tables.

*Crimes* are street-level records as data.police.uk publishes them, each placed in an
area (by its point inside the areas' boundaries, or by its LSOA code). *LSOA links* say
which area an LSOA lies in. *Indicators* are optional per-area figures from a CSV (an
index of deprivation decile, say). *Figures* are each area's precomputed numbers —
coverage, crime, concerns and the focus score — refreshed by a job, so that dashboards
never count the members table; *snapshots* keep each area's coverage month by month.
*Feedback* records each "You said, we did" update sent to an area.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.api import UTCDateTime, db, utcnow


class Crime(db.Model):
    """One crime from a street-level crime file."""

    __tablename__ = "insights_crime"
    __table_args__ = (Index("ix_insights_crime_area_month", "area_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The first day of the month it was recorded in.
    month: Mapped[date] = mapped_column(Date, index=True)
    reported_by: Mapped[str] = mapped_column(String(100), default="")
    falls_within: Mapped[str] = mapped_column(String(100), default="")
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    location: Mapped[str] = mapped_column(String(200), default="")
    lsoa_code: Mapped[str] = mapped_column(String(16), default="")
    lsoa_name: Mapped[str] = mapped_column(String(100), default="")
    crime_type: Mapped[str] = mapped_column(String(64), index=True)
    last_outcome: Mapped[str] = mapped_column(String(200), default="")
    #: The lowest area it lies in.
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"))


class LsoaLink(db.Model):
    """The area an LSOA (lower layer super output area) lies in."""

    __tablename__ = "insights_lsoa"

    lsoa_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"))


class Indicator(db.Model):
    """An optional figure about an area from a CSV (e.g. ``imd_decile``)."""

    __tablename__ = "insights_indicator"
    __table_args__ = (UniqueConstraint("area_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)


class Figures(db.Model):
    """An area's precomputed numbers, as of ``refreshed_at``."""

    __tablename__ = "insights_figures"

    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"),
                                         primary_key=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    #: Households with at least one member (distinct address and postcode).
    registered: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[int] = mapped_column(Integer, default=0)
    #: Crimes in the last three full months, and in the three before.
    crimes: Mapped[int] = mapped_column(Integer, default=0)
    crimes_before: Mapped[int] = mapped_column(Integer, default=0)
    #: Crime type -> [last three months, three before].
    crime_types: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Concern -> how many residents raised it (survey priorities, surgery topics...).
    concerns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Members by age band and by ethnic group: {"age_band": {...}, "ethnic_group": {...}}.
    demographics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Snapshot(db.Model):
    """An area's coverage in one month."""

    __tablename__ = "insights_snapshot"
    __table_args__ = (UniqueConstraint("area_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    households: Mapped[int] = mapped_column(Integer, default=0)
    registered: Mapped[int] = mapped_column(Integer, default=0)


class Feedback(db.Model):
    """A "You said, we did" update sent (or drafted) for an area."""

    __tablename__ = "insights_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"),
                                         index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


MODELS = [Crime, LsoaLink, Indicator, Figures, Snapshot, Feedback]
