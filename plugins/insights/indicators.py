"""Optional per-area indicators (an index of deprivation decile, say) from a CSV with the
header ``area_code,name,value``: all or nothing, each bad row named by its line."""

from __future__ import annotations

import csv
import re
from typing import IO

from sqlalchemy import delete, insert, select

from core.api import Area, db
from plugins.insights.models import Indicator

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


class IndicatorImportError(ValueError):
    """An indicators file that cannot be imported, with the lines at fault."""


def import_indicators(fh: IO[str]) -> int:
    """Set each row's indicator (replacing the same name's value for that area); returns
    how many rows were imported. Raises :class:`IndicatorImportError` naming every bad
    line, and then imports nothing."""
    reader = csv.DictReader(fh)
    if not reader.fieldnames or {"area_code", "name", "value"} - set(reader.fieldnames):
        raise IndicatorImportError("line 1: the header must be area_code,name,value")
    areas = dict(db.session.execute(select(Area.code, Area.id)).all())
    rows, problems, seen = [], [], {}
    for line, row in enumerate(reader, start=2):
        code, name = (row.get("area_code") or "").strip(), (row.get("name") or "").strip()
        if code not in areas:
            problems.append(f"line {line}: no area has the code {code!r}")
            continue
        if not NAME.fullmatch(name):
            problems.append(f"line {line}: the name must be lower-case letters, digits "
                            f"and _ (like imd_decile), not {name!r}")
            continue
        try:
            value = float((row.get("value") or "").strip())
        except ValueError:
            problems.append(f"line {line}: the value {row.get('value')!r} is not a number")
            continue
        if (code, name) in seen:
            problems.append(f"line {line}: {code} {name} repeats line {seen[(code, name)]}")
            continue
        seen[(code, name)] = line
        rows.append({"area_id": areas[code], "name": name, "value": value})
    if problems:
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise IndicatorImportError("; ".join(problems[:20]) + more)
    for row in rows:
        db.session.execute(delete(Indicator).where(Indicator.area_id == row["area_id"],
                                                   Indicator.name == row["name"]))
    if rows:
        db.session.execute(insert(Indicator), rows)
    db.session.commit()
    return len(rows)
