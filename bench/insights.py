"""Benchmark: a district's insights dashboard, 170,000 members, 50,000 crimes, PostgreSQL.

Builds a scratch database with the migrations (``PLUGINS="insights"``) and a force of 6
districts x 20 wards x 10 streets (1,327 areas, each with a rectangular GeoJSON boundary,
the rectangles tiling the force, and households: each street's put its coverage between
about 10% and 40%, each larger area's the sum of its streets'), loaded by
``core.areas.import_areas``; then 170,000
members spread over the streets (about 1.5 to a household, 2% opted out, most with an age
band and some with an ethnic group), seeded with ``INSERT ... SELECT``. A street-level
crime file of 50,000 rows in data.police.uk's format (the last 6 full months, every point
inside the force) is written, and in one run it measures:

* import: ``plugins.insights.crime.import_crimes`` of the file, the whole call (parse and
  check every row, place every point in its street through the boundaries, insert, commit);
  then the same file again (every crime replaced), for the record;
* baseline: a bare ``COPY`` (psycopg's ``cursor.copy``) of the same, already-placed rows
  into a scratch table with the crime table's columns, indexes and foreign key;
* the job: ``plugins.insights.figures.refresh`` once, every area's figures precomputed
  (reported: it is the daily job, not the page);
* page: a supervisor working force-wide, signed in with password and two-factor through
  the app's own pages, GETs ``/insights/?area=<district>`` (one district of about 28,000
  members and 8,000 crimes: its figures, its 20 wards ranked under "Where to focus", the
  table, 12 months of coverage, the demographics) through Flask's test client, and
  ``/insights/areas.geojson?area=<district>`` (the wards' boundaries and shades);
* baseline: the SQL at the heart of the page, bare on psycopg: the district's and its
  wards' ``insights_figures`` rows joined with ``area``, every row fetched.

Page, map and baseline run alternately: medians of ``--runs`` after ``--warmups`` (12, so
that, as in a long-running server, psycopg has prepared the page's statements and
PostgreSQL may keep generic plans for them). Goals: the page under 300 ms; the import of
50,000 rows under 10 s. The page's statements are recorded (SQLAlchemy's cursor events):
none may read the ``member`` table, which only the job counts.

Its last line is machine-readable:
``dashboard_ms=<f> geojson_ms=<f> page_sql_ms=<f> import_50k_s=<f> copy_baseline_s=<f>
refresh_s=<f> members=<n> crimes=<n> ratio=<page/baseline> baseline_sql_ms=<f>
page_statements=<n> member_statements=<n> reimport_s=<f> seed_s=<f>`` (page_sql_ms: the
median time of all the page's statements; seed_s: the areas and members after the
migrations).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from lib.common import drop_database, h, sign_in
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

MEMBERS = 170_000
CRIMES = 50_000
#: Districts x wards x streets, and how each area's rectangle splits into its children's
#: (columns x rows): 3 x 2 districts, 5 x 4 wards to a district, 5 x 2 streets to a ward.
DISTRICTS, WARDS, STREETS = 6, 20, 10
GRID = ((3, 2), (5, 4), (5, 2))
#: The force's rectangle: longitude and latitude, west, south, east, north.
WEST, SOUTH, EAST, NORTH = -0.75, 51.60, -0.05, 52.00
PAGE_GOAL_MS = 300
IMPORT_GOAL_S = 10
MONTHS = 6
FORCE_NAME = "Bench Police"
AGE_BANDS = ("under_25", "25_44", "45_64", "65_74", "75_plus")
ETHNIC_GROUPS = ("asian", "black", "mixed", "white", "other")
#: data.police.uk's crime types with rough national shares (per cent).
CRIME_MIX = {
    "Violence and sexual offences": 33, "Anti-social behaviour": 17, "Shoplifting": 7,
    "Criminal damage and arson": 8, "Public order": 9, "Vehicle crime": 6, "Burglary": 4,
    "Other theft": 6, "Drugs": 3, "Theft from the person": 2, "Bicycle theft": 1,
    "Robbery": 1, "Possession of weapons": 1, "Other crime": 2,
}
OUTCOMES = (
    "Under investigation", "Investigation complete; no suspect identified",
    "Unable to prosecute suspect", "Awaiting court outcome", "Local resolution",
    "Offender given a caution", "Status update unavailable",
)
CRIME_HEADER = ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
                "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
                "Context")


def make_app(url: str, **config: object):  # noqa: ANN201 - Flask
    from core import create_app

    return create_app({
        "DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "bench",
        "PLUGINS": "insights", "BASE_URL": "https://alerts.example.org", **config,
    })


def crime_months(today: date) -> list[date]:
    """The first days of the last ``MONTHS`` full months before ``today``, oldest first."""
    index = today.year * 12 + today.month - 1
    return [date((index - n) // 12, (index - n) % 12 + 1, 1) for n in range(MONTHS, 0, -1)]


def rectangle(box: tuple[float, float, float, float]) -> str:
    west, south, east, north = (round(v, 6) for v in box)
    return json.dumps({"type": "Polygon", "coordinates": [[
        [west, south], [east, south], [east, north], [west, north], [west, south]]]},
        separators=(",", ":"))


def split(box: tuple[float, float, float, float], grid: tuple[int, int]
          ) -> list[tuple[float, float, float, float]]:
    """``box`` cut into ``grid`` (columns x rows) rectangles, row by row."""
    west, south, east, north = box
    cols, rows = grid
    dx, dy = (east - west) / cols, (north - south) / rows
    return [(west + c * dx, south + r * dy, west + (c + 1) * dx, south + (r + 1) * dy)
            for r in range(rows) for c in range(cols)]


def plan_areas() -> list[dict[str, object]]:
    """Every area: code, name, level, parent, box and household count."""
    rng = random.Random(11)
    force = {"code": "F1", "name": "Bench Force", "level": "force", "parent": "",
             "box": (WEST, SOUTH, EAST, NORTH)}
    found = [force]
    for d, d_box in enumerate(split(force["box"], GRID[0])):
        found.append({"code": f"D{d}", "name": f"District {d}", "level": "district",
                      "parent": "F1", "box": d_box})
        for w, w_box in enumerate(split(d_box, GRID[1])):
            found.append({"code": f"W{d}.{w}", "name": f"Ward {d}.{w}", "level": "ward",
                          "parent": f"D{d}", "box": w_box})
            # A ward's own coverage, its streets around it: about 95 households of each
            # street are registered (142 members, 1.5 to a household).
            base = rng.uniform(0.12, 0.36)
            for s, s_box in enumerate(split(w_box, GRID[2])):
                cover = base * rng.uniform(0.8, 1.15)
                found.append({"code": f"S{d}.{w}.{s}", "name": f"Street {d}.{w}.{s}",
                              "level": "street", "parent": f"W{d}.{w}", "box": s_box,
                              "households": round(95 / cover)})
    # Every level has its households, as in docs/data-formats.md's example: the sum of
    # its streets'.
    by_code = {str(a["code"]): a for a in found}
    for a in reversed(found):
        if a["parent"]:
            parent = by_code[str(a["parent"])]
            parent["households"] = int(parent.get("households", 0)) + int(a["households"])
    return found


def areas_csv(tmp: Path, areas: list[dict[str, object]]) -> Path:
    path = tmp / "areas.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["code", "name", "level", "parent_code", "households", "boundary"])
        for a in areas:
            out.writerow([a["code"], a["name"], a["level"], a["parent"],
                          a.get("households", ""), rectangle(a["box"])])
    return path


def crimes_csv(tmp: Path, areas: list[dict[str, object]], rows: int,
               months: list[date]) -> Path:
    """A street-level crime file as data.police.uk writes it: each ward has its own rate
    (some are hot spots) and one crime type rising over the last three months."""
    rng = random.Random(23)
    wards = [a for a in areas if a["level"] == "ward"]
    streets: dict[str, list[dict[str, object]]] = {}
    for a in areas:
        if a["level"] == "street":
            streets.setdefault(str(a["parent"]), []).append(a)
    rates = [rng.choice((0.4, 0.7, 1.0, 1.0, 1.3, 2.5)) for _ in wards]
    rising = {w["code"]: rng.choice(list(CRIME_MIX)) for w in wards}
    types, shares = list(CRIME_MIX), list(CRIME_MIX.values())
    path = tmp / "crimes.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(CRIME_HEADER)
        for ward, m, crime_type, r in zip(
                rng.choices(wards, weights=rates, k=rows), rng.choices(range(MONTHS), k=rows),
                rng.choices(types, weights=shares, k=rows), (rng.random() for _ in range(rows)),
                strict=True):
            if m >= MONTHS - 3 and r < 0.12:
                crime_type = rising[str(ward["code"])]
            street = rng.choice(streets[str(ward["code"])])
            west, south, east, north = street["box"]
            lon = west + (east - west) * rng.uniform(0.02, 0.98)
            lat = south + (north - south) * rng.uniform(0.02, 0.98)
            asb = crime_type == "Anti-social behaviour"
            lsoa = f"E0100{int(str(ward['code'])[1]) * 20 + int(str(ward['code'])[3:]):04d}"
            out.writerow([
                "" if asb else f"{rng.getrandbits(256):064x}", months[m].strftime("%Y-%m"),
                FORCE_NAME, FORCE_NAME, f"{lon:.6f}", f"{lat:.6f}",
                f"On or near {street['name']}", lsoa, f"{ward['name']} {lsoa[-3:]}A",
                crime_type, "" if asb else rng.choice(OUTCOMES), ""])
    return path




def seed(url: str, members: int, tmp: Path, areas: list[dict[str, object]]
         ) -> dict[str, object]:
    """Build the schema and fill the areas, members and staff; returns what the
    measurements need."""
    import pyotp

    from core.areas import import_areas
    from core.extensions import db
    from core.models import Area, Organisation, Staff
    from core.schema import upgrade_database
    from core.security import hash_password
    from core.testing.pytest_plugin import DEFAULT_PASSWORD

    app = make_app(url)
    with app.app_context():
        upgrade_database()
        start = time.perf_counter()
        with areas_csv(tmp, areas).open() as fh:
            import_areas(fh)
        org = Organisation(slug="bench-police", name=FORCE_NAME, kind="police")
        force = db.session.scalar(select(Area).where(Area.code == "F1"))
        secret = pyotp.random_base32()
        staff = Staff(email="supervisor@bench.example", name="Force Supervisor",
                      role="supervisor", organisation=org, areas=[force],
                      password_hash=hash_password(DEFAULT_PASSWORD), totp_secret=secret)
        db.session.add_all([org, staff])
        db.session.commit()
        conn = db.session.connection()
        streets = DISTRICTS * WARDS * STREETS
        # Member g lives on the n-th street in code order (n = g mod streets), in house
        # k * 2 / 3 of it, k being the member's place on the street: 1.5 to a household.
        conn.exec_driver_sql("""
            CREATE TEMPORARY TABLE street_no AS
            SELECT row_number() OVER (ORDER BY code) - 1 AS n, id FROM area
            WHERE level = 'street'""")
        now = datetime.now(UTC).isoformat()
        conn.exec_driver_sql(f"""
            INSERT INTO member (id, email, name, address_line, postcode, area_id, language,
                min_priority, demographics, privacy_notice_version, privacy_accepted_at,
                email_verified_at, opted_out_at, registration_method, created_at,
                auth_version)
            SELECT g, 'm' || g || '@example.org', 'Member ' || g,
                (1 + (g / {streets}) * 2 / 3) || ' Bench Road', 'BE' || (1 + s.n / 100)
                    || ' ' || mod(s.n, 10) || 'AB', s.id, 'en', 5,
                CASE WHEN {h('g', 1, 10)} < 7 THEN json_build_object(
                    'age_band', (ARRAY{list(AGE_BANDS)})[1 + {h('g', 2, 5)}],
                    'ethnic_group', CASE WHEN {h('g', 3, 2)} = 0 THEN
                        (ARRAY{list(ETHNIC_GROUPS)})[1 + {h('g', 4, 5)}] END)
                ELSE '{{}}'::json END,
                '1', '{now}', '{now}',
                CASE WHEN {h('g', 5, 50)} = 0 THEN timestamptz '{now}' END,
                'import', '{now}', 0
            FROM generate_series(1, {members}) g
            JOIN street_no s ON s.n = mod(g, {streets})""")
        # A year of indicators on every area, and a few "You said, we did" updates.
        conn.exec_driver_sql("""
            INSERT INTO insights_indicator (area_id, name, value)
            SELECT id, 'imd_decile', 1 + mod(id * 7, 10) FROM area""")
        conn.exec_driver_sql(f"""
            INSERT INTO insights_feedback (area_id, staff_id, summary, created_at)
            SELECT id, {staff.id}, 'Speeding on ' || name,
                   now() - interval '1 day' * mod(id * 13, 120)
            FROM area WHERE level = 'ward' AND mod(id, 3) = 0""")
        for table in ("member", "area"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
        db.session.commit()
        settle(db, ("area", "member", "insights_indicator", "insights_feedback"))
        seed_s = time.perf_counter() - start
        district = db.session.scalar(select(Area).where(Area.code == "D0"))
        in_district = db.session.scalar(text(
            "SELECT count(*) FROM member m JOIN area a ON a.id = m.area_id "
            "WHERE a.path LIKE :path AND m.opted_out_at IS NULL"),
            {"path": district.path + "%"})
        print(f"seeded {len(areas)} areas and {members} members in {seed_s:.1f} s "
              f"({in_district} members not opted out in District 0)")
        found = {"staff_id": staff.id, "secret": secret, "district_id": district.id,
                 "in_district": in_district, "seed_s": seed_s}
        db.session.remove()
        db.engine.dispose()
    return found


def settle(db, tables: tuple[str, ...]) -> None:  # noqa: ANN001 - Flask-SQLAlchemy
    """VACUUM ANALYZE fresh rows (hint bits, visibility map, statistics), then a
    checkpoint, so that what is timed next does not pay for the seeding."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
        for table in tables:
            auto.exec_driver_sql(f"VACUUM ANALYZE {table}")
        auto.exec_driver_sql("CHECKPOINT")


def time_import(url: str, crimes: Path, rows: int) -> dict[str, float]:
    """Import the crime file (then again, replacing it), and COPY the same placed rows
    into a scratch table shaped like the crime table; seconds."""
    from core.extensions import db
    from plugins.insights.crime import import_crimes

    app = make_app(url)
    with app.app_context():
        with crimes.open(encoding="utf-8-sig", newline="") as fh:
            start = time.perf_counter()
            result = import_crimes(fh)
            import_s = time.perf_counter() - start
        if result.rows != rows or result.by_point != rows:
            raise SystemExit(f"the import placed {result.by_point} of {result.rows} rows, "
                             f"{rows} expected: {result.summary()}")
        print(result.summary())
        settle(db, ("insights_crime",))
        with crimes.open(encoding="utf-8-sig", newline="") as fh:
            start = time.perf_counter()
            again = import_crimes(fh)
            reimport_s = time.perf_counter() - start
        if again.rows != rows or again.replaced != rows:
            raise SystemExit(f"the re-import did not replace every crime: {again.summary()}")
        settle(db, ("insights_crime",))

        conn = db.session.connection()
        conn.exec_driver_sql(
            "CREATE TABLE scratch_crime (LIKE insights_crime INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS INCLUDING INDEXES)")
        conn.exec_driver_sql(
            "ALTER TABLE scratch_crime ADD FOREIGN KEY (area_id) REFERENCES area (id)")
        db.session.commit()
        raw = db.engine.raw_connection()
        try:
            buffer = io.BytesIO()
            with raw.cursor() as cursor, cursor.copy(
                    "COPY (SELECT * FROM insights_crime ORDER BY id) TO STDOUT") as copy:
                for block in copy:
                    buffer.write(block)
            raw.commit()
            start = time.perf_counter()
            with raw.cursor() as cursor, cursor.copy("COPY scratch_crime FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            raw.commit()
            copy_s = time.perf_counter() - start
            with raw.cursor() as cursor:
                copied = cursor.execute("SELECT count(*) FROM scratch_crime").fetchone()[0]
                cursor.execute("DROP TABLE scratch_crime")
            raw.commit()
        finally:
            raw.close()
        if copied != rows:
            raise SystemExit(f"the baseline copied {copied} rows, {rows} expected")
        db.session.remove()
        db.engine.dispose()
    return {"import_s": import_s, "reimport_s": reimport_s, "copy_s": copy_s}


def time_refresh(url: str) -> float:
    """The job: every area's figures; then, for the page's trend table, eleven earlier
    months of coverage snapshots made up from this month's (not timed)."""
    from core.extensions import db
    from plugins.insights.figures import refresh

    app = make_app(url)
    with app.app_context():
        start = time.perf_counter()
        count = refresh()
        refresh_s = time.perf_counter() - start
        print(f"refreshed the figures of {count} areas in {refresh_s:.2f} s")
        db.session.execute(text("""
            INSERT INTO insights_snapshot (area_id, month, households, registered)
            SELECT area_id, (month - interval '1 month' * k)::date, households,
                   (registered * (1 - 0.03 * k))::int
            FROM insights_snapshot, generate_series(1, 11) k"""))
        db.session.commit()
        settle(db, ("insights_figures", "insights_snapshot"))
        db.session.remove()
        db.engine.dispose()
    return refresh_s






def check_page(reply, seeded: dict[str, object]) -> None:  # noqa: ANN001 - TestResponse
    """Stop the benchmark (exit status 1) unless the dashboard shows District 0, its
    members as the job counted them, and its 20 wards ranked under "Where to focus"."""
    if reply.status_code != 200:
        raise SystemExit(f"the dashboard answered {reply.status_code} {reply.location}")
    html = reply.get_data(as_text=True)
    if not re.search(r"<h1[^>]*>\s*District 0\s*</h1>", html):
        raise SystemExit(f"the dashboard does not show District 0: {html[:500]!r}")
    if f"{seeded['in_district']:,}" not in html:
        raise SystemExit(f"the dashboard does not show {seeded['in_district']:,} members")
    found = re.search(r'<ol[^>]*id="focus"[^>]*>(.*?)</ol>', html, re.S)
    if "Where to focus" not in html:
        found = None
    ranked = re.findall(r">(Ward 0\.\d+)</a>", found.group(1)) if found else []
    if sorted(ranked) != sorted(f"Ward 0.{w}" for w in range(WARDS)):
        raise SystemExit(f"the dashboard's \"Where to focus\" ranks {ranked}, not the "
                         f"{WARDS} wards of District 0")


def check_map(reply) -> None:  # noqa: ANN001 - TestResponse
    if reply.status_code != 200:
        raise SystemExit(f"the map's GeoJSON answered {reply.status_code}")
    found = reply.get_json()
    names = sorted(f["properties"]["name"] for f in found["features"])
    if names != sorted(f"Ward 0.{w}" for w in range(WARDS)) or any(
            f["properties"]["class"] is None for f in found["features"]):
        raise SystemExit(f"the map's GeoJSON has the features {names}")


#: A table the statement reads from: after FROM or JOIN (quoted or not).
TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"?([a-z_][a-z0-9_]*)"?', re.I)


def tables_of(statement: str) -> set[str]:
    return {t.lower() for t in TABLE.findall(statement)}


def reads_member(statement: str) -> bool:
    """Whether the statement names the member table anywhere (its columns come as
    ``member.<column>``; ``member_id``, ``members`` and the like are other words)."""
    return re.search(r'\bmember\b', statement) is not None


def measure(url: str, seeded: dict[str, object], runs: int, warmups: int
            ) -> dict[str, object]:
    """Time the page, its map and the bare statement alternately; medians in ms. The
    page's statements are timed and recorded (SQLAlchemy's cursor events: a few µs
    each)."""
    from core.extensions import db

    app = make_app(url)
    client = app.test_client()
    sign_in(client, str(seeded["secret"]))
    page, geojson = "/insights/?area=D0", "/insights/areas.geojson?area=D0"
    district = seeded["district_id"]
    sql = ("SELECT a.id, a.code, a.name, a.level, a.parent_id, a.path, a.households, "
           "f.households, f.registered, f.members, f.crimes, f.crimes_before, "
           "f.crime_types, f.concerns, f.demographics, f.score, f.refreshed_at "
           "FROM area a LEFT JOIN insights_figures f ON f.area_id = a.id "
           f"WHERE a.id = {district} OR a.parent_id = {district} ORDER BY a.name")
    with app.app_context():
        engine = db.engine
    spent = [0.0]
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info["bench_start"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        spent[0] += time.perf_counter() - conn.info.pop("bench_start")
        statements.append(statement)

    page_ms: list[float] = []
    map_ms: list[float] = []
    base_ms: list[float] = []
    sql_ms: list[float] = []
    page_statements: list[str] = []
    map_statements: list[str] = []
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(
                hide_password=False)) as raw:
            for n in range(warmups + runs):
                spent[0] = 0.0
                statements.clear()
                start = time.perf_counter()
                reply = client.get(page)
                elapsed = time.perf_counter() - start
                check_page(reply, seeded)
                if n >= warmups:
                    page_ms.append(elapsed * 1000)
                    sql_ms.append(spent[0] * 1000)
                    page_statements = list(statements)

                statements.clear()
                start = time.perf_counter()
                reply = client.get(geojson)
                elapsed = time.perf_counter() - start
                check_map(reply)
                if n >= warmups:
                    map_ms.append(elapsed * 1000)
                    map_statements = list(statements)

                start = time.perf_counter()
                with raw.cursor() as cursor:
                    rows = cursor.execute(sql).fetchall()
                elapsed = time.perf_counter() - start
                if n >= warmups:
                    base_ms.append(elapsed * 1000)
            # A control for the check of the member table: the contacts page lists
            # members, so its statements must be seen reading it.
            statements.clear()
            if client.get("/insights/contacts?area=D0").status_code != 200 or not any(
                    reads_member(s) for s in statements):
                raise SystemExit("the contacts page was not seen reading the member table")
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        engine.dispose()
    if len(rows) != 1 + WARDS or any(r[7] is None for r in rows):
        raise SystemExit(f"the bare statement found {len(rows)} areas, some without figures")
    return {
        "page_ms": statistics.median(page_ms), "page_min_ms": min(page_ms),
        "page_max_ms": max(page_ms), "map_ms": statistics.median(map_ms),
        "map_min_ms": min(map_ms), "map_max_ms": max(map_ms),
        "base_ms": statistics.median(base_ms), "base_min_ms": min(base_ms),
        "base_max_ms": max(base_ms), "sql_ms": statistics.median(sql_ms),
        "page_statements": page_statements, "map_statements": map_statements,
    }




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--crimes", type=int, default=CRIMES)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=12)
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch database (to profile the page on it)")
    args = parser.parse_args()
    from core.testing.pytest_plugin import fresh_database_url

    base = os.environ.get("COMMONWATCH_BENCH_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
    started = time.perf_counter()
    areas = plan_areas()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url = fresh_database_url(base, "bench_insights", tmp)
        try:
            seeded = seed(url, args.members, tmp, areas)
            months = crime_months(datetime.now(UTC).date())
            crimes = crimes_csv(tmp, areas, args.crimes, months)
            imported = time_import(url, crimes, args.crimes)
            refresh_s = time_refresh(url)
            got = measure(url, seeded, args.runs, args.warmups)
        finally:
            if args.keep:
                print(f"kept {url}")
            else:
                drop_database(url)
    ratio = got["page_ms"] / got["base_ms"]
    page_tables = sorted(set().union(*map(tables_of, got["page_statements"])))
    on_members = [s for s in got["page_statements"] + got["map_statements"]
                  if reads_member(s)]
    verdict = {True: "PASS", False: "FAIL"}
    print(f"import of {args.crimes} crimes ({months[0]:%Y-%m} to {months[-1]:%Y-%m}): "
          f"{imported['import_s']:.2f} s ({args.crimes / imported['import_s']:,.0f} rows/s); "
          f"again, replacing them: {imported['reimport_s']:.2f} s")
    print(f"baseline, bare COPY of the same placed rows: {imported['copy_s']:.2f} s "
          f"(import / COPY {imported['import_s'] / imported['copy_s']:.1f})")
    print(f"the job, figures.refresh() of {len(areas)} areas: {refresh_s:.2f} s")
    print(f"dashboard of District 0 ({seeded['in_district']} members, {WARDS} wards): "
          f"median {got['page_ms']:.1f} ms (min {got['page_min_ms']:.1f}, max "
          f"{got['page_max_ms']:.1f}) over {args.runs} runs")
    print(f"  its SQL: {len(got['page_statements'])} statements, {got['sql_ms']:.1f} ms "
          f"(median), reading {', '.join(page_tables)}; the rest, in Python: "
          f"{got['page_ms'] - got['sql_ms']:.1f} ms")
    print(f"map GeoJSON of its wards: median {got['map_ms']:.1f} ms (min "
          f"{got['map_min_ms']:.1f}, max {got['map_max_ms']:.1f}), "
          f"{len(got['map_statements'])} statements")
    print(f"baseline, the district's and its wards' figures joined with their areas on "
          f"psycopg: median {got['base_ms']:.2f} ms (min {got['base_min_ms']:.2f}, max "
          f"{got['base_max_ms']:.2f}); page / baseline {ratio:.0f}")
    print(f"{verdict[got['page_ms'] < PAGE_GOAL_MS]}: dashboard {got['page_ms']:.1f} ms "
          f"(goal under {PAGE_GOAL_MS} ms)")
    print(f"{verdict[not on_members]}: {len(on_members)} of the page's and the map's "
          f"{len(got['page_statements']) + len(got['map_statements'])} statements read "
          "the member table (goal none: the job counts members, not the page)")
    for statement in on_members:
        print("   ", " ".join(statement.split())[:300])
    print(f"{verdict[imported['import_s'] < IMPORT_GOAL_S]}: import of {args.crimes} "
          f"crimes {imported['import_s']:.2f} s (goal under {IMPORT_GOAL_S} s)")
    print(f"whole benchmark: {time.perf_counter() - started:.1f} s")
    print(f"dashboard_ms={got['page_ms']:.1f} geojson_ms={got['map_ms']:.1f} "
          f"page_sql_ms={got['sql_ms']:.1f} import_50k_s={imported['import_s']:.2f} "
          f"copy_baseline_s={imported['copy_s']:.2f} refresh_s={refresh_s:.2f} "
          f"members={args.members} crimes={args.crimes} ratio={ratio:.1f} "
          f"baseline_sql_ms={got['base_ms']:.2f} "
          f"page_statements={len(got['page_statements'])} "
          f"member_statements={len(on_members)} reimport_s={imported['reimport_s']:.2f} "
          f"seed_s={seeded['seed_s']:.1f}")


if __name__ == "__main__":
    main()
