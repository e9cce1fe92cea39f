"""Nothing is lost when workers die or Redis loses its data: PostgreSQL is the record.

Real worker processes (``commonwatch worker``) deliver 10,000 emails to the test SMTP
server while the test SIGKILLs the worker three times and restarts Redis empty; the
sweeper then puts back what was in flight. Every delivery must arrive; repeats may only
come from deliveries in flight at a kill, and their number is reported.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from core.delivery import sweep
from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import Area, Delivery, Staff

pytestmark = [pytest.mark.slow, pytest.mark.redis]

RECIPIENTS = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A Redis of the test's own, which it can kill and restart with nothing kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def own_redis(redis_url):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.kill()


def start_worker(app, redis: RedisServer) -> subprocess.Popen:
    config = app.config
    env = {
        **os.environ,
        "COMMONWATCH_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "COMMONWATCH_REDIS_URL": redis.url,
        "COMMONWATCH_SECRET_KEY": config["SECRET_KEY"],
        "COMMONWATCH_BASE_URL": config["BASE_URL"],
        "COMMONWATCH_MAIL_SERVER": config["MAIL_SERVER"],
        "COMMONWATCH_MAIL_PORT": str(config["MAIL_PORT"]),
        "COMMONWATCH_PLUGINS": config["PLUGINS"],
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from core.cli import main; main()", "worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def count(app, state: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(Delivery.state == state)) or 0


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_a_send_survives_killed_workers_and_a_redis_restart(make_app, county, make_staff,
                                                            own_redis, outbox):
    if not os.environ.get("COMMONWATCH_TEST_DATABASE_URL"):
        pytest.skip("worker processes share the database: PostgreSQL only")
    app = make_app(REDIS_URL=own_redis.url, DELIVERY_BATCH_SIZE=50,
                   CHANNEL_RATE_LIMITS={}, DELIVERY_STUCK_SECONDS=1)
    supervisor = make_staff("supervisor", areas=["E07900001"])
    with app.app_context():
        street = db.session.scalar(select(Area.id).where(Area.code == "ST000001"))
        db.session.execute(text("""
            INSERT INTO member (email, name, address_line, postcode, area_id, language,
                min_priority, digest_only, demographics, privacy_notice_version,
                privacy_accepted_at, email_verified_at, registration_method, created_at,
                auth_version)
            SELECT 'r' || g || '@example.org', 'Resident ' || g, '1 Mill Lane', 'HF1 1FJ',
                :street, 'en', 5, false, '{}', '1', now(), now(), 'import', now(), 0
            FROM generate_series(1, :n) g"""), {"street": street, "n": RECIPIENTS})
        db.session.execute(text("""
            INSERT INTO member_channel (member_id, channel, by_day, by_night)
            SELECT id, 'email', true, true FROM member"""))
        db.session.execute(text("""
            INSERT INTO member_consent (member_id, organisation_id, given_at, method)
            SELECT m.id, o.id, now(), 'import' FROM member m, organisation o
            WHERE o.slug = 'wealdshire-police'"""))
        db.session.commit()
        sender = db.session.get(Staff, supervisor)
        message = create_message(sender, title="Resilience", body="Body", plain_text="Text",
                                 category="crime_alert", priority=1,
                                 target=Target(areas=["ST000001"]).to_json())
        db.session.add(message)
        db.session.commit()
        assert send(message, sender) == RECIPIENTS

    in_flight_at_kills: list[int] = []

    def note_in_flight() -> None:
        # Deliveries the killed worker had claimed and not finished.
        in_flight_at_kills.append(count(app, "sending") - sum(in_flight_at_kills))

    worker = start_worker(app, own_redis)
    try:
        for kill in range(1, 4):
            wait_until(lambda k=kill: count(app, "sent") >= k * 1500, timeout=120)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            note_in_flight()
            worker = start_worker(app, own_redis)
        # Redis dies too: every job still queued is lost with it.
        own_redis.kill()
        own_redis.start()
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        note_in_flight()
        worker = start_worker(app, own_redis)
        time.sleep(1.5)  # let the claims of the killed workers go stale
        with app.app_context():
            sweep(stuck_after_seconds=1)
        wait_until(lambda: count(app, "sent") == RECIPIENTS, timeout=180)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    arrived = Counter(m["X-Commonwatch-Delivery"] for m in outbox)
    with app.app_context():
        ids = {str(i) for i in db.session.scalars(select(Delivery.id))}
    lost = ids - set(arrived)
    repeats = sum(n - 1 for n in arrived.values())
    print(f"\nkills: {len(in_flight_at_kills)}, in flight at each: {in_flight_at_kills}, "
          f"lost: {len(lost)}, repeated provider calls: {repeats}")
    assert not lost
    assert repeats <= sum(in_flight_at_kills)
    # A provider that de-duplicates by reference (the delivery id) sees each exactly once.
    assert len(arrived) == RECIPIENTS
