"""Benchmark: a survey round's results page, 20,000 responses x 10 questions, on PostgreSQL.

Builds a scratch database with the migrations (``PLUGINS="surveys"``), a force of 4
districts x 5 wards x 10 streets, 20,000 members spread over the streets with their
demographics, and one survey of 10 questions (4 single choice, 2 multiple choice, 2
ratings, a top-3 ranking of 8 priorities, one in words) whose round has a sent response
from every member, every question answered (about 280,000 answers). A supervisor working
force-wide signs in (password and two-factor, through the app's own pages). Then, in one
run, alternately (medians of ``--runs`` after ``--warmups``):

* page: ``GET /surveys/staff/<id>/results?area=<district>`` through Flask's test client,
  the results of one district (about 5,000 respondents), from request to rendered HTML;
* baseline: the page's one aggregate statement
  (``plugins.surveys.results.aggregate_statement``), compiled with its values inlined and
  run straight on psycopg, every row fetched: what PostgreSQL alone needs for the counts.

Goals: the page under 300 ms, and under 2 times the baseline. The page's own SQL is
timed too (its statements, through SQLAlchemy's cursor events), split into the aggregate,
the query of the answers in words and the rest; what remains of the page is Python
(routing, sign-in checks, the figures, the template).

The 12 warm-ups put the page in the steady state of a long-running server: psycopg
prepares a statement once it has run 5 times on a connection, and PostgreSQL plans a
prepared statement 5 times for its values before it may keep one generic plan, so from
the 11th request on the page's statements may run on plans made without their values.

Its last line is machine-readable:
``results_page_ms=<f> baseline_sql_ms=<f> ratio=<page/baseline> page_sql_ms=<f>
page_statements=<n> seed_s=<f> responses=<n> questions=10`` (page_sql_ms: the median
time of all the page's statements; seed_s: the seeding after the migrations).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from lib.common import drop_database, h, sign_in
from markupsafe import escape
from sqlalchemy import event, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

RESPONSES = 20_000
DISTRICTS, WARDS, STREETS = 4, 5, 10
PAGE_GOAL_MS = 300
RATIO_GOAL = 2.0
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AGE_BANDS = ("under_25", "25_44", "45_64", "65_74", "75_plus")
ETHNIC_GROUPS = ("asian", "black", "mixed", "white", "other")
#: (kind, text, choices) of the survey's 10 questions, in order.
QUESTIONS = [
    ("single", "How safe do you feel walking alone in your area after dark?",
     ["Very safe", "Fairly safe", "A bit unsafe", "Very unsafe"]),
    ("single", "How often do you see police officers on foot in your area?",
     ["Every day", "Every week", "Every month", "Less often", "Never"]),
    ("multiple", "Which of these have you seen in the last three months?",
     ["Litter or fly-tipping", "Graffiti", "Drug dealing", "Speeding", "Noisy neighbours",
      "None of these"]),
    ("rating", "How well do the police deal with the things that matter to you?",
     ["Very badly", "Very well"]),
    ("single", "Have you been a victim of crime in the last year?",
     ["Yes", "No", "Not sure", "Rather not say"]),
    ("multiple", "How would you like to hear from us?",
     ["Email", "Text message", "Phone call", "Letter", "Social media"]),
    ("rating", "How satisfied are you with the alerts you receive?",
     ["Not at all", "Completely"]),
    ("single", "Would you join a local watch scheme?",
     ["Already a member", "Yes", "Maybe", "No", "Don't know"]),
    ("rank", "What should be our top 3 local priorities?",
     ["Anti-social behaviour", "Burglary", "Drug dealing", "Speeding", "Vehicle crime",
      "Violence", "Fraud and scams", "Shoplifting"]),
    ("text", "Is there anything else you would like to tell us?", []),
]


def make_app(url: str, **config: object):  # noqa: ANN201 - Flask
    from core import create_app

    return create_app({
        "DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "bench",
        "PLUGINS": "surveys", "BASE_URL": "https://alerts.example.org", **config,
    })


def areas_csv(tmp: Path) -> Path:
    path = tmp / "areas.csv"
    lines = ["code,name,level,parent_code", "F1,Bench Force,force,"]
    for d in range(DISTRICTS):
        lines.append(f"D{d},District {d},district,F1")
        for w in range(WARDS):
            lines.append(f"W{d}.{w},Ward {d}.{w},ward,D{d}")
            lines += [f"S{d}.{w}.{s},Street {d}.{w}.{s},street,W{d}.{w}"
                      for s in range(STREETS)]
    path.write_text("\n".join(lines) + "\n")
    return path




def answer_sql(question_id: int, kind: str, salt: int, choices: int) -> str:
    """An ``INSERT ... SELECT`` of every response's answers to one question."""
    head = "INSERT INTO surveys_answer (response_id, question_id, value, rank, text) "
    if kind == "single":
        return head + (f"SELECT r.id, {question_id}, {h('r.id', salt, choices)}, NULL, NULL "
                       "FROM surveys_response r")
    if kind == "rating":
        return head + (f"SELECT r.id, {question_id}, 1 + {h('r.id', salt, 5)}, NULL, NULL "
                       "FROM surveys_response r")
    if kind == "multiple":  # 1 to 3 different choices
        return head + (f"SELECT r.id, {question_id}, "
                       f"mod({h('r.id', salt, choices)} + k, {choices}), NULL, NULL "
                       "FROM surveys_response r, generate_series(0, 2) k "
                       f"WHERE k <= {h('r.id', salt + 1, 3)}")
    if kind == "rank":  # 3 different choices (an odd step is prime to 8), ranked 1 to 3
        return head + (f"SELECT r.id, {question_id}, "
                       f"mod({h('r.id', salt, choices)} + k * (1 + 2 * {h('r.id', salt + 1, 4)}),"
                       f" {choices}), k + 1, NULL "
                       "FROM surveys_response r, generate_series(0, 2) k")
    return head + (f"SELECT r.id, {question_id}, NULL, NULL, "
                   "'More patrols near ' || a.name || ' please (' || r.id || ')' "
                   "FROM surveys_response r JOIN area a ON a.id = r.area_id")


def seed(url: str, responses: int, tmp: Path) -> dict[str, object]:
    """Fill the scratch database; returns what the measurements need."""
    import pyotp

    from core.areas import import_areas
    from core.extensions import db
    from core.models import Area, Organisation, Staff
    from core.schema import upgrade_database
    from core.security import hash_password
    from core.testing.pytest_plugin import DEFAULT_PASSWORD
    from plugins.surveys.models import Question, Round, Survey

    app = make_app(url)
    with app.app_context():
        upgrade_database()
        start = time.perf_counter()
        with areas_csv(tmp).open() as fh:
            import_areas(fh)
        org = Organisation(slug="bench-police", name="Bench Police", kind="police")
        force = db.session.scalar(select(Area).where(Area.code == "F1"))
        secret = pyotp.random_base32()
        staff = Staff(email="supervisor@bench.example", name="Force Supervisor",
                      role="supervisor", organisation=org, areas=[force],
                      password_hash=hash_password(DEFAULT_PASSWORD), totp_secret=secret)
        db.session.add_all([org, staff])
        db.session.flush()
        survey = Survey(organisation_id=org.id, created_by_id=staff.id,
                        title="Your neighbourhood 2026",
                        introduction="Tell us how safe you feel.", public_key="bench-survey",
                        invite_days=7, round_days=28, created_at=NOW)
        survey.questions = [Question(position=i, kind=kind, text=words, options=choices,
                                     options_cy=[], required=kind != "text")
                            for i, (kind, words, choices) in enumerate(QUESTIONS)]
        round_ = Round(survey=survey, number=1, sender_id=staff.id, target={}, invite_days=7,
                       opens_at=NOW - timedelta(days=14), closes_at=NOW + timedelta(days=14))
        db.session.add_all([survey, round_])
        db.session.commit()
        conn = db.session.connection()
        streets = DISTRICTS * WARDS * STREETS
        # Member g lives on the g-th street in code order, round robin.
        conn.exec_driver_sql("""
            CREATE TEMPORARY TABLE street_no AS
            SELECT row_number() OVER (ORDER BY code) - 1 AS n, id FROM area
            WHERE level = 'street'""")
        conn.exec_driver_sql(f"""
            INSERT INTO member (id, email, name, address_line, postcode, area_id, language,
                min_priority, demographics, privacy_notice_version, privacy_accepted_at,
                email_verified_at, registration_method, created_at, auth_version)
            SELECT g, 'm' || g || '@example.org', 'Member ' || g, g || ' High Street',
                'AB1 2CD', s.id, 'en', 5,
                json_build_object(
                    'age_band', (ARRAY{list(AGE_BANDS)})[1 + {h('g', 1, 5)}],
                    'ethnic_group', (ARRAY{list(ETHNIC_GROUPS)})[1 + {h('g', 2, 5)}]),
                '1', '{NOW.isoformat()}', '{NOW.isoformat()}', 'import',
                '{NOW.isoformat()}', 0
            FROM generate_series(1, {responses}) g
            JOIN street_no s ON s.n = mod(g, {streets})""")
        conn.exec_driver_sql(f"""
            INSERT INTO surveys_response (id, round_id, member_id, state, area_id, age_band,
                ethnic_group, profile_consent, started_at, submitted_at)
            SELECT m.id, {round_.id}, m.id, 'submitted', m.area_id,
                m.demographics->>'age_band', m.demographics->>'ethnic_group', false,
                timestamptz '{NOW.isoformat()}' - interval '1 minute' * mod(m.id, 20000),
                timestamptz '{NOW.isoformat()}' - interval '1 minute' * mod(m.id, 20000)
                    + interval '4 minutes'
            FROM member m""")
        for i, q in enumerate(survey.questions):
            conn.exec_driver_sql(answer_sql(q.id, q.kind, 10 * (i + 1), len(q.options)))
        for table in ("member", "area", "surveys_response", "surveys_answer"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
        db.session.commit()
        answers = db.session.scalar(text("SELECT count(*) FROM surveys_answer"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
            for table in ("area", "member", "surveys_response", "surveys_answer"):
                auto.exec_driver_sql(f"VACUUM ANALYZE {table}")
            auto.exec_driver_sql("CHECKPOINT")
        seed_s = time.perf_counter() - start
        district = db.session.scalar(select(Area).where(Area.code == "D0"))
        in_district = db.session.scalar(text(
            "SELECT count(*) FROM surveys_response r JOIN area a ON a.id = r.area_id "
            "WHERE a.path LIKE :path"), {"path": district.path + "%"})
        print(f"seeded {streets + DISTRICTS * (WARDS + 1) + 1} areas, {responses} members, "
              f"{responses} responses and {answers} answers in {seed_s:.1f} s")
        found = {"survey_id": survey.id, "round_id": round_.id, "staff_id": staff.id,
                 "secret": secret, "in_district": in_district, "answers": answers,
                 "seed_s": seed_s}
        db.session.remove()
        db.engine.dispose()
    return found






def baseline_sql(app, seeded: dict[str, object]) -> str:  # noqa: ANN001 - Flask
    """The page's aggregate statement for the district, its values inlined."""
    from core.extensions import db
    from core.models import Area, Staff
    from plugins.surveys.models import Round
    from plugins.surveys.results import Filters, aggregate_statement

    with app.app_context():
        staff = db.session.get(Staff, seeded["staff_id"])
        round_ = db.session.get(Round, seeded["round_id"])
        district = db.session.scalar(select(Area).where(Area.code == "D0"))
        statement = aggregate_statement(round_, staff, Filters(area=district))
        # Named parameters: no "%" doubled for psycopg's format style in the LIKEs.
        sql = str(statement.compile(dialect=postgresql.dialect(paramstyle="named"),
                                    compile_kwargs={"literal_binds": True}))
        db.session.remove()
    return sql


def check_page(reply, seeded: dict[str, object]) -> None:  # noqa: ANN001 - TestResponse
    """Stop the benchmark (exit status 1) unless the page shows the district's respondent
    count and every question."""
    if reply.status_code != 200:
        raise SystemExit(f"the results page answered {reply.status_code} {reply.location}")
    html = reply.get_data(as_text=True)
    found = re.search(r'id="respondents"[^>]*>(.*?)</', html, re.S)
    said = " ".join(found.group(1).split()) if found else ""
    if f"{seeded['in_district']} people answered" not in said or "District 0" not in said:
        raise SystemExit(f"the results page is wrong: {seeded['in_district']} respondents in "
                         f"District 0 expected, it says {said or html[:500]!r}")
    missing = [words for _kind, words, _choices in QUESTIONS if str(escape(words)) not in html]
    if missing:
        raise SystemExit(f"the results page lacks the questions {missing}")


def kind_of(statement: str) -> str:
    """Which of the page's statements this is, for the breakdown."""
    if "UNION ALL" in statement:
        return "aggregate"
    if "surveys_answer.text" in statement:
        return "texts"
    return "other"


def measure(url: str, seeded: dict[str, object], runs: int, warmups: int
            ) -> dict[str, float]:
    """Time the page and the bare statement alternately; medians in ms. The page's
    statements are timed too (SQLAlchemy's cursor events: a few µs each)."""
    from core.extensions import db

    app = make_app(url)
    client = app.test_client()
    sign_in(client, str(seeded["secret"]))
    path = f"/surveys/staff/{seeded['survey_id']}/results?area=D0"
    sql = baseline_sql(app, seeded)
    with app.app_context():
        engine = db.engine
    spent: dict[str, float] = {}
    counted: list[int] = [0]

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info["bench_start"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        kind = kind_of(statement)
        spent[kind] = spent.get(kind, 0.0) + time.perf_counter() - conn.info.pop("bench_start")
        counted[0] += 1

    page_ms: list[float] = []
    base_ms: list[float] = []
    sql_ms: dict[str, list[float]] = {"aggregate": [], "texts": [], "other": [], "all": []}
    statements = 0
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(
                hide_password=False)) as raw:
            for n in range(warmups + runs):
                spent.clear()
                counted[0] = 0
                start = time.perf_counter()
                reply = client.get(path)
                elapsed = time.perf_counter() - start
                check_page(reply, seeded)
                if n >= warmups:
                    page_ms.append(elapsed * 1000)
                    for kind in ("aggregate", "texts", "other"):
                        sql_ms[kind].append(spent.get(kind, 0.0) * 1000)
                    sql_ms["all"].append(sum(spent.values()) * 1000)
                    statements = counted[0]
                start = time.perf_counter()
                with raw.cursor() as cursor:
                    rows = cursor.execute(sql).fetchall()
                elapsed = time.perf_counter() - start
                if n >= warmups:
                    base_ms.append(elapsed * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        engine.dispose()
    overall = [r for r in rows if r[0] is None]
    if overall != [(None, None, -1, seeded["in_district"])]:
        raise SystemExit(f"the bare statement counted {overall}")
    return {
        "page_ms": statistics.median(page_ms), "page_min_ms": min(page_ms),
        "page_max_ms": max(page_ms), "base_ms": statistics.median(base_ms),
        "base_min_ms": min(base_ms), "base_max_ms": max(base_ms),
        **{f"{kind}_sql_ms": statistics.median(v) for kind, v in sql_ms.items()},
        "page_statements": statements, "rows": len(rows),
    }




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=RESPONSES)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=12)
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch database (to profile the page on it)")
    args = parser.parse_args()
    from core.testing.pytest_plugin import fresh_database_url

    base = os.environ.get("COMMONWATCH_BENCH_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        url = fresh_database_url(base, "bench_surveys", Path(tmpdir))
        try:
            seeded = seed(url, args.responses, Path(tmpdir))
            got = measure(url, seeded, args.runs, args.warmups)
        finally:
            if args.keep:
                print(f"kept {url}")
            else:
                drop_database(url)
    ratio = got["page_ms"] / got["base_ms"]
    print(f"results page, district of {seeded['in_district']} respondents: median "
          f"{got['page_ms']:.1f} ms (min {got['page_min_ms']:.1f}, max {got['page_max_ms']:.1f}) "
          f"over {args.runs} runs")
    print(f"  its SQL: {got['page_statements']} statements, {got['all_sql_ms']:.1f} ms "
          f"(the aggregate {got['aggregate_sql_ms']:.1f}, the answers in words "
          f"{got['texts_sql_ms']:.1f}, the other {got['page_statements'] - 2} "
          f"{got['other_sql_ms']:.1f}); the rest, in Python: "
          f"{got['page_ms'] - got['all_sql_ms']:.1f} ms (medians)")
    print(f"baseline, the aggregate statement on psycopg ({got['rows']} rows): median "
          f"{got['base_ms']:.1f} ms (min {got['base_min_ms']:.1f}, "
          f"max {got['base_max_ms']:.1f})")
    verdict = {True: "PASS", False: "FAIL"}
    print(f"{verdict[got['page_ms'] < PAGE_GOAL_MS]}: page {got['page_ms']:.1f} ms "
          f"(goal under {PAGE_GOAL_MS} ms)")
    print(f"{verdict[ratio < RATIO_GOAL]}: page / baseline {ratio:.2f} "
          f"(goal under {RATIO_GOAL:g})")
    print(f"whole benchmark: {time.perf_counter() - started:.1f} s")
    print(f"results_page_ms={got['page_ms']:.1f} baseline_sql_ms={got['base_ms']:.1f} "
          f"ratio={ratio:.2f} page_sql_ms={got['all_sql_ms']:.1f} "
          f"page_statements={got['page_statements']} seed_s={seeded['seed_s']:.1f} "
          f"responses={args.responses} questions={len(QUESTIONS)}")


if __name__ == "__main__":
    main()
