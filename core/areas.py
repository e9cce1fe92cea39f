"""The area hierarchy and the postcode table: lookups and CSV imports.

Import formats are documented in docs/data-formats.md. An import checks the whole file
first; one bad row stops it with the row's line number and nothing is written.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from flask import current_app
from sqlalchemy import ColumnElement, false, func, or_, select

from core.extensions import db
from core.models import Area, Postcode

_POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")

AREA_COLUMNS = ("code", "name", "level", "parent_code", "households", "boundary")
POSTCODE_COLUMNS = ("postcode", "area_code", "latitude", "longitude")


class DataImportError(ValueError):
    """A file that cannot be imported; ``line`` is the 1-based line in the file."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def normalise_postcode(raw: str) -> str | None:
    """A UK postcode in its standard form ("al13ah" -> "AL1 3AH"), or None if it is
    not shaped like one."""
    compact = re.sub(r"\s+", "", raw or "").upper()
    match = _POSTCODE_RE.match(compact)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}"


def area_levels() -> list[str]:
    """The configured levels of the hierarchy, top first."""
    levels = current_app.config["AREA_LEVELS"]
    if isinstance(levels, str):
        levels = [lv.strip() for lv in levels.split(",") if lv.strip()]
    return list(levels)


def lookup_postcode(raw: str) -> Postcode | None:
    """The postcode row for ``raw`` (any spacing or case), or None."""
    normalised = normalise_postcode(raw)
    return db.session.get(Postcode, normalised) if normalised else None


def within(areas: Iterable[Area], area_id_column: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL: ``area_id_column`` is one of ``areas`` or one of their descendants."""
    paths = [a.path for a in areas]
    if not paths:
        return false()
    inside = select(Area.id).where(or_(*(Area.path.startswith(p) for p in paths)))
    return area_id_column.in_(inside)


def ancestors(area: Area) -> list[Area]:
    """The area's ancestors, top first, then the area itself."""
    ids = [int(i) for i in area.path.strip("/").split("/") if i]
    by_id = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


# -- imports ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int
    updated: int


def _rows(
    fh: IO[str], columns: tuple[str, ...], required: tuple[str, ...]
) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(fh)
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise DataImportError(1, f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in columns]
    if unknown:
        raise DataImportError(1, f"unknown column(s): {', '.join(unknown)}")
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def _boundary(line: int, text: str) -> str | None:
    if not text:
        return None
    try:
        geometry = json.loads(text)
    except ValueError as exc:
        raise DataImportError(line, f"boundary is not valid JSON ({exc.msg})") from None
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise DataImportError(line, "boundary must be a GeoJSON Polygon or MultiPolygon")
    if not isinstance(geometry.get("coordinates"), list) or not geometry["coordinates"]:
        raise DataImportError(line, "boundary has no coordinates")
    return json.dumps(geometry, separators=(",", ":"))


def import_areas(fh: IO[str], progress: Callable[[int], None] | None = None) -> ImportResult:
    """Create or update areas from CSV; all-or-nothing.

    Parents must already exist or come earlier in the file. A level must be one below
    its parent's in the configured hierarchy.
    """
    levels = area_levels()
    existing = {a.code: a for a in db.session.scalars(select(Area))}
    seen: dict[str, int] = {}
    file_levels: dict[str, str] = {}
    parsed = []
    for line, row in _rows(fh, AREA_COLUMNS, ("code", "name", "level")):
        code, name, level = row["code"], row["name"], row["level"].lower()
        if not code:
            raise DataImportError(line, "code is empty")
        if code in seen:
            raise DataImportError(line, f"code {code} repeats line {seen[code]}")
        seen[code] = line
        if not name:
            raise DataImportError(line, "name is empty")
        if level not in levels:
            raise DataImportError(line, f"level {level!r} is not one of {', '.join(levels)}")
        parent_code = row.get("parent_code", "")
        if levels.index(level) == 0:
            if parent_code:
                raise DataImportError(line, f"a {level} has no parent, but {parent_code} is given")
        else:
            if not parent_code:
                raise DataImportError(line, f"a {level} needs a parent_code")
            parent_level = file_levels.get(parent_code) or (
                existing[parent_code].level if parent_code in existing else None
            )
            if parent_level is None:
                raise DataImportError(
                    line, f"parent_code {parent_code} is neither in the database nor earlier"
                )
            if levels.index(parent_level) != levels.index(level) - 1:
                raise DataImportError(
                    line, f"a {level} cannot sit under a {parent_level} ({parent_code})"
                )
        households_text = row.get("households", "")
        households = None
        if households_text:
            if not households_text.isdigit():
                raise DataImportError(line, f"households {households_text!r} is not a whole number")
            households = int(households_text)
        boundary = _boundary(line, row.get("boundary", ""))
        parsed.append((code, level, name, parent_code, households, boundary))
        file_levels[code] = level

    created = updated = 0
    by_code = dict(existing)
    for n, (code, level, name, parent_code, households, boundary) in enumerate(parsed, 1):
        area = by_code.get(code)
        if area is None:
            area = Area(code=code)
            db.session.add(area)
            by_code[code] = area
            created += 1
        else:
            updated += 1
        area.name, area.level, area.households, area.boundary = name, level, households, boundary
        area.parent = by_code[parent_code] if parent_code else None
        if progress and n % 500 == 0:
            progress(n)
    db.session.flush()
    _rebuild_paths(by_code.values())
    db.session.commit()
    return ImportResult(created, updated)


def _rebuild_paths(areas: Iterable[Area]) -> None:
    by_id = {a.id: a for a in areas}

    def path(area: Area) -> str:
        if area.parent_id is None:
            return f"/{area.id}/"
        parent = by_id.get(area.parent_id) or db.session.get(Area, area.parent_id)
        return path(parent) + f"{area.id}/"

    for area in by_id.values():
        area.path = path(area)


def _upsert(rows: list[dict[str, object]]) -> None:
    """Insert postcode rows, replacing the area and point of ones that exist."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(Postcode)
    statement = statement.on_conflict_do_update(
        index_elements=[Postcode.postcode],
        set_={
            "area_id": statement.excluded.area_id,
            "latitude": statement.excluded.latitude,
            "longitude": statement.excluded.longitude,
        },
    )
    db.session.execute(statement, rows)


def _copy_upsert(rows: Iterable[dict[str, object]]) -> None:
    """PostgreSQL: COPY rows into a staging table, then upsert them in one statement."""
    connection = db.session.connection()
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE postcode_import (postcode varchar(8), area_id integer, "
        "latitude float, longitude float) ON COMMIT DROP"
    )
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy("COPY postcode_import FROM STDIN") as copy:
        for row in rows:
            copy.write_row((row["postcode"], row["area_id"], row["latitude"], row["longitude"]))
    connection.exec_driver_sql(
        "INSERT INTO postcode (postcode, area_id, latitude, longitude) "
        "SELECT postcode, area_id, latitude, longitude FROM postcode_import "
        "ON CONFLICT (postcode) DO UPDATE SET area_id = excluded.area_id, "
        "latitude = excluded.latitude, longitude = excluded.longitude"
    )


POSTCODE_BATCH = 5000


def import_postcodes(
    fh: IO[str], progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Create or update postcodes from CSV in one transaction; a bad row rolls back
    everything, so the table is as it was."""
    area_ids = {code: pk for code, pk in db.session.execute(select(Area.code, Area.id))}
    before = db.session.scalar(select(func.count()).select_from(Postcode)) or 0
    seen: dict[str, int] = {}

    def rows() -> Iterator[dict[str, object]]:
        for n, (line, row) in enumerate(_rows(fh, POSTCODE_COLUMNS, ("postcode", "area_code")), 1):
            yield _postcode_row(line, row, area_ids, seen)
            if progress and n % 100_000 == 0:
                progress(n)

    try:
        if db.session.get_bind().dialect.name == "postgresql":
            _copy_upsert(rows())
        else:
            batch: list[dict[str, object]] = []
            for row in rows():
                batch.append(row)
                if len(batch) == POSTCODE_BATCH:
                    _upsert(batch)
                    batch = []
            if batch:
                _upsert(batch)
    except Exception:
        db.session.rollback()
        raise
    after = db.session.scalar(select(func.count()).select_from(Postcode)) or 0
    db.session.commit()
    created = after - before
    return ImportResult(created, len(seen) - created)


def _postcode_row(
    line: int, row: dict[str, str], area_ids: dict[str, int], seen: dict[str, int]
) -> dict[str, object]:
    postcode = normalise_postcode(row["postcode"])
    if postcode is None:
        raise DataImportError(line, f"{row['postcode']!r} is not a UK postcode")
    if postcode in seen:
        raise DataImportError(line, f"postcode {postcode} repeats line {seen[postcode]}")
    seen[postcode] = line
    area_id = area_ids.get(row["area_code"])
    if area_id is None:
        raise DataImportError(line, f"area_code {row['area_code']!r} is not a known area")
    coords: list[float | None] = []
    for key, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        text = row.get(key, "")
        if not text:
            coords.append(None)
            continue
        try:
            value = float(text)
        except ValueError:
            raise DataImportError(line, f"{key} {text!r} is not a number") from None
        if not low <= value <= high:
            raise DataImportError(line, f"{key} {value} is out of range")
        coords.append(value)
    if (coords[0] is None) != (coords[1] is None):
        raise DataImportError(line, "give both latitude and longitude, or neither")
    return {"postcode": postcode, "area_id": area_id, "latitude": coords[0],
            "longitude": coords[1]}
