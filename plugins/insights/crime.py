"""Importing street-level crime files as data.police.uk publishes them, and the links
from LSOAs (lower layer super output areas) to areas.

A crime file has the header ``Crime ID,Month,Reported by,Falls within,Longitude,
Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context``. Each
row is placed in the lowest area whose boundary holds its point, or else in the area
its LSOA code is linked to (an LSOA link, or an area whose code is the LSOA code).

Both imports check the whole file first: if any row is bad, the error lists the bad
rows by line number (the header is line 1, as a spreadsheet shows it) and nothing is
written. A crime file *replaces* what it covers: the crimes already imported for each
(month, force) pair in the file are deleted in the same transaction, so importing a
month again corrects it instead of doubling it.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from sqlalchemy import and_, delete, insert, select

from core.api import Area, db
from plugins.insights.models import Crime, LsoaLink

#: The crime types (categories) of data.police.uk's street-level files.
CRIME_TYPES = (
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)
_CRIME_TYPES_FOLDED = {t.casefold(): t for t in CRIME_TYPES}

CRIME_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
    "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)
REQUIRED_CRIME_COLUMNS = CRIME_COLUMNS[1:-1]

#: Text columns of the file -> (the Crime attribute, its longest length).
_TEXT_COLUMNS = {
    "Reported by": ("reported_by", 100),
    "Falls within": ("falls_within", 100),
    "Location": ("location", 200),
    "LSOA code": ("lsoa_code", 16),
    "LSOA name": ("lsoa_name", 100),
    "Last outcome category": ("last_outcome", 200),
}

LSOA_COLUMNS = ("lsoa_code", "area_code")

#: How many bad rows an error lists before "and N more".
MAX_LISTED = 20
#: Rows inserted per statement.
INSERT_CHUNK = 5000

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class CrimeImportError(ValueError):
    """A file that cannot be imported. ``problems`` lists (line, reason) of every bad
    row, in line order; the message lists the first :data:`MAX_LISTED` of them."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = sorted(problems)
        listed = "; ".join(f"line {line}: {reason}" for line, reason in
                           self.problems[:MAX_LISTED])
        more = len(self.problems) - MAX_LISTED
        if more > 0:
            listed += f"; and {more:,} more bad {'row' if more == 1 else 'rows'}"
        if any("is not a data.police.uk crime type" in r for _, r in self.problems):
            listed += f". The crime types are: {', '.join(CRIME_TYPES)}"
        super().__init__(f"{listed}. Nothing was imported.")


@dataclass
class CrimeImportResult:
    """What an import of a crime file did."""

    #: Crimes imported.
    rows: int = 0
    #: Of those, placed by their point inside an area's boundary...
    by_point: int = 0
    #: ...and placed by their LSOA code.
    by_lsoa: int = 0
    #: The months the file covers, as "YYYY-MM", in order.
    months: list[str] = field(default_factory=list)
    #: Crimes imported before for the file's months and forces, now deleted.
    replaced: int = 0
    #: Rows with neither a point nor an LSOA code ("No Location" in data.police.uk's
    #: files): left out, as they belong to no area.
    no_location: int = 0

    def summary(self) -> str:
        """One line saying what was imported, e.g. "imported 1,234 crimes for 2026-09
        (1,200 placed by their point, 34 by LSOA), replacing 1,100"."""
        if not self.rows:
            return "imported no crimes: the file has no rows"
        noun = "crime" if self.rows == 1 else "crimes"
        text = (f"imported {self.rows:,} {noun} for {_and_list(self.months)} "
                f"({self.by_point:,} placed by their point, {self.by_lsoa:,} by LSOA)")
        if self.replaced:
            text += f", replacing {self.replaced:,}"
        if self.no_location:
            text += f"; {self.no_location:,} with no location left out"
        return text


def _and_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _records(fh: IO[str], columns: tuple[str, ...], required: tuple[str, ...]
             ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of each non-empty record after the header, values stripped. Lines
    count records as a spreadsheet shows them (a quoted value spanning lines is one)."""
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header:
        raise CrimeImportError([(1, "the file is empty: no header")])
    header = [h.strip() for h in header]
    header[0] = header[0].lstrip("\ufeff")
    missing = [c for c in required if c not in header]
    if missing:
        raise CrimeImportError([(1, f"missing column(s): {', '.join(missing)}")])
    positions = {c: header.index(c) for c in columns if c in header}
    for line, values in enumerate(reader, 2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            yield line, {"": f"has {len(values)} values but the header has {len(header)}"}
            continue
        yield line, {c: (values[i].strip() if i < len(values) else "")
                     for c, i in positions.items()}


def _coordinate(name: str, text: str, limit: float, reasons: list[str]) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        reasons.append(f"{name} {text!r} is not a number")
        return None
    if not math.isfinite(value) or not -limit <= value <= limit:
        reasons.append(f"{name} {text} is out of range (-{limit:g} to {limit:g})")
        return None
    return value


def _crime_row(row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The Crime values of a file row, and what is wrong with it (nothing if good)."""
    if "" in row:
        return {}, [row[""]]
    reasons: list[str] = []
    month = None
    match = _MONTH_RE.match(row["Month"])
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1900:
        month = date(int(match.group(1)), int(match.group(2)), 1)
    else:
        reasons.append(f"Month {row['Month']!r} is not a month like 2026-09")
    crime_type = _CRIME_TYPES_FOLDED.get(row["Crime type"].casefold())
    if crime_type is None:
        reasons.append(f"Crime type {row['Crime type']!r} is not a data.police.uk crime type")
    values: dict[str, Any] = {"month": month, "crime_type": crime_type}
    for column, (attribute, length) in _TEXT_COLUMNS.items():
        text = row[column]
        if len(text) > length:
            reasons.append(f"{column} is {len(text)} characters long, more than {length}")
        values[attribute] = text
    lon_text, lat_text = row["Longitude"], row["Latitude"]
    longitude = _coordinate("Longitude", lon_text, 180, reasons)
    latitude = _coordinate("Latitude", lat_text, 90, reasons)
    if bool(lon_text) != bool(lat_text):
        reasons.append("give both Longitude and Latitude, or neither")
    values["longitude"], values["latitude"] = longitude, latitude
    return values, reasons


class _Placer:
    """Finds the lowest area holding each of many points, all at once: the areas'
    boundaries are read and indexed once (an STRtree of prepared geometries)."""

    def __init__(self) -> None:
        import numpy as np
        import shapely
        from shapely.geometry import shape

        self._np, self._shapely = np, shapely
        ids, depths, geometries = [], [], []
        rows = db.session.execute(
            select(Area.id, Area.path, Area.boundary).where(Area.boundary.is_not(None))
        )
        for area_id, path, boundary in rows:
            try:
                geometry = shape(json.loads(boundary))
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                continue  # a boundary shapely cannot read places nothing
            if geometry.is_empty:
                continue
            ids.append(area_id)
            depths.append((path or "").strip("/").count("/"))
            geometries.append(geometry)
        self._ids = np.array(ids, dtype=np.int64)
        self._depths = np.array(depths, dtype=np.int64)
        self._geometries = np.array(geometries, dtype=object)
        shapely.prepare(self._geometries)
        self._tree = shapely.STRtree(self._geometries)

    def place(self, longitudes: list[float], latitudes: list[float]) -> list[int | None]:
        """The id of the deepest area whose boundary holds each point (its edge
        included), or None; of equally deep areas, the one with the lowest id."""
        np, shapely = self._np, self._shapely
        found: list[int | None] = [None] * len(longitudes)
        if not longitudes or not len(self._ids):
            return found
        points = shapely.points(np.array(longitudes), np.array(latitudes))
        point_index, area_index = self._tree.query(points)  # bounding boxes only
        inside = shapely.intersects(self._geometries[area_index], points[point_index])
        point_index, area_index = point_index[inside], area_index[inside]
        # Deepest first, then lowest id; the first pair of each point wins.
        order = np.lexsort((self._ids[area_index], -self._depths[area_index], point_index))
        point_index, area_index = point_index[order], area_index[order]
        first = np.ones(len(point_index), dtype=bool)
        first[1:] = point_index[1:] != point_index[:-1]
        for p, a in zip(point_index[first].tolist(), area_index[first].tolist(), strict=True):
            found[p] = int(self._ids[a])
        return found


def _lsoa_areas() -> dict[str, int]:
    """LSOA code -> area id: the LSOA links, and areas whose code is an LSOA code."""
    areas = dict(db.session.execute(select(Area.code, Area.id)).all())
    areas.update(db.session.execute(select(LsoaLink.lsoa_code, LsoaLink.area_id)).all())
    return areas


def import_crimes(fh: IO[str]) -> CrimeImportResult:
    """Import a data.police.uk street-level crime CSV, all or nothing.

    Every row is checked and placed first; if any is bad, :class:`CrimeImportError`
    lists the bad rows by line and nothing changes. Otherwise, in one transaction, the
    crimes already imported for each (month, Falls within) pair in the file are deleted
    and the file's rows inserted, each in the lowest area whose boundary holds its point
    or else in the area of its LSOA code.
    """
    problems: list[tuple[int, str]] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    for line, row in _records(fh, CRIME_COLUMNS, REQUIRED_CRIME_COLUMNS):
        values, reasons = _crime_row(row)
        if reasons:
            problems.append((line, ", ".join(reasons)))
        else:
            parsed.append((line, values))

    with_point = [v for _, v in parsed if v["longitude"] is not None]
    placed = _Placer().place([v["longitude"] for v in with_point],
                             [v["latitude"] for v in with_point]) if with_point else []
    for values, area_id in zip(with_point, placed, strict=True):
        values["area_id"] = area_id
    lsoa_areas = _lsoa_areas()
    result = CrimeImportResult()
    located = []
    for line, values in parsed:
        if values["longitude"] is None and not values["lsoa_code"]:
            result.no_location += 1
            continue
        located.append((line, values))
        if values.get("area_id") is not None:
            result.by_point += 1
            continue
        area_id = lsoa_areas.get(values["lsoa_code"]) if values["lsoa_code"] else None
        if area_id is not None:
            values["area_id"] = area_id
            result.by_lsoa += 1
            continue
        where = ("its point is inside no area's boundary" if values["longitude"] is not None
                 else "it has no point")
        lsoa = (f"LSOA code {values['lsoa_code']!r} is not linked to an area"
                if values["lsoa_code"] else "it has no LSOA code")
        problems.append((line, f"cannot be placed in an area: {where} and {lsoa}"))
    if problems:
        raise CrimeImportError(problems)

    # Rows with a point first: the ORM sends rows whose None values differ as separate
    # batches, and one batch per run of rows is far slower than a few.
    rows = sorted((values for _, values in located), key=lambda v: v["longitude"] is None)
    covered = sorted({(v["month"], v["falls_within"]) for v in rows})
    result.rows = len(rows)
    result.months = sorted({m.strftime("%Y-%m") for m, _ in covered})
    try:
        for month, falls_within in covered:
            deleted = db.session.execute(
                delete(Crime).where(and_(Crime.month == month,
                                         Crime.falls_within == falls_within)),
                execution_options={"synchronize_session": False},
            )
            result.replaced += deleted.rowcount or 0
        for start in range(0, len(rows), INSERT_CHUNK):
            db.session.execute(insert(Crime), rows[start:start + INSERT_CHUNK])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _upsert_links(rows: list[dict[str, Any]]) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(LsoaLink)
    statement = statement.on_conflict_do_update(
        index_elements=[LsoaLink.lsoa_code], set_={"area_id": statement.excluded.area_id}
    )
    db.session.execute(statement, rows)


def import_lsoa_links(fh: IO[str]) -> int:
    """Link LSOAs to areas from a CSV with the header ``lsoa_code,area_code``, all or
    nothing: a link that exists is moved to the file's area. If any row is bad,
    :class:`CrimeImportError` lists the bad rows by line and nothing changes. Returns
    how many links the file gives."""
    area_ids = dict(db.session.execute(select(Area.code, Area.id)).all())
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    links: list[dict[str, Any]] = []
    for line, row in _records(fh, LSOA_COLUMNS, LSOA_COLUMNS):
        if "" in row:
            problems.append((line, row[""]))
            continue
        code, area_code = row["lsoa_code"], row["area_code"]
        reasons = []
        if not code:
            reasons.append("lsoa_code is empty")
        elif len(code) > 16:
            reasons.append(f"lsoa_code {code!r} is longer than 16 characters")
        elif code in seen:
            reasons.append(f"lsoa_code {code} repeats line {seen[code]}")
        else:
            seen[code] = line
        area_id = area_ids.get(area_code)
        if area_id is None:
            reasons.append(f"area_code {area_code!r} is not a known area")
        if reasons:
            problems.append((line, ", ".join(reasons)))
        else:
            links.append({"lsoa_code": code, "area_id": area_id})
    if problems:
        raise CrimeImportError(problems)
    try:
        for start in range(0, len(links), INSERT_CHUNK):
            _upsert_links(links[start:start + INSERT_CHUNK])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(links)
