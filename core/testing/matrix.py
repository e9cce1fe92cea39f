"""The access matrix: two disjoint sides of people and objects, so that tests can walk
every route of the app (the core's and every enabled plugin's, including routes added
later) and check that nobody on one side reaches anything of the other.

Load it as a pytest plugin (it is listed in ``core.testing.pytest_plugin``'s
``pytest_plugins``; on its own: ``pytest -p core.testing.matrix``) and ask for the
``access_matrix`` fixture.

The two sides
=============

======  ==========================  ====================  ================================
side    residents live in           staff work for        staff areas
======  ==========================  ====================  ================================
``a``   ward E05900001, district    wealdshire-police     ward E05900001 (coordinator,
        E07900001                                         officer), district E07900001
                                                          (supervisor), force E10900001
                                                          (force administrator)
``b``   ward E05900012, district    ashendry-council      the same with ward E05900012
        E07900004                                         and district E07900004
======  ==========================  ====================  ================================

Each side has two residents, who consent only to their side's organisation, and the
actors ``resident``, ``coordinator``, ``officer``, ``supervisor`` and ``force_admin``
(named ``officer_a``, ``officer_b`` ...). Both force administrators work force-wide, yet
neither may see the other side's residents (they did not consent to that organisation)
or manage its staff (another organisation). Every name and email is unique and easy to
spot ("Ada Matrixa", "matrix.a.resident@example.org"); they are the side's *secrets*,
which no page may show to the other side.

Route arguments
===============

A route argument is filled with the id of an object owned by one side, from
*providers*: the core provides ``member_id`` (a resident of the side) and ``staff_id``
(the side's officer). A route whose argument has no provider makes the matrix tests
fail, so a new kind of object cannot slip by untested. To add providers (and actors,
secrets, form fields or state to watch), implement the hook in a ``conftest.py`` that
applies to the tests, or in a module loaded as a pytest plugin (a third-party plugin
package can advertise one under the ``pytest11`` entry point)::

    def pytest_commonwatch_access_matrix(app, sides):
        with app.app_context():
            site_a = make_site(area="E05900001")   # owned by side a
            site_b = make_site(area="E05900012")   # owned by side b
            ...
        sides["a"].watch(lambda: site_state(site_a_id))     # must not change from side b
        sides["a"].secrets.add("Matrixa Allotments")        # side b must never see it
        sides["a"].add_actor("allotment_admin", staff=some_staff_id)
        return {"site_id": {"a": site_a_id, "b": site_b_id}}

Arguments that are not object ids are exempt only when listed, with the reason, in
:data:`TOKEN_ARGUMENTS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, select
from werkzeug.routing import Rule

#: Route arguments that are not ids of objects a side owns, so the matrix does not swap
#: them between sides. Each needs its reason; nothing else may be left without a provider.
TOKEN_ARGUMENTS: dict[str, str] = {
    "token": (
        "a signed, expiring itsdangerous token (/verify-email/<token>, "
        "/password/reset/<token>, /confirm/<token>): it names and authenticates its "
        "subject itself, so there is no id to swap; forged, expired and reused tokens are "
        "tested in tests/test_auth.py and tests/test_members.py (and for the reply and "
        "rating links, /reply/<token>..., in tests/test_replies.py; for the survey links, "
        "/surveys/answer/<token> and a public survey's /surveys/s/<token>, in "
        "plugins/surveys/tests/test_answering.py)"
    ),
    "code": (
        "a public verification code printed in an alert (/verify/<code>): anyone may check "
        "any code, so no side owns it; the page names the sender, never a recipient. Each "
        "side's public alert is probed (side.probes, by _public_alerts below) for the "
        "other side's people, and tests/test_verification.py checks real, made-up and "
        "draft codes"
    ),
    "area_code": (
        "the public code of an area (/alerts/<area_code> and its .atom feed): areas are "
        "public and the archive lists only messages marked public, never recipients; "
        "probed per side as for code, and tested in tests/test_archive.py"
    ),
}

#: What the matrix puts in a token argument when it must build such a path.
PLACEHOLDER_TOKEN = "not-a-real-token"

#: Where a refused request may redirect: signing in, second factor, or proving the
#: password again before a sensitive change. A redirect anywhere else is not a refusal.
SIGN_IN_PATHS = frozenset(
    {"/sign-in", "/staff/sign-in", "/two-factor", "/two-factor/setup", "/confirm-password"}
)

#: Methods the matrix sends; HEAD and OPTIONS are answered by Werkzeug from GET's view.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: The password every matrix account has (the core fixtures' default).
PASSWORD = "correct horse battery staple"

FORCE = "E10900001"

#: key -> (district, ward, organisation slug, surname, staff email domain, first names)
_SIDES = {
    "a": ("E07900001", "E05900001", "wealdshire-police", "Matrixa", "police.example.org",
          {"resident": "Ada", "neighbour": "Abel", "coordinator": "Cole", "officer": "Otto",
           "supervisor": "Sue", "force_admin": "Fay"}),
    "b": ("E07900004", "E05900012", "ashendry-council", "Matrixb", "council.example.org",
          {"resident": "Bea", "neighbour": "Bob", "coordinator": "Cleo", "officer": "Olga",
           "supervisor": "Sid", "force_admin": "Finn"}),
}

#: Staff actors of each side, most powerful first: role -> areas ("ward", "district"
#: or "force").
STAFF_ROLES = {"force_admin": "force", "supervisor": "district", "officer": "ward",
               "coordinator": "ward"}


# -- the hook -------------------------------------------------------------------------------


class MatrixHookspecs:
    """Hooks the access matrix calls (added to pytest by :func:`pytest_addhooks`)."""

    @staticmethod
    @pytest.hookspec
    def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Side]
                                         ) -> Mapping[str, Mapping[str, Any]] | None:
        """Create objects for both sides and return providers for route arguments:
        ``{argument_name: {"a": value owned by side a, "b": value owned by side b}}``.

        Called once per test that uses ``access_matrix``, after the core's people exist
        (``sides["a"].actors["officer_a"].id`` ...). An implementation may also add
        actors (:meth:`Side.add_actor`), state that must not change (:meth:`Side.watch`),
        secrets (``side.secrets``), probe URLs (``side.probes``) and fields of the
        plausible form posted to every POST route (``side.form``)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(MatrixHookspecs)


# -- sides and actors -----------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Someone who signs in: ``kind`` is "member" or "staff"."""

    name: str
    kind: str
    id: int
    side: str

    def __str__(self) -> str:
        return self.name


@dataclass
class Side:
    """One side of the matrix: its places, people, objects and what must stay private."""

    key: str
    district: str
    ward: str
    organisation: str
    surname: str
    actors: dict[str, Actor] = field(default_factory=dict)
    #: Resident ids of this side (the actor ``resident_x`` first).
    residents: list[int] = field(default_factory=list)
    #: Staff account ids of this side.
    staff: list[int] = field(default_factory=list)
    #: Text only this side's people may see: names and emails.
    secrets: set[str] = field(default_factory=set)
    #: Paths (with query strings) the other side's actors request in the content test.
    probes: list[str] = field(default_factory=list)
    #: A plausible form an actor of this side posts to every POST route: the fields of
    #: the core's forms, filled with valid values for this side.
    form: dict[str, str] = field(default_factory=dict)
    #: Functions returning JSON-like state of this side's rows, compared before and after
    #: the other side's requests.
    watched: list[Callable[[], Any]] = field(default_factory=list)

    def add_actor(self, role: str, *, member: int | None = None, staff: int | None = None
                  ) -> Actor:
        """Add an actor named ``<role>_<side>`` who signs in as ``member`` or ``staff``."""
        if (member is None) == (staff is None):
            raise ValueError("give exactly one of member= or staff=")
        name = f"{role}_{self.key}"
        if name in self.actors:
            raise ValueError(f"actor {name} already exists")
        actor = Actor(name, "member" if member is not None else "staff",
                      member if member is not None else staff, self.key)  # type: ignore[arg-type]
        self.actors[name] = actor
        return actor

    def watch(self, snapshot: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``snapshot`` (called in an app context) as state of this side."""
        self.watched.append(snapshot)
        return snapshot


class MissingProvider(AssertionError):
    """A route argument no provider fills."""


def missing_provider_message(rule: Rule, argument: str) -> str:
    return (
        f"route {rule.rule} ({rule.endpoint}) takes the argument {argument!r}, which the "
        f"access matrix cannot fill, so nobody checks that one side cannot reach the "
        f"other's {argument!r}. Register a provider: implement "
        f"pytest_commonwatch_access_matrix(app, sides) in a conftest.py or pytest plugin "
        f"and return {{{argument!r}: {{'a': <id of an object of side a>, 'b': <id of an "
        f"object of side b>}}}} (see core/testing/matrix.py). If {argument!r} is a signed "
        f"token and not an object id, add it with the reason to TOKEN_ARGUMENTS there."
    )


# -- the matrix -----------------------------------------------------------------------------


class AccessMatrix:
    """The two sides in one test app, signed-in clients per actor, and routes to walk."""

    def __init__(self, app: Flask, sides: dict[str, Side],
                 arguments: dict[str, dict[str, Any]],
                 sign_in: Callable[[FlaskClient, Actor], FlaskClient]) -> None:
        self.app = app
        self.sides = sides
        self.arguments = arguments
        self._sign_in = sign_in
        self._clients: dict[str | None, FlaskClient] = {}
        self._metadata: MetaData | None = None

    # people

    def other(self, key: str) -> Side:
        return self.sides["b" if key == "a" else "a"]

    @property
    def actors(self) -> list[Actor]:
        """Every actor, side a's first."""
        return [a for side in self.sides.values() for a in side.actors.values()]

    def actor(self, name: str) -> Actor:
        return self.sides[name.rsplit("_", 1)[1]].actors[name]

    def client(self, actor: Actor | None) -> FlaskClient:
        """A client signed in as ``actor`` (anonymous for None), made once per test."""
        key = actor.name if actor else None
        if key not in self._clients:
            client = self.app.test_client()
            self._clients[key] = self._sign_in(client, actor) if actor else client
        return self._clients[key]

    def forget(self, actor: Actor | None) -> None:
        """Drop ``actor``'s client (e.g. after it signed out), so the next one signs in."""
        self._clients.pop(actor.name if actor else None, None)

    def actor_for(self, policy: str, side: str = "a") -> Actor | None:
        """An actor of ``side`` allowed by ``policy`` (None: anonymous, for "public"),
        the most powerful staff actor for staff policies."""
        from core.access import has_permission
        from core.extensions import db
        from core.models import Staff

        if policy == "public" or policy.startswith("token:"):
            # API operations take a bearer token, never a session: any actor is as
            # anonymous as nobody.
            return None
        if policy in ("member", "signed-in"):
            return self.sides[side].actors[f"resident_{side}"]
        if policy.startswith("staff:"):
            permission = policy.removeprefix("staff:")
            with self.app.app_context():
                for actor in self.sides[side].actors.values():
                    if actor.kind != "staff":
                        continue
                    staff = db.session.get(Staff, actor.id)
                    if permission == "any" or has_permission(staff, permission):
                        return actor
            raise AssertionError(f"no actor of side {side} holds {permission}")
        raise AssertionError(f"unknown access policy {policy!r}")

    # routes

    def rules(self) -> list[Rule]:
        """Every rule with a view of the app, static files excepted."""
        return [
            rule for rule in self.app.url_map.iter_rules()
            if rule.endpoint != "static" and not rule.endpoint.endswith(".static")
        ]

    def routes(self, methods: Iterable[str] = METHODS) -> list[tuple[Rule, str]]:
        """(rule, method) for every rule and every method of ``methods`` it accepts."""
        wanted = set(methods)
        return [(rule, m) for rule in self.rules() for m in METHODS
                if m in wanted and m in (rule.methods or ())]

    def policy(self, rule: Rule) -> str:
        from core.access import POLICY_ATTR

        return getattr(self.app.view_functions[rule.endpoint], POLICY_ATTR, "")

    @staticmethod
    def required_arguments(rule: Rule) -> set[str]:
        return set(rule.arguments) - set(rule.defaults or ())

    @classmethod
    def takes_token(cls, rule: Rule) -> bool:
        return bool(cls.required_arguments(rule) & set(TOKEN_ARGUMENTS))

    def missing_providers(self) -> list[str]:
        """A message for every route argument with neither a provider nor an exemption."""
        return [
            missing_provider_message(rule, arg)
            for rule in self.rules()
            for arg in sorted(self.required_arguments(rule))
            if arg not in self.arguments and arg not in TOKEN_ARGUMENTS
        ]

    def path(self, rule: Rule, side: str, token: str | None = None) -> str:
        """``rule``'s path with the objects of ``side`` (and ``token``, by default a
        placeholder, for tokens); raises :class:`MissingProvider` for an argument nobody
        provides."""
        values: dict[str, Any] = {}
        for arg in self.required_arguments(rule):
            if arg in self.arguments:
                values[arg] = self.arguments[arg][side]
            elif arg in TOKEN_ARGUMENTS:
                values[arg] = token or PLACEHOLDER_TOKEN
            else:
                raise MissingProvider(missing_provider_message(rule, arg))
        built = rule.build(values, append_unknown=False)
        assert built is not None, f"cannot build {rule.rule} from {values}"
        return built[1]

    # state

    def snapshot(self, key: str) -> list[Any]:
        """The watched state of side ``key``."""
        with self.app.app_context():
            from core.extensions import db

            db.session.remove()
            try:
                return [watch() for watch in self.sides[key].watched]
            finally:
                db.session.remove()

    def database(self, ignore: Mapping[str, frozenset[str] | None] | None = None
                 ) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table of the test database (reflected, so plugin tables
        count too). ``ignore`` maps a table to the columns to leave out, or to None to
        leave out the whole table."""
        ignore = ignore or {}
        with self.app.app_context():
            from core.extensions import db

            db.session.remove()
            if self._metadata is None:
                self._metadata = MetaData()
                self._metadata.reflect(db.engine)
            rows: dict[str, list[tuple[Any, ...]]] = {}
            with db.engine.connect() as conn:
                for table in self._metadata.sorted_tables:
                    if table.name in ignore and ignore[table.name] is None:
                        continue
                    skip = ignore.get(table.name) or frozenset()
                    columns = [c for c in table.columns if c.name not in skip]
                    rows[table.name] = sorted(
                        (tuple(_hashable(v) for v in r) for r in conn.execute(select(*columns))),
                        key=repr,
                    )
            return rows


def _hashable(value: Any) -> Any:
    if isinstance(value, dict | list):  # JSON columns
        return json.dumps(value, sort_keys=True, default=str)
    return value


def database_changes(before: dict[str, list[tuple[Any, ...]]],
                     after: dict[str, list[tuple[Any, ...]]]) -> dict[str, dict[str, Any]]:
    """Per changed table, the rows that went and the rows that came."""
    changes = {}
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, ())), set(after.get(table, ()))
        if old != new:
            changes[table] = {"removed": sorted(old - new, key=repr)[:5],
                              "added": sorted(new - old, key=repr)[:5]}
    return changes


def is_sign_in_redirect(location: str | None) -> bool:
    """Whether a redirect goes to signing in, two-factor or confirming the password."""
    return bool(location) and urlsplit(location).path in SIGN_IN_PATHS


_CSRF_INPUT = re.compile(r"<input[^>]*\bname=\"csrf_token\"[^>]*>")
_VALUE = re.compile(r"\bvalue=\"([^\"]*)\"")


def csrf_token(html: str) -> str | None:
    """The value of the first ``csrf_token`` hidden input in ``html``, if any."""
    match = _CSRF_INPUT.search(html)
    if not match:
        return None
    value = _VALUE.search(match.group(0))
    return value.group(1) if value else None


def sign_in_through_forms(app: Flask, client: FlaskClient, actor: Actor) -> FlaskClient:
    """Sign ``client`` in as ``actor`` the way a browser does, with the CSRF token of each
    form (two-factor included)."""
    from core.extensions import db
    from core.models import Member, Staff

    model = Member if actor.kind == "member" else Staff
    with app.app_context():
        user = db.session.get(model, actor.id)
        email, secret = user.email, user.totp_secret
    path = "/sign-in" if actor.kind == "member" else "/staff/sign-in"
    token = csrf_token(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"email": email, "password": PASSWORD,
                                       "csrf_token": token or ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if secret:
        step = urlsplit(response.location)
        page = client.get(f"{step.path}?{step.query}")
        token = csrf_token(page.get_data(as_text=True))
        response = client.post(
            f"{step.path}?{step.query}",
            data={"code": pyotp.TOTP(secret).now(), "csrf_token": token or ""},
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        with app.app_context():
            user = db.session.get(model, actor.id)
            user.totp_last_step = None  # the next sign-in in this test may reuse the step
            db.session.commit()
    return client


# -- the core's people, objects and state ---------------------------------------------------


def _core_snapshot(side: Side) -> Callable[[], Any]:
    def snapshot() -> dict[str, Any]:
        from core.extensions import db
        from core.members import export_record
        from core.models import Member, MemberAccess, Staff

        members = {}
        for member_id in side.residents:
            member = db.session.get(Member, member_id)
            members[member_id] = None if member is None else {
                **export_record(member), "area_id": member.area_id,
                "auth_version": member.auth_version, "totp_secret": member.totp_secret,
                "registered_by_id": member.registered_by_id,
            }
        staff = {}
        for staff_id in side.staff:
            account = db.session.get(Staff, staff_id)
            staff[staff_id] = None if account is None else {
                "name": account.name, "email": account.email, "role": account.role,
                "active": account.active, "organisation": account.organisation.slug,
                "areas": sorted(a.code for a in account.areas),
                "auth_version": account.auth_version, "totp_secret": account.totp_secret,
                "password_hash": account.password_hash,
            }
        accesses = sorted(db.session.execute(
            select(MemberAccess.member_id, MemberAccess.staff_id, MemberAccess.action)
            .where(MemberAccess.member_id.in_(side.residents))
        ).all())
        return {"members": members, "staff": staff, "accesses": [tuple(a) for a in accesses]}

    return snapshot


def build_core_sides(app: Flask, make_member: Callable[..., int],
                     make_staff: Callable[..., int]) -> dict[str, Side]:
    """Create both sides' residents and staff (needs the ``county`` fixture's data)."""
    from core.extensions import db
    from core.models import Member, Organisation
    from core.testing.pytest_plugin import postcode_in

    sides: dict[str, Side] = {}
    for key, (district, ward, org, surname, domain, first) in _SIDES.items():
        side = Side(key=key, district=district, ward=ward, organisation=org, surname=surname)
        for role in ("resident", "neighbour"):
            name, email = f"{first[role]} {surname}", f"matrix.{key}.{role}@example.org"
            member_id = make_member(area=ward, organisations=[org], name=name, email=email)
            side.residents.append(member_id)
            side.secrets |= {name, email}
            if role == "resident":
                side.add_actor("resident", member=member_id)
        areas = {"ward": ward, "district": district, "force": FORCE}
        for role, level in STAFF_ROLES.items():
            name, email = f"{first[role]} {surname}", f"matrix.{key}.{role}@{domain}"
            staff_id = make_staff(role, areas=[areas[level]], organisation=org, name=name,
                                  email=email)
            side.staff.append(staff_id)
            side.secrets |= {name, email}
            side.add_actor(role, staff=staff_id)
        with app.app_context():
            org_id = db.session.scalar(select(Organisation.id).where(Organisation.slug == org))
            postcode = postcode_in(ward)
            neighbour = db.session.get(Member, side.residents[1])
            side.probes += [
                f"/staff/members?q={surname}",
                f"/staff/members?q={surname.lower()}",
                f"/staff/members?q=matrix.{key}",
                f"/staff/members?q={neighbour.postcode.replace(' ', '+')}",
                "/staff/members?q=matrix&page=1",
            ]
        side.form = {
            # staff account form
            "name": f"Changed {surname}", "email": f"matrix.{key}.changed@example.org",
            "role": "officer", "area_codes": ward, "active": "y",
            # resident forms
            "address_line": "1 Matrix Row", "postcode": postcode, "phone": "",
            "channels": "email", "organisations": str(org_id), "language": "en",
            "privacy": "y", "consent_confirmed": "y", "min_priority": "1",
            "when_email": "day",
            # password forms
            "current_password": PASSWORD, "password": PASSWORD, "password_confirm": PASSWORD,
            # others
            "code": "000000", "q": surname, "submit": "Save",
        }
        side.watch(_core_snapshot(side))
        sides[key] = side
    return sides


def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Side]
                                     ) -> dict[str, dict[str, Any]]:
    """The core's providers: a resident of the side, the side's officer, a draft
    message that officer wrote, and the side's resident's reply to it (in the officer's
    team inbox); and probes of a public alert per side (:func:`_public_alerts`)."""
    from core.extensions import db
    from core.messaging import Target, create_message
    from core.models import Member, Staff
    from core.replies import take_reply

    messages, replies = {}, {}
    with app.app_context():
        for key, side in sides.items():
            officer = db.session.get(Staff, side.actors[f"officer_{key}"].id)
            message = create_message(
                officer, title=f"Matrix{key} draft", body="Body", plain_text="Text",
                category="crime_alert", priority=3, target=Target().to_json())
            db.session.add(message)
            db.session.commit()
            messages[key] = message.id
            resident = db.session.get(Member, side.residents[0])
            # What the resident wrote is the side's secret too (with an address in it, so
            # that the tests telling names from addresses count it with the addresses).
            text = f"Matrix{key} reply: the van is at matrix.{key}.yard@example.org"
            reply = take_reply(message, resident, text, "web")
            db.session.commit()
            replies[key] = reply.id
            side.secrets.add(text)
            side.watch(_reply_snapshot(reply.id))
            # The reply page's forms, so that a post across sides would change something
            # if scoping let it through.
            side.form.update({"note": f"Matrix{key} note", "answer": f"Matrix{key} answer",
                              "state": "closed", "assignee": "", "flagged": "y"})
    _public_alerts(app, sides)
    return {
        "token_id": _api_tokens(app, sides),
        "member_id": {k: s.residents[1] for k, s in sides.items()},
        "staff_id": {k: s.actors[f"officer_{k}"].id for k, s in sides.items()},
        "message_id": messages,
        "reply_id": replies,
    }


def _api_tokens(app: Flask, sides: dict[str, Side]) -> dict[str, int]:
    """An API token of each side's resident, named with the side's surname (a secret),
    whose revocation is watched."""
    from core.extensions import db
    from core.models import ApiToken, Member
    from core.rest import create_token

    made = {}
    with app.app_context():
        for key, side in sides.items():
            resident = db.session.get(Member, side.residents[0])
            token, _text = create_token(resident, f"{side.surname} token app", ["read"])
            db.session.commit()
            made[key] = token.id
            side.secrets.add(f"{side.surname} token app")

            def snapshot(token_id: int = token.id) -> Any:
                found = db.session.get(ApiToken, token_id)
                return None if found is None else [found.name, found.revoked_at is None]

            side.watch(snapshot)
    return made


def _public_alerts(app: Flask, sides: dict[str, Side]) -> None:
    """A sent, public alert per side, delivered to the side's resident and given an
    outcome, from a press desk account whose name is public (not a secret); its
    verification page and its ward's archive and feed are probed, so they must never
    show who received it."""
    from core.extensions import db
    from core.messaging import Target, create_message
    from core.models import Area, Delivery, Staff, utcnow
    from core.verification import new_code

    with app.app_context():
        for key, side in sides.items():
            officer = db.session.get(Staff, side.actors[f"officer_{key}"].id)
            ward = db.session.scalar(select(Area).where(Area.code == side.ward))
            desk = Staff(email=f"press.desk.{key}@example.org", name=f"Press Desk {key}",
                         password_hash="!", organisation_id=officer.organisation_id,
                         role="officer", areas=[ward])
            db.session.add(desk)
            db.session.flush()
            message = create_message(desk, title=f"Public alert {key}", body="Body",
                                     plain_text="Text", category="witness_appeal",
                                     priority=3, target=Target(areas=[side.ward]).to_json(),
                                     public=True)
            message.status, message.sent_at = "sent", utcnow()
            message.verification_code, message.area_paths = new_code(), f" {ward.path} "
            message.outcome, message.outcome_note = "found", f"Public note {key}"
            db.session.add(message)
            db.session.flush()
            db.session.add(Delivery(message_id=message.id, member_id=side.residents[0],
                                    channel="email", state="sent"))
            db.session.commit()
            code = message.code_for_reading
            side.probes += [f"/verify/{code}", f"/verify?code={code}",
                            f"/alerts/{side.ward}", f"/alerts/{side.ward}.atom",
                            f"/alerts/{side.district}.atom"]
            side.form["outcome"] = "arrested"


def _reply_snapshot(reply_id: int) -> Callable[[], Any]:
    def snapshot() -> dict[str, Any] | None:
        from core.extensions import db
        from core.models import Reply

        reply = db.session.get(Reply, reply_id)
        return None if reply is None else {
            "state": reply.state, "assignee": reply.assignee_id, "flagged": reply.flagged,
            "notes": [n.text for n in reply.notes], "answers": [a.text for a in reply.answers],
        }

    return snapshot


def collect_providers(results: Iterable[Mapping[str, Mapping[str, Any]] | None]
                      ) -> dict[str, dict[str, Any]]:
    """Merge the hook's results; an argument provided twice, or not for both sides, is
    an error."""
    arguments: dict[str, dict[str, Any]] = {}
    for result in results:
        for arg, values in (result or {}).items():
            if arg in arguments:
                raise AssertionError(f"two access-matrix providers for {arg!r}")
            if set(values) != {"a", "b"} or values["a"] == values["b"]:
                raise AssertionError(
                    f"the provider of {arg!r} must give different values for 'a' and 'b', "
                    f"not {dict(values)!r}"
                )
            arguments[arg] = dict(values)
    return arguments


@pytest.fixture
def access_matrix(request: pytest.FixtureRequest, app: Flask, county: dict[str, Any],
                  make_member: Callable[..., int], make_staff: Callable[..., int],
                  login: Callable[..., FlaskClient]) -> AccessMatrix:
    """Both sides in ``app``, with providers from every ``pytest_commonwatch_access_matrix``
    implementation that applies to the requesting test."""
    sides = build_core_sides(app, make_member, make_staff)
    results = request.node.ihook.pytest_commonwatch_access_matrix(app=app, sides=sides)
    arguments = collect_providers(results)

    def sign_in(client: FlaskClient, actor: Actor) -> FlaskClient:
        if app.config.get("WTF_CSRF_ENABLED", True):
            return sign_in_through_forms(app, client, actor)
        return login(client, **{actor.kind: actor.id})

    return AccessMatrix(app, sides, arguments, sign_in)


def each_actor(matrix: AccessMatrix, anonymous: bool = True) -> Iterator[Actor | None]:
    """Every actor, then (if ``anonymous``) None for a signed-out visitor."""
    yield from matrix.actors
    if anonymous:
        yield None
