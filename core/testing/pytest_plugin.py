"""Fixtures for testing Commonwatch and its plugins (loaded by pytest automatically).

The database is PostgreSQL when ``COMMONWATCH_TEST_DATABASE_URL`` is set, otherwise a
SQLite file; its schema is built once per session by the migrations and emptied after
every test. Email goes to a real SMTP server on loopback. A plugin's own tests choose
which plugins are enabled by overriding the ``commonwatch_plugins`` fixture.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, select, text

DEFAULT_PASSWORD = "correct horse battery staple"

pytest_plugins = ["core.testing.browser", "core.testing.matrix", "core.testing.responses"]


# -- databases ------------------------------------------------------------------------------


def _worker_suffix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def fresh_database_url(base_url: str | None, name: str, tmp_dir: Path) -> str:
    """An empty database for ``name``: a new PostgreSQL database beside ``base_url``'s, or
    a new SQLite file in ``tmp_dir`` when no PostgreSQL URL is given."""
    if not base_url:
        path = tmp_dir / f"{name}.sqlite"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy.engine import make_url

    from core.config import sqlalchemy_url

    url = make_url(sqlalchemy_url(base_url))
    db_name = f"{url.database}_{name}{_worker_suffix()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        # A test database is thrown away: commits need not wait for the disk.
        conn.execute(text(f'ALTER DATABASE "{db_name}" SET synchronous_commit = off'))
    admin.dispose()
    return url.set(database=db_name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the session's test database (empty, schema not yet built)."""
    return fresh_database_url(
        os.environ.get("COMMONWATCH_TEST_DATABASE_URL"), "main", tmp_path_factory.mktemp("db")
    )


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis for tests that need one; skips them when none is configured."""
    url = os.environ.get("COMMONWATCH_TEST_REDIS_URL")
    if not url:
        pytest.skip("COMMONWATCH_TEST_REDIS_URL is not set")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        # Each xdist worker gets its own Redis database, counting down from the one
        # given, so no worker takes another's jobs.
        from redis.connection import parse_url

        base = int(parse_url(url).get("db", 0))
        number = base - int(worker[2:])
        if number < 0:
            pytest.skip(f"no Redis database left for xdist worker {worker}")
        url = url.rsplit("/", 1)[0] + f"/{number}" if url.count("/") > 2 else url + f"/{number}"
    return url


# -- email ----------------------------------------------------------------------------------


class Outbox(list):
    """Messages received by the test SMTP server, oldest first."""

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails, got {len(self)}")
            time.sleep(0.02)
        return list(self)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages sent to ``address``."""
        return [m for m in self if address.lower() in m["To"].lower()]

    @staticmethod
    def links(message: EmailMessage) -> list[str]:
        """Every http(s) link in the message's text."""
        body = message.get_body(("plain",)).get_content()
        return re.findall(r"https?://\S+", body)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, int, Outbox]]:
    """A real SMTP server (aiosmtpd) on loopback: (host, port, outbox)."""
    from aiosmtpd.controller import Controller

    outbox = Outbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            outbox.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield "127.0.0.1", port, outbox
    controller.stop()


@pytest.fixture
def outbox(smtp_server: tuple[str, int, Outbox]) -> Outbox:
    """The emails sent during this test."""
    box = smtp_server[2]
    box.clear()
    return box


# -- apps -----------------------------------------------------------------------------------


@pytest.fixture
def commonwatch_plugins() -> str:
    """Which plugins the test app enables; a plugin's conftest overrides it with its name."""
    return "all"


@pytest.fixture(scope="session")
def base_config(database_url: str, smtp_server: tuple[str, int, Outbox],
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Configuration every test app starts from."""
    host, port, _ = smtp_server
    return {
        # Each test builds a new app; its templates are compiled once per test process.
        "TEMPLATE_CACHE_DIR": str(tmp_path_factory.mktemp("templates")),
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "MAIL_SERVER": host,
        "MAIL_PORT": port,
        "MAIL_DEFAULT_SENDER": "Commonwatch <alerts@commonwatch.example.org>",
        # Flask-Mail would swallow mail under TESTING; ours goes to the real SMTP server.
        "MAIL_SUPPRESS_SEND": False,
        "BASE_URL": "https://commonwatch.example.org",
        "WTF_CSRF_ENABLED": False,
    }


def empty_database() -> None:
    """Delete every row of every table (in the current app context)."""
    from core.extensions import db

    db.session.remove()
    # Plugins imported by other tests add models whose tables this database may lack.
    existing = set(inspect(db.engine).get_table_names())
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name in existing]
    with db.engine.begin() as conn:
        # DELETE, children first: far quicker than TRUNCATE on the few rows a test leaves.
        for table in tables:
            conn.execute(table.delete())
        if conn.dialect.name == "postgresql":
            conn.execute(text(
                "SELECT setval(oid::regclass, 1, false) FROM pg_class WHERE relkind = 'S'"
            ))


@pytest.fixture(scope="session")
def _schema(base_config: dict[str, Any]) -> None:
    """Build the session database's schema with the migrations, once."""
    from core import create_app
    from core.schema import upgrade_database

    app = create_app({**base_config, "PLUGINS": "all"})
    with app.app_context():
        upgrade_database()


@pytest.fixture
def make_app(_schema: None, base_config: dict[str, Any], commonwatch_plugins: str
             ) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test database: ``make_app(PLUGINS="rural_watch", ...)``."""
    from core import create_app
    from core.extensions import limiter

    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app({**base_config, "PLUGINS": commonwatch_plugins, **overrides})
        made.append(app)
        return app

    yield factory
    if made:
        with made[0].app_context():
            empty_database()
            # A test may have pointed the limiter at a store that is down on purpose.
            with contextlib.suppress(Exception):
                limiter.reset()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """A test app with the plugins of ``commonwatch_plugins``."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


# -- data -----------------------------------------------------------------------------------


@pytest.fixture
def county(app: Flask) -> dict[str, Any]:
    """The fictional county of Wealdshire with its organisations (no people)."""
    from core.areas import import_areas, import_postcodes
    from core.demo import FIXTURES, ORGANISATIONS
    from core.extensions import db
    from core.models import Organisation

    with app.app_context():
        with open(FIXTURES / "areas.csv", encoding="utf-8") as fh:
            import_areas(fh)
        with open(FIXTURES / "postcodes.csv", encoding="utf-8") as fh:
            import_postcodes(fh)
        for slug, name, kind in ORGANISATIONS:
            db.session.add(Organisation(slug=slug, name=name, kind=kind))
        db.session.commit()
    return {"police": "wealdshire-police", "council": "ashendry-council"}


def postcode_in(area_code: str) -> str:
    """A postcode whose street is ``area_code`` or lies inside it."""
    from core.extensions import db
    from core.models import Area, Postcode

    area = db.session.scalar(select(Area).where(Area.code == area_code))
    return db.session.scalar(
        select(Postcode.postcode)
        .join(Area, Postcode.area_id == Area.id)
        .where(Area.path.startswith(area.path))
        .order_by(Postcode.postcode)
    )


@pytest.fixture
def postcode_for(app: Flask, county: dict[str, Any]) -> Callable[[str], str]:
    """``postcode_for("E05900002")``: a postcode in that area (see :func:`postcode_in`),
    outside any app context, for filling in forms."""

    def find(area_code: str) -> str:
        with app.app_context():
            return postcode_in(area_code)

    return find


@pytest.fixture
def make_member(app: Flask, county: dict[str, Any]) -> Callable[..., int]:
    """Create a resident; returns their id. ``make_member(area="E05900001",
    organisations=["wealdshire-police"], interests=[...], email=..., fields={...})``."""
    from core.extensions import db
    from core.members import MemberData, create_member
    from core.models import Organisation, utcnow
    from core.security import hash_password

    counter = iter(range(1, 1_000_000))
    password_hash = hash_password(DEFAULT_PASSWORD)

    def factory(
        area: str = "E05900001",
        organisations: tuple[str, ...] | list[str] = ("wealdshire-police",),
        verified: bool = True,
        **kwargs: Any,
    ) -> int:
        n = next(counter)
        with app.app_context():
            org_ids = list(
                db.session.scalars(
                    select(Organisation.id).where(Organisation.slug.in_(list(organisations)))
                )
            )
            data = MemberData(
                name=kwargs.pop("name", f"Resident {n}"),
                email=kwargs.pop("email", f"resident{n}@example.org"),
                address_line=kwargs.pop("address_line", f"{n} Mill Lane"),
                postcode=kwargs.pop("postcode", None) or postcode_in(area),
                organisation_ids=org_ids,
                **kwargs,
            )
            member = create_member(data, password_hash=password_hash)
            if verified:
                member.email_verified_at = utcnow()
            db.session.commit()
            return member.id

    return factory


@pytest.fixture
def make_staff(app: Flask, county: dict[str, Any]) -> Callable[..., int]:
    """Create a staff account with two-factor set up; returns its id.
    ``make_staff("officer", areas=["E05900001"], organisation="wealdshire-police")``."""
    from core.extensions import db
    from core.models import Area, Organisation, Staff
    from core.security import hash_password

    counter = iter(range(1, 1_000_000))
    password_hash = hash_password(DEFAULT_PASSWORD)

    def factory(
        role: str = "officer",
        areas: tuple[str, ...] | list[str] = ("E05900001",),
        organisation: str = "wealdshire-police",
        two_factor: bool = True,
        **kwargs: Any,
    ) -> int:
        n = next(counter)
        with app.app_context():
            org = db.session.scalar(select(Organisation).where(Organisation.slug == organisation))
            staff = Staff(
                email=kwargs.pop("email", f"staff{n}@police.example.org"),
                name=kwargs.pop("name", f"Staff {n}"),
                role=role,
                organisation=org,
                areas=list(db.session.scalars(select(Area).where(Area.code.in_(list(areas))))),
                password_hash=password_hash,
                totp_secret=pyotp.random_base32() if two_factor else None,
                **kwargs,
            )
            db.session.add(staff)
            db.session.commit()
            return staff.id

    return factory


def totp_now(secret: str) -> str:
    """The current code for ``secret``."""
    return pyotp.TOTP(secret).now()


@pytest.fixture
def reached(app: Flask) -> Callable[..., set[int]]:
    """The ids of the members a message from staff ``staff_id`` would reach, without
    sending it: ``reached(staff_id, areas=[...], watch_types=[...], rules=[{"name": ...,
    "mode": "must", "params": {...}}], category="crime_alert")``. An invalid target
    raises :class:`core.api.TargetError`."""
    from core.extensions import db
    from core.messaging import Target, create_message, recipients
    from core.models import Staff

    def count(staff_id: int, category: str = "crime_alert", priority: int = 3,
              **target: Any) -> set[int]:
        with app.app_context():
            sender = db.session.get(Staff, staff_id)
            message = create_message(sender, title="T", body="B", plain_text="P",
                                     category=category, priority=priority,
                                     target=Target(**target).to_json())
            return set(db.session.scalars(recipients(message, sender)))

    return count


@pytest.fixture
def login(app: Flask) -> Callable[..., FlaskClient]:
    """Sign a client in as a member or staff id: ``login(client, member=id)`` or
    ``login(client, staff=id)`` (completing two-factor)."""
    from core.extensions import db
    from core.models import Member, Staff

    def do_login(client: FlaskClient, member: int | None = None, staff: int | None = None
                 ) -> FlaskClient:
        with app.app_context():
            user = db.session.get(Member if member else Staff, member or staff)
            email_address, secret = user.email, user.totp_secret
        path = "/sign-in" if member else "/staff/sign-in"
        response = client.post(path, data={"email": email_address, "password": DEFAULT_PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if secret:
            response = client.post("/two-factor", data={"code": totp_now(secret)})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
            with app.app_context():
                # Let the next sign-in in the same test use a fresh time step.
                user = db.session.get(Member if member else Staff, member or staff)
                user.totp_last_step = None
                db.session.commit()
        return client

    return do_login
