"""What the benchmarks share: a staff member signed in through the app's own pages, and
repeatable pseudo-random numbers in SQL for seeding. (In a folder of its own, so that
``make bench``, which runs every ``bench/*.py``, does not run it.)"""

from __future__ import annotations

import re

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def h(expr: str, salt: int, n: int) -> str:
    """SQL: a well-spread, repeatable number from 0 to n - 1 for ``expr`` and ``salt``."""
    return f"mod(hashint4({expr} * 97 + {salt})::bigint + 2147483648, {n})::int"


def form_token(client, path: str) -> dict[str, str]:  # noqa: ANN001 - FlaskClient
    """The CSRF field of the form on ``path``."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return {"csrf_token": found.group(1)} if found else {}


def sign_in(client, secret: str, email: str = "supervisor@bench.example") -> None:  # noqa: ANN001
    """Through the app's own pages, CSRF checks and all: password, then two-factor."""
    from core.testing.pytest_plugin import DEFAULT_PASSWORD, totp_now

    reply = client.post("/staff/sign-in", data={
        "email": email, "password": DEFAULT_PASSWORD, **form_token(client, "/staff/sign-in")})
    if reply.status_code != 302:
        raise SystemExit(f"sign-in failed: {reply.get_data(as_text=True)[:500]}")
    reply = client.post("/two-factor", data={
        "code": totp_now(secret), **form_token(client, reply.headers["Location"])})
    if reply.status_code != 302:
        raise SystemExit(f"two-factor failed: {reply.get_data(as_text=True)[:500]}")


def drop_database(url: str) -> None:
    """Drop the benchmark's scratch database, even with connections still open."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()
