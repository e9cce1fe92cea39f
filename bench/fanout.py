"""Benchmark: a county-wide alert to 170,000 of 1,000,000 members, on PostgreSQL + Redis.

Seeds a scratch database with 1,000,000 members across 6 counties (170,000 in the first,
Hertfordshire's size), every member with email and a third with SMS too, all consenting
to the force, and counts their reach (``commonwatch refresh-reach --full``, as after a
bulk load). Then, in one run:

* fanout: ``core.messaging.send`` of one alert to the whole first county, from the send
  call until every delivery row is committed and every delivery job is on the RQ queue;
  run in a fresh process, whose peak memory is reported;
* baseline: a bare ``INSERT ... SELECT`` of the same rows into a scratch table with the
  same indexes, in the same database: the physical limit;
* the reach preview of an alert to all 1,000,000 members: once straight after the send
  (the county's counts are stale then, so its 170,000 members are counted one by one),
  then after the sweep has recounted them (the usual case, and the figure reported);
* delivery: 2 RQ workers (``commonwatch worker --burst``) draining the alert's deliveries
  (the county's emails to Postfix's ``smtp-sink`` on loopback, the SMS to the development
  channel), statuses written; and the same run's ceiling, a plain ``smtplib`` blast of
  the same email from 2 processes to the same sink.

``smtp-sink`` is taken from Debian's postfix package (downloaded and unpacked into
``bench/.cache`` on first use, nothing installed), or from ``COMMONWATCH_SMTP_SINK``.

Its last line is machine-readable:
``fanout_s=<f> baseline_s=<f> ratio=<fanout/baseline> preview_1m_ms=<f> smtp_per_s=<f>
smtp_ceiling_per_s=<f> fanout_rss_mb=<f>``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import smtplib
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

MEMBERS = 1_000_000
COUNTY = 170_000
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def make_app(url: str, redis_url: str | None, **config: object):  # noqa: ANN201 - Flask
    from core import create_app

    return create_app({
        "DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": "bench",
        "PLUGINS": "none", "AREA_LEVELS": "country,county,ward,street",
        "RQ_QUEUES": "bench", "BASE_URL": "https://alerts.example.org",
        # The sink and the development channel have no provider's rate to respect.
        "CHANNEL_RATE_LIMITS": {}, **config,
    })


def seed(url: str, members: int, county: int) -> None:
    from core.extensions import db

    app = make_app(url, None)
    with app.app_context():
        db.create_all()
        conn = db.session.connection()
        start = time.perf_counter()
        conn.exec_driver_sql(
            "INSERT INTO area (id, code, name, level, parent_id, path) VALUES "
            "(1, 'N0', 'Nation', 'country', NULL, '/1/')")
        # 6 counties x 20 wards x 50 streets, ids allotted arithmetically.
        conn.exec_driver_sql("""
            INSERT INTO area (id, code, name, level, parent_id, path)
            SELECT 10 + c, 'C' || c, 'County ' || c, 'county', 1, '/1/' || (10 + c) || '/'
            FROM generate_series(0, 5) c""")
        conn.exec_driver_sql("""
            INSERT INTO area (id, code, name, level, parent_id, path)
            SELECT 1000 + c * 20 + w, 'W' || c || '.' || w, 'Ward ' || c || '.' || w, 'ward',
                   10 + c, '/1/' || (10 + c) || '/' || (1000 + c * 20 + w) || '/'
            FROM generate_series(0, 5) c, generate_series(0, 19) w""")
        conn.exec_driver_sql("""
            INSERT INTO area (id, code, name, level, parent_id, path)
            SELECT 100000 + (c * 20 + w) * 50 + s, 'S' || c || '.' || w || '.' || s,
                   'Street ' || s, 'street', 1000 + c * 20 + w,
                   '/1/' || (10 + c) || '/' || (1000 + c * 20 + w) || '/'
                   || (100000 + (c * 20 + w) * 50 + s) || '/'
            FROM generate_series(0, 5) c, generate_series(0, 19) w, generate_series(0, 49) s""")
        conn.exec_driver_sql(
            "INSERT INTO organisation (id, slug, name, kind) "
            "VALUES (1, 'force', 'Bench Police', 'police')")
        # Members 1..county live in county 0; the rest in counties 1-5.
        conn.exec_driver_sql(f"""
            INSERT INTO member (id, email, name, address_line, postcode, area_id, phone,
                language, min_priority, demographics, privacy_notice_version,
                privacy_accepted_at, email_verified_at, registration_method, created_at,
                auth_version)
            SELECT g, 'm' || g || '@example.org', 'Member ' || g, '1 High Street', 'AB1 2CD',
                CASE WHEN g <= {county} THEN 100000 + mod(g, 1000)
                     ELSE 100000 + 1000 + mod(g, 5000) END,
                CASE WHEN mod(g, 3) = 0 THEN '+447400' || lpad(mod(g, 1000000)::text, 6, '0') END,
                'en', 5, '{{}}', '1', now(), now(), 'import', now(), 0
            FROM generate_series(1, {members}) g""")
        conn.exec_driver_sql(f"""
            INSERT INTO member_channel (member_id, channel, by_day, by_night)
            SELECT g, 'email', true, true FROM generate_series(1, {members}) g
            UNION ALL
            SELECT g, 'sms', true, false FROM generate_series(3, {members}, 3) g""")
        conn.exec_driver_sql(f"""
            INSERT INTO member_consent (member_id, organisation_id, given_at, method)
            SELECT g, 1, now(), 'import' FROM generate_series(1, {members}) g""")
        for sql in (
            "SELECT setval(pg_get_serial_sequence('member', 'id'), {members})",
            "SELECT setval(pg_get_serial_sequence('area', 'id'), 200000)",
            "SELECT setval(pg_get_serial_sequence('organisation', 'id'), 1)",
        ):
            conn.exec_driver_sql(sql.format(members=members))
        db.session.commit()
        # Settle the fresh rows (hint bits, visibility map, statistics) so that neither
        # the fan-out nor the baseline pays for the seeding.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
            for table in ("area", "member", "member_channel", "member_consent"):
                auto.exec_driver_sql(f"VACUUM ANALYZE {table}")
            auto.exec_driver_sql("CHECKPOINT")
        print(f"seeded {members} members in {time.perf_counter() - start:.1f} s")
        from core.reach import refresh

        start = time.perf_counter()
        refresh(full=True)
        print(f"counted their reach in {time.perf_counter() - start:.1f} s")


def add_staff(url: str) -> tuple[int, int]:
    from core.extensions import db
    from core.models import Area, Staff

    app = make_app(url, None)
    with app.app_context():
        county = db.session.scalar(select(Area).where(Area.code == "C0"))
        nation = db.session.scalar(select(Area).where(Area.code == "N0"))
        admin = Staff(email="admin@bench.example", name="County Admin", role="force_admin",
                      organisation_id=1, areas=[county], password_hash="-")
        sysadmin = Staff(email="sys@bench.example", name="National Admin",
                         role="system_admin", organisation_id=1, areas=[nation],
                         password_hash="-")
        db.session.add_all([admin, sysadmin])
        db.session.commit()
        return admin.id, sysadmin.id


def draft(staff: object) -> object:
    from core.messaging import Target, create_message

    return create_message(staff, title="Burglary alert", body="Please lock your sheds.",
                          plain_text="Please lock your sheds tonight. Call 101.",
                          category="crime_alert", priority=2, target=Target().to_json())


def run_fanout(url: str, redis_url: str, staff_id: int, out: multiprocessing.Queue) -> None:
    """In a fresh process: send the county-wide alert and report time and memory."""
    from core.extensions import db
    from core.jobs import redis_connection
    from core.messaging import send
    from core.models import Staff

    app = make_app(url, redis_url)
    with app.app_context():
        redis_connection(app).delete("rq:queue:default")
        staff = db.session.get(Staff, staff_id)
        message = draft(staff)
        db.session.add(message)
        db.session.commit()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        people = send(message, staff, at=NOON)
        elapsed = time.perf_counter() - start
        from rq import Queue

        jobs = Queue("default", connection=redis_connection(app)).count
        deliveries = db.session.scalar(select(func.count()).select_from(
            text("delivery")).where(text(f"message_id = {message.id}")))
    out.put({
        "fanout_s": elapsed, "people": people, "jobs": jobs, "deliveries": deliveries,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before,
    })


def baseline(url: str) -> float:
    from core.extensions import db

    app = make_app(url, None)
    with app.app_context():
        conn = db.session.connection()
        conn.exec_driver_sql(
            "CREATE TABLE scratch_delivery (LIKE delivery INCLUDING INDEXES INCLUDING "
            "CONSTRAINTS)")
        conn.exec_driver_sql("CREATE SEQUENCE scratch_delivery_seq")
        db.session.commit()
        start = time.perf_counter()
        conn = db.session.connection()
        conn.exec_driver_sql("""
            INSERT INTO scratch_delivery (id, message_id, member_id, channel, state, queued_at,
                                          attempts)
            SELECT nextval('scratch_delivery_seq'), 1, m.id, mc.channel, 'queued', now(), 0
            FROM member m JOIN member_channel mc ON mc.member_id = m.id
            WHERE m.area_id IN (SELECT id FROM area WHERE left(path, 6) = '/1/10/')
              AND (mc.channel <> 'sms' OR m.phone IS NOT NULL) AND mc.by_day""")
        db.session.commit()
        return time.perf_counter() - start


def time_preview(url: str, staff_id: int, repeats: int = 3) -> tuple[float, float]:
    """(first, best of ``repeats``) preview times in ms of an alert to every member."""
    from core.extensions import db
    from core.messaging import preview
    from core.models import Staff

    app = make_app(url, None)
    with app.app_context():
        staff = db.session.get(Staff, staff_id)
        message = draft(staff)
        db.session.add(message)
        db.session.flush()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = preview(message, staff, at=NOON)
            times.append(time.perf_counter() - start)
        assert result.people == MEMBERS or result.people > 0
        db.session.rollback()
        print(f"preview: {result.people} people, {result.deliveries_by_channel}")
        return times[0] * 1000, min(times) * 1000


def recount(url: str) -> float:
    """What the periodic sweep does after a send: recount the areas that changed."""
    from core.reach import refresh

    app = make_app(url, None)
    with app.app_context():
        start = time.perf_counter()
        refresh()
        return time.perf_counter() - start


# -- delivery ---------------------------------------------------------------------------------


def smtp_sink_command(port: int) -> list[str]:
    """How to run Postfix's smtp-sink on loopback ``port``, fetching it if need be."""
    given = os.environ.get("COMMONWATCH_SMTP_SINK")
    cache = Path(__file__).parent / ".cache" / "postfix"
    binary = Path(given) if given else cache / "usr" / "sbin" / "smtp-sink"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "postfix"], cwd=cache, check=True,
                       stdout=subprocess.DEVNULL)
        package = next(cache.glob("postfix_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(package), str(cache)], check=True)
    command = [str(binary), "-c", f"127.0.0.1:{port}", "1024"]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    return command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    lib = Path(__file__).parent / ".cache" / "postfix" / "usr" / "lib" / "postfix"
    sink = subprocess.Popen(smtp_sink_command(port), stdout=subprocess.DEVNULL,
                            env={**os.environ, "LD_LIBRARY_PATH": str(lib)})
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sink
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("smtp-sink did not start")


def work(url: str, redis_url: str, port: int) -> None:
    """One ``commonwatch worker --burst`` sending to the sink."""
    from core.jobs import run_worker

    app = make_app(url, redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    run_worker(app, ["urgent", "default"], burst=True, logging_level="WARNING")


def deliver(url: str, redis_url: str, port: int) -> tuple[float, int]:
    """Drain the queued alert with 2 workers; (seconds, emails sent)."""
    from core.extensions import db

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=work, args=(url, redis_url, port)) for _ in range(2)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    app = make_app(url, None)
    with app.app_context():
        states = dict(db.session.execute(text(
            "SELECT channel || ':' || state, count(*) FROM delivery GROUP BY 1")).all())
    print("delivery states:", states)
    return elapsed, states.get("email:sent", 0)


def sample_email(url: str) -> str:
    """One of the alert's emails exactly as the workers built it, for the ceiling."""
    from core.delivery import outgoing
    from core.extensions import db, mail
    from core.models import Delivery, Message

    app = make_app(url, None)
    with app.app_context():
        message = db.session.scalars(select(Message).order_by(Message.id.desc())).first()
        first = db.session.scalar(select(Delivery.id).where(
            Delivery.message_id == message.id, Delivery.channel == "email").limit(1))
        item = outgoing(message, [first])["email"][0]
        from flask_mail import Message as MailMessage

        mail_message = MailMessage(subject=item.subject, recipients=[item.address],
                                   body=item.text, html=item.html,
                                   sender=app.config["MAIL_DEFAULT_SENDER"])
        assert mail  # the same Flask-Mail the workers use
        return mail_message.as_string()


def blast(port: int, raw: str, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            smtp.sendmail("no-reply@example.org", [f"m{n}@example.org"], raw)


def ceiling(port: int, raw: str, count: int) -> float:
    """Emails per second a plain smtplib blast from 2 processes gets through the sink."""
    context = multiprocessing.get_context("spawn")
    blasters = [context.Process(target=blast, args=(port, raw, count // 2)) for _ in range(2)]
    start = time.perf_counter()
    for blaster in blasters:
        blaster.start()
    for blaster in blasters:
        blaster.join()
    return (count // 2 * 2) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--county", type=int, default=COUNTY)
    args = parser.parse_args()
    from core.testing.pytest_plugin import fresh_database_url

    base = os.environ.get("COMMONWATCH_BENCH_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("COMMONWATCH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database_url(base, "bench_fanout", Path(tmp))
    seed(url, args.members, args.county)
    admin_id, sysadmin_id = add_staff(url)

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=run_fanout, args=(url, redis_url, admin_id, out))
    child.start()
    result = out.get()
    child.join()
    print("fanout:", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                 for k, v in result.items()}))
    baseline_s = baseline(url)
    cold_ms, _ = time_preview(url, sysadmin_id, repeats=1)
    recount_s = recount(url)
    _, preview_ms = time_preview(url, sysadmin_id)
    print(f"preview straight after the send: {cold_ms:.0f} ms; the sweep's recount took "
          f"{recount_s:.2f} s; then {preview_ms:.1f} ms")

    port = free_port()
    sink = start_sink(port)
    try:
        seconds, emails = deliver(url, redis_url, port)
        smtp_per_s = emails / seconds
        print(f"delivery: {emails} emails in {seconds:.1f} s")
        ceiling_per_s = ceiling(port, sample_email(url), min(emails, 60_000) or 60_000)
    finally:
        sink.terminate()
        sink.wait()
    print(f"fanout_s={result['fanout_s']:.3f} baseline_s={baseline_s:.3f} "
          f"ratio={result['fanout_s'] / baseline_s:.2f} preview_1m_ms={preview_ms:.1f} "
          f"smtp_per_s={smtp_per_s:.0f} smtp_ceiling_per_s={ceiling_per_s:.0f} "
          f"fanout_rss_mb={result['rss_mb']:.0f}")


if __name__ == "__main__":
    main()
