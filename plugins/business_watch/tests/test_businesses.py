"""Business Watch: members register their businesses; staff aim by sector and premises."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.api import TargetError

WARD_1, WARD_2, WARD_3 = "E05900001", "E05900002", "E05900005"
DISTRICT_1, DISTRICT_2 = "E07900001", "E07900002"
BUSINESS = "business_watch.business"


@pytest.fixture
def add_business(app, login, postcode_for):
    """Register a business through the form as member ``member_id``."""

    def add(member_id: int, name: str, sector: str, area: str, **extra: str):
        client = login(app.test_client(), member=member_id)
        response = client.post("/businesses/new", data={
            "name": name, "sector": sector, "address_line": f"1 {name} Street",
            "postcode": postcode_for(area), **extra})
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
        return client

    return add


@pytest.fixture
def high_street(make_member, make_staff, add_business):
    """Businesses placed so that going by the owner's home, or ignoring the sector,
    gives a wrong answer."""
    people = {
        # Lives in district 2, runs a pub in district 1.
        "publican": make_member(area=WARD_3),
        # Lives in district 1, runs a pub in district 2 and a shop in district 1.
        "landlady": make_member(area=WARD_1),
        # Lives and runs a shop in district 1.
        "grocer": make_member(area=WARD_2),
        # Lives in district 1, in no business.
        "resident": make_member(area=WARD_1),
        "officer": make_staff("officer", areas=[DISTRICT_1, DISTRICT_2]),
    }
    add_business(people["publican"], "The Plough", "licensed", WARD_1, staff_count="6",
                 opening_hours="Noon to 11pm")
    landlady = add_business(people["landlady"], "The Swan", "licensed", WARD_3)
    landlady.post("/businesses/new", data={"name": "Corner Shop", "sector": "retail",
                                           "address_line": "2 Corner", "postcode": "",
                                           })  # refused: no postcode, nothing saved
    add_business(people["landlady"], "Corner Shop", "retail", WARD_2)
    add_business(people["grocer"], "Green Grocer", "retail", WARD_2)
    return people


def premises(**params):
    return [{"name": "business_watch.premises", "mode": "must", "params": params}]


def who(people, ids):
    names = {v: k for k, v in people.items() if k != "officer"}
    return sorted(names[i] for i in ids)


def test_businesses_are_found_by_sector_and_where_their_premises_are(high_street, reached):
    officer = high_street["officer"]
    assert who(high_street, reached(officer, rules=premises(sectors=["licensed"],
                                                            area=DISTRICT_1))) == ["publican"]
    assert who(high_street, reached(officer, rules=premises(sectors=["licensed"],
                                                            area=DISTRICT_2))) == ["landlady"]
    assert who(high_street, reached(officer, rules=premises(sectors=["retail"]))) \
        == ["grocer", "landlady"]
    assert who(high_street, reached(officer, rules=premises(area=WARD_1))) == ["publican"]
    assert who(high_street, reached(officer, rules=premises(
        sectors=["licensed", "retail"], area=DISTRICT_1))) == ["grocer", "landlady", "publican"]
    assert reached(officer, rules=premises(sectors=["finance"])) == set()


def test_the_rule_combines_with_home_areas(high_street, reached):
    officer = high_street["officer"]
    # Licensed premises anywhere, run by people living in district 1.
    assert who(high_street, reached(officer, areas=[DISTRICT_1],
                                    rules=premises(sectors=["licensed"]))) == ["landlady"]


def test_an_officer_reaches_only_owners_living_in_their_areas(high_street, reached,
                                                              make_staff):
    ward_officer = make_staff("officer", areas=[WARD_1])
    # The Plough is in ward 1 but its publican lives in district 2: outside this
    # officer's scope, so not reached.
    assert reached(ward_officer, rules=premises(area=WARD_1)) == set()


def test_the_rule_needs_a_sector_or_an_area(high_street, reached):
    with pytest.raises(TargetError) as refused:
        reached(high_street["officer"], rules=premises())
    assert "Choose a sector, give an area, or both" in str(refused.value)
    with pytest.raises(TargetError):
        reached(high_street["officer"], rules=premises(sectors=["casino"]))


def test_registering_a_business_signs_the_member_up(high_street, app):
    from core.api import Member, db
    from plugins.business_watch.models import Business

    with app.app_context():
        landlady = db.session.get(Member, high_street["landlady"])
        assert BUSINESS in [i.watch_type for i in landlady.interests]
        names = db.session.scalars(select(Business.name).where(
            Business.member_id == landlady.id).order_by(Business.name)).all()
        assert names == ["Corner Shop", "The Swan"]  # the refused one was not saved
        resident = db.session.get(Member, high_street["resident"])
        assert BUSINESS not in [i.watch_type for i in resident.interests]


def test_bad_input_is_shown_by_its_field_and_nothing_is_saved(app, login, make_member):
    from core.api import db
    from plugins.business_watch.models import Business

    member = make_member()
    client = login(app.test_client(), member=member)
    page = client.post("/businesses/new", data={
        "name": "Kwik Fix", "sector": "motor", "address_line": "3 Forge Lane",
        "postcode": "ZZ9 9ZZ", "staff_count": "many"}).get_data(as_text=True)
    assert "We do not cover this postcode yet" in page
    assert "Enter a number from 1 to 100,000" in page or "Not a valid integer" in page
    assert 'value="Kwik Fix"' in page and 'value="3 Forge Lane"' in page
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Business)) == 0


def test_a_member_changes_and_removes_only_their_own_business(high_street, app, login,
                                                               postcode_for):
    from core.api import db
    from plugins.business_watch.models import Business

    with app.app_context():
        plough = db.session.scalar(select(Business).where(Business.name == "The Plough"))
        plough_id, plough_area = plough.id, plough.area_id
    publican = login(app.test_client(), member=high_street["publican"])
    grocer = login(app.test_client(), member=high_street["grocer"])

    listing = grocer.get("/businesses/").get_data(as_text=True)
    assert "Green Grocer" in listing and "The Plough" not in listing
    assert grocer.get(f"/businesses/{plough_id}").status_code == 404
    assert grocer.post(f"/businesses/{plough_id}", data={
        "name": "Taken", "sector": "retail", "address_line": "x",
        "postcode": postcode_for(WARD_2)}).status_code == 404
    assert grocer.post(f"/businesses/{plough_id}/remove",
                       data={"submit": "Yes, remove it"}).status_code == 404

    form = publican.get(f"/businesses/{plough_id}").get_data(as_text=True)
    assert 'value="The Plough"' in form and "Noon to 11pm" in form
    moved = publican.post(f"/businesses/{plough_id}", data={
        "name": "The Plough Inn", "sector": "licensed", "address_line": "4 Green",
        "postcode": postcode_for(WARD_2), "staff_count": "7"})
    assert moved.status_code == 302
    with app.app_context():
        plough = db.session.get(Business, plough_id)
        assert (plough.name, plough.staff_count) == ("The Plough Inn", 7)
        assert plough.area_id != plough_area

    # Asking first: the page, then a bare POST, change nothing.
    assert "Remove The Plough Inn?" in publican.get(
        f"/businesses/{plough_id}/remove").get_data(as_text=True)
    publican.post(f"/businesses/{plough_id}/remove", data={})
    with app.app_context():
        assert db.session.get(Business, plough_id) is not None
    assert publican.post(f"/businesses/{plough_id}/remove",
                         data={"submit": "Yes, remove it"}).status_code == 302
    with app.app_context():
        assert db.session.get(Business, plough_id) is None


def test_businesses_are_in_the_members_data_and_erased_with_them(high_street, app, login):
    """Through commonwatch_member_data, and the member foreign key's ON DELETE CASCADE."""
    from core.api import Member, db
    from core.members import erase
    from plugins.business_watch.models import Business

    client = login(app.test_client(), member=high_street["landlady"])
    download = client.get("/account/my-data.json")
    data = json.loads(download.get_data(as_text=True))
    businesses = data["plugins"]["business_watch"]["businesses"]
    assert sorted(b["name"] for b in businesses) == ["Corner Shop", "The Swan"]
    assert "business_watch" not in json.loads(login(
        app.test_client(), member=high_street["resident"]).get(
        "/account/my-data.json").get_data(as_text=True))["plugins"]

    with app.app_context():
        erase(db.session.get(Member, high_street["landlady"]))
        db.session.commit()
        assert db.session.scalars(select(Business.name).order_by(Business.name)).all() \
            == ["Green Grocer", "The Plough"]
