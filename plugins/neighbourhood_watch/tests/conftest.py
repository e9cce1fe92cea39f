"""This plugin's tests run against the core and this plugin alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select


@pytest.fixture
def commonwatch_plugins() -> str:
    return "neighbourhood_watch"


@pytest.fixture
def ids(app) -> Callable[..., int]:
    """The id of an area (by code) or an organisation (by slug)."""
    from core.api import Area, Organisation, db

    def lookup(code: str | None = None, org: str | None = None) -> int:
        with app.app_context():
            if org:
                return db.session.scalar(select(Organisation.id).where(Organisation.slug == org))
            return db.session.scalar(select(Area.id).where(Area.code == code))

    return lookup


@pytest.fixture
def town(make_member, make_staff) -> dict[str, Any]:
    """People around Mill Lane (ST000001, ward E05900001) and a street in another ward,
    placed so that a wrong answer shows."""
    return {
        # Residents of Mill Lane.
        "coordinator": make_member(area="ST000001", name="Cora Coordinator",
                                   email="cora@example.org", channels=["email"]),
        "resident": make_member(area="ST000001", name="Rita Resident",
                                email="rita@example.org", channels=["email"]),
        "neighbour": make_member(area="ST000001", name="Ned Neighbour",
                                 email="ned@example.org", channels=["email"],
                                 organisations=["wealdshire-nhw", "wealdshire-police"]),
        # School Lane: same ward, another street.
        "school_lane": make_member(area="ST000002", name="Sol Schoollane",
                                   email="sol@example.org", channels=["email"],
                                   organisations=["wealdshire-nhw"]),
        # Another ward.
        "far": make_member(area="ST000005", name="Fay Faraway", email="fay@example.org",
                           channels=["email"], organisations=["wealdshire-nhw"]),
        "association": make_staff("coordinator", areas=["E07900001"],
                                  organisation="wealdshire-nhw", name="Alex Association"),
        "officer": make_staff("officer", areas=["E05900001"], name="PC Olu Officer"),
        "officer_elsewhere": make_staff("officer", areas=["E05900002"], name="PC Else"),
        "force_admin": make_staff("force_admin", areas=["E10900001"], name="Fran Admin"),
    }


@pytest.fixture
def start_scheme(app, login, ids, town) -> Callable[..., int]:
    """Start a scheme through its form as ``town[who]``; returns its id."""
    from core.api import db
    from plugins.neighbourhood_watch.models import Scheme

    def start(name: str = "Mill Lane Watch", areas: tuple[str, ...] = ("ST000001",),
              who: str = "coordinator", organisation: str = "wealdshire-nhw",
              shape: str = "") -> int:
        client = login(app.test_client(), member=town[who])
        response = client.post("/schemes/new", data={
            "name": name, "description": "Keeping Mill Lane safe.",
            "organisation": ids(org=organisation), "areas": [ids(code) for code in areas],
            "shape": shape})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        with app.app_context():
            return db.session.scalar(select(Scheme.id).where(Scheme.name == name))

    return start
