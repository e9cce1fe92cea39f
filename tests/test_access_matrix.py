"""Nobody on one side of the access matrix reaches anything of the other side.

The matrix (core/testing/matrix.py) sets up two disjoint sides of residents and staff.
These tests walk ``app.url_map``, so routes added later by the core or a plugin are
covered without editing them; a route argument the matrix cannot fill fails the tests.
"""

import csv
import io
import json

import pytest
from flask import Blueprint

from core.access import public
from core.testing.matrix import (
    TOKEN_ARGUMENTS,
    MissingProvider,
    collect_providers,
    is_sign_in_redirect,
)

#: Walks every route of the app: run once, on PostgreSQL in CI (see the Makefile).
pytestmark = pytest.mark.walk


def leaked(body: str, secrets: set[str]) -> list[str]:
    lowered = body.lower()
    return sorted(s for s in secrets if s.lower() in lowered)


def resident_names(side):
    return {s for s in side.secrets if "@" not in s and
            any(s.startswith(n) for n in ("Ada ", "Abel ", "Bea ", "Bob "))}


def describe(actor):
    return actor.name if actor else "anonymous"


# -- every route argument is covered --------------------------------------------------------


def test_every_route_argument_has_a_provider_or_is_a_documented_token(access_matrix):
    missing = access_matrix.missing_providers()
    assert not missing, "\n".join(missing)
    assert all(reason.strip() for reason in TOKEN_ARGUMENTS.values())


def test_a_route_argument_without_a_provider_fails_with_instructions(access_matrix):
    bp = Blueprint("matrix_selftest", __name__)

    @bp.get("/matrix-selftest/<int:widget_id>")
    @public
    def widget(widget_id):
        return "widget"

    access_matrix.app.register_blueprint(bp)
    rule = next(r for r in access_matrix.rules() if r.endpoint == "matrix_selftest.widget")
    (message,) = [m for m in access_matrix.missing_providers() if "'widget_id'" in m]
    assert "/matrix-selftest/<int:widget_id>" in message
    assert "pytest_commonwatch_access_matrix" in message
    with pytest.raises(MissingProvider, match="TOKEN_ARGUMENTS"):
        access_matrix.path(rule, "a")


def test_a_pytest_plugin_adds_providers_actors_and_secrets_through_the_hook(request):
    class WidgetProvider:
        @staticmethod
        def pytest_commonwatch_access_matrix(app, sides):
            sides["a"].secrets.add("Widget of side a")
            sides["b"].add_actor("widget_keeper", staff=sides["b"].staff[0])
            return {"widget_id": {"a": 101, "b": 202}}

    plugin = WidgetProvider()
    request.config.pluginmanager.register(plugin, "matrix-selftest-provider")
    try:
        matrix = request.getfixturevalue("access_matrix")
    finally:
        request.config.pluginmanager.unregister(plugin)
    assert matrix.arguments["widget_id"] == {"a": 101, "b": 202}
    assert {"member_id", "staff_id"} <= set(matrix.arguments)
    assert matrix.actor("widget_keeper_b").kind == "staff"
    assert "Widget of side a" in matrix.sides["a"].secrets


def test_providers_must_give_each_side_its_own_object():
    with pytest.raises(AssertionError, match="different values"):
        collect_providers([{"widget_id": {"a": 1, "b": 1}}])
    with pytest.raises(AssertionError, match="two access-matrix providers"):
        collect_providers([{"widget_id": {"a": 1, "b": 2}}, {"widget_id": {"a": 3, "b": 4}}])


# -- objects of the other side --------------------------------------------------------------


def test_no_actor_reaches_an_object_of_the_other_side(access_matrix):
    matrix = access_matrix
    routes = [(rule, method) for rule, method in matrix.routes()
              if matrix.required_arguments(rule) and not matrix.takes_token(rule)]
    assert routes, "the matrix found no routes with object arguments"
    problems = []
    for side in matrix.sides.values():
        other = matrix.other(side.key)
        attackers = [*side.actors.values(), None]
        for actor in attackers:
            client = matrix.client(actor)
            for rule, method in routes:
                path = matrix.path(rule, other.key)
                before = matrix.snapshot(other.key)
                data = side.form if method != "GET" else None
                response = client.open(path, method=method, data=data)
                after = matrix.snapshot(other.key)
                where = f"{describe(actor)} {method} {path}"
                status = response.status_code
                if 200 <= status < 300:
                    problems.append(f"{where}: {status}, not refused")
                if 300 <= status < 400 and not is_sign_in_redirect(response.location):
                    problems.append(f"{where}: redirect to {response.location}")
                if found := leaked(response.get_data(as_text=True), other.secrets):
                    problems.append(f"{where}: shows {found}")
                if before != after:
                    problems.append(f"{where}: changed side {other.key}: {before} -> {after}")
    assert not problems, "\n".join(problems)


def test_the_cross_side_form_is_one_that_works_on_the_own_side(app, access_matrix):
    """So the test above fails if scoping breaks, rather than on a form error."""
    from core.extensions import db
    from core.models import Staff

    matrix = access_matrix
    admin, officer = matrix.actor("force_admin_a"), matrix.actor("officer_a")
    path = f"/staff/accounts/{officer.id}"
    response = matrix.client(admin).post(path, data=matrix.sides["a"].form)
    assert response.status_code == 302 and response.location.endswith("/staff/accounts")
    with app.app_context():
        account = db.session.get(Staff, officer.id)
        assert (account.name, account.email) == ("Changed Matrixa", "matrix.a.changed@example.org")


# -- what pages show ------------------------------------------------------------------------


def test_no_page_shows_anyone_of_the_other_side(access_matrix):
    """Every GET page (lists, exports, searches, and pages of the own side's objects)
    as every actor; signed-out visitors must see nobody of either side."""
    matrix = access_matrix
    rules = [rule for rule, _ in matrix.routes(["GET"]) if not matrix.takes_token(rule)]
    listed = {matrix.path(rule, "a") for rule in rules if not matrix.required_arguments(rule)}
    assert {"/staff/members", "/staff/members/export.csv", "/staff/accounts", "/account",
            "/account/my-data.json", "/account/seen"} <= listed
    problems = []
    for side in [*matrix.sides.values(), None]:
        if side is None:  # signed out: everything is secret, on either side's objects
            actors, keys = [None], list(matrix.sides)
            secrets = set().union(*(s.secrets for s in matrix.sides.values()))
            probes = [p for s in matrix.sides.values() for p in s.probes]
        else:
            other = matrix.other(side.key)
            actors, keys = list(side.actors.values()), [side.key]
            secrets, probes = other.secrets, other.probes
        paths = sorted({matrix.path(rule, key) for rule in rules for key in keys}) + probes
        for actor in actors:
            client = matrix.client(actor)
            for path in paths:
                response = client.get(path)
                if found := leaked(response.get_data(as_text=True), secrets):
                    problems.append(f"{describe(actor)} GET {path} ({response.status_code}) "
                                    f"shows {found}")
    assert not problems, "\n".join(problems)


def test_searching_for_the_other_sides_surname_finds_nobody(access_matrix):
    matrix = access_matrix
    for side in matrix.sides.values():
        other = matrix.other(side.key)
        for role in ("officer", "supervisor", "force_admin"):
            client = matrix.client(side.actors[f"{role}_{side.key}"])
            page = client.get(f"/staff/members?q={other.surname}").get_data(as_text=True)
            assert not leaked(page, other.secrets), (role, side.key)
            # The same search term matching both sides lists only the own side.
            page = client.get("/staff/members?q=matrix").get_data(as_text=True)
            assert not leaked(page, other.secrets), (role, side.key)
            assert leaked(page, side.secrets) == sorted(resident_names(side)), (role, side.key)


# -- legitimate access still works ----------------------------------------------------------


def test_staff_see_residents_of_their_own_side(access_matrix):
    matrix = access_matrix
    for key, side in matrix.sides.items():
        resident = side.residents[1]
        for role in ("officer", "supervisor", "force_admin"):
            client = matrix.client(side.actors[f"{role}_{key}"])
            response = client.get(f"/staff/members/{resident}")
            assert response.status_code == 200, (role, key)
            assert f"matrix.{key}.neighbour@example.org" in response.get_data(as_text=True)
        supervisor = matrix.client(side.actors[f"supervisor_{key}"])
        export = supervisor.get("/staff/members/export.csv")
        assert export.status_code == 200
        rows = csv.DictReader(io.StringIO(export.get_data(as_text=True)))
        emails = {row["email"] for row in rows}
        assert emails == {f"matrix.{key}.resident@example.org",
                          f"matrix.{key}.neighbour@example.org"}


def test_force_administrators_manage_their_own_sides_staff(access_matrix):
    matrix = access_matrix
    for key, side in matrix.sides.items():
        client = matrix.client(side.actors[f"force_admin_{key}"])
        officer = side.actors[f"officer_{key}"]
        response = client.get(f"/staff/accounts/{officer.id}")
        assert response.status_code == 200
        assert f"matrix.{key}.officer@" in response.get_data(as_text=True)
        listing = client.get("/staff/accounts").get_data(as_text=True)
        # People's names end with the side's surname; plugins add other secrets.
        people = {s for s in side.secrets if "@" not in s and s.endswith(side.surname)}
        staff_names = people - resident_names(side)
        assert leaked(listing, side.secrets) == sorted(staff_names)


def test_residents_see_their_own_data(access_matrix):
    matrix = access_matrix
    for key, side in matrix.sides.items():
        client = matrix.client(side.actors[f"resident_{key}"])
        page = client.get("/account").get_data(as_text=True)
        assert f"matrix.{key}.resident@example.org" in page
        data = json.loads(client.get("/account/my-data.json").get_data(as_text=True))
        assert data["email"] == f"matrix.{key}.resident@example.org"
        assert [c["organisation"] for c in data["consents"]] == [side.organisation]
