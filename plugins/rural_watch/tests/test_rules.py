"""Rural Watch's rules reach exactly the intended members, going by where the horses,
boat or farm are when a member gave that postcode, and by their home otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.api import TargetError

WARD_1, WARD_2, WARD_3 = "E05900001", "E05900002", "E05900005"  # 1 and 2 in district D1
DISTRICT_1 = "E07900001"
HORSE, DOG, CANAL, FARM = (f"rural_watch.{w}" for w in ("horse", "dog", "canal", "farm"))


@pytest.fixture
def farmland(make_member, make_staff, postcode_for):
    """Members placed so that going by home instead of the stable, mooring or farm, or
    the other way round, gives a wrong answer."""
    return {
        # Lives in ward 1, keeps her horses at a yard in ward 2.
        "hattie": make_member(area=WARD_1, interests=[HORSE], fields={
            "rural_watch.horses_kept": "2", "rural_watch.horse_postcode": postcode_for(WARD_2)}),
        # Lives in ward 2 and keeps his horse at home.
        "harry": make_member(area=WARD_2, interests=[HORSE],
                             fields={"rural_watch.horses_kept": "1"}),
        # Lives in ward 2, keeps his horses at a yard in ward 1.
        "hugo": make_member(area=WARD_2, interests=[HORSE], fields={
            "rural_watch.horse_postcode": postcode_for(WARD_1)}),
        # Lives in ward 2, keeps no horses.
        "nina": make_member(area=WARD_2, interests=[DOG], fields={
            "rural_watch.dogs_kept": "1", "rural_watch.dog_breeds": "Labrador"}),
        "dora": make_member(area=WARD_1, interests=[DOG], fields={
            "rural_watch.dogs_kept": "3", "rural_watch.dog_breeds": "Cocker Spaniel, whippet"}),
        # Lives in ward 1, moored in ward 2 at Cowroast Marina.
        "bea": make_member(area=WARD_1, interests=[CANAL], fields={
            "rural_watch.boat_name": "Kingfisher", "rural_watch.mooring": "Cowroast Marina",
            "rural_watch.mooring_postcode": postcode_for(WARD_2)}),
        # Arable and sheep farm in ward 2, farmer living in ward 1, with quad bikes.
        "fred": make_member(area=WARD_1, interests=[FARM], fields={
            "rural_watch.farm_type": "arable", "rural_watch.livestock": "cattle,sheep",
            "rural_watch.machinery": "quad_bikes,gps",
            "rural_watch.farm_postcode": postcode_for(WARD_2)}),
        # Dairy farm at home in ward 2 with tractors.
        "gwen": make_member(area=WARD_2, interests=[FARM], fields={
            "rural_watch.farm_type": "dairy", "rural_watch.livestock": "cattle",
            "rural_watch.machinery": "tractors"}),
        # A horse owner in another district.
        "far": make_member(area=WARD_3, interests=[HORSE]),
        "officer": make_staff("officer", areas=[DISTRICT_1]),
    }


def must(name, **params):
    return {"name": name, "mode": "must", "params": params}


def who(farmland, ids):
    names = {v: k for k, v in farmland.items() if k != "officer"}
    return sorted(names[i] for i in ids)


def test_horse_owners_are_found_by_where_the_horses_are_kept(farmland, reached):
    officer = farmland["officer"]
    assert who(farmland, reached(officer, rules=[must("rural_watch.horses", area=WARD_2)])) \
        == ["harry", "hattie"]
    assert who(farmland, reached(officer, rules=[must("rural_watch.horses", area=WARD_1)])) \
        == ["hugo"]
    assert who(farmland, reached(officer, rules=[
        must("rural_watch.horses", area=DISTRICT_1)])) == ["harry", "hattie", "hugo"]


def test_a_horse_rule_combines_with_home_areas_and_other_watch_types(farmland, reached):
    officer = farmland["officer"]
    # Living in ward 1 AND keeping horses in ward 2.
    assert who(farmland, reached(officer, areas=[WARD_1], rules=[
        must("rural_watch.horses", area=WARD_2)])) == ["hattie"]
    # Dog Watch members, or (include) horse owners with horses in ward 2.
    assert who(farmland, reached(officer, watch_types=[DOG], rules=[
        {"name": "rural_watch.horses", "mode": "include", "params": {"area": WARD_2}}])) \
        == ["dora", "harry", "hattie", "nina"]
    # Everyone in ward 2 except horse owners whose horses are kept in ward 2.
    assert who(farmland, reached(officer, areas=[WARD_2], rules=[
        {"name": "rural_watch.horses", "mode": "exclude", "params": {"area": WARD_2}}])) \
        == ["gwen", "hugo", "nina"]


def test_dog_owners_by_home_area_and_breed(farmland, reached):
    officer = farmland["officer"]
    assert who(farmland, reached(officer, rules=[must("rural_watch.dogs", breed="spaniel")])) \
        == ["dora"]
    assert who(farmland, reached(officer, rules=[must("rural_watch.dogs", area=WARD_2)])) \
        == ["nina"]
    assert who(farmland, reached(officer, rules=[must("rural_watch.dogs")])) == ["dora", "nina"]


def test_boaters_by_mooring_area_and_marina(farmland, reached):
    officer = farmland["officer"]
    assert who(farmland, reached(officer, rules=[must("rural_watch.boats", area=WARD_2)])) \
        == ["bea"]
    assert reached(officer, rules=[must("rural_watch.boats", area=WARD_1)]) == set()
    assert who(farmland, reached(officer, rules=[
        must("rural_watch.boats", mooring="COWROAST MARINA")])) == ["bea"]
    assert reached(officer, rules=[must("rural_watch.boats", mooring="Cowroast")]) == set()


def test_farms_by_location_type_livestock_and_machinery(farmland, reached):
    officer = farmland["officer"]

    def farms(**params):
        return who(farmland, reached(officer, rules=[must("rural_watch.farms", **params)]))

    assert farms(area=WARD_2) == ["fred", "gwen"]
    assert farms(area=WARD_1) == []  # Fred lives there, but his farm is in ward 2
    assert farms(livestock=["sheep"]) == ["fred"]
    assert farms(livestock=["sheep", "cattle"]) == ["fred", "gwen"]
    assert farms(machinery=["tractors"]) == ["gwen"]
    assert farms(farm_types=["dairy"], livestock=["cattle"]) == ["gwen"]
    assert farms(farm_types=["arable"], machinery=["tractors"]) == []
    # "gps" must not match inside another answer, nor a partial word.
    assert farms(machinery=["gps"]) == ["fred"]


def test_rules_reach_only_within_the_senders_own_areas(farmland, reached, make_staff):
    elsewhere = make_staff("officer", areas=[WARD_3])
    assert who(farmland, reached(elsewhere, rules=[
        must("rural_watch.horses", area=DISTRICT_1)])) == []
    assert who(farmland, reached(elsewhere, rules=[
        must("rural_watch.horses", area=WARD_3)])) == ["far"]


def test_bad_rule_parameters_are_refused_with_a_reason(farmland, reached):
    officer = farmland["officer"]
    with pytest.raises(TargetError) as refused:
        reached(officer, rules=[must("rural_watch.horses", area="E05999999")])
    assert "There is no area with this code" in str(refused.value.errors)
    with pytest.raises(TargetError) as refused:
        reached(officer, rules=[must("rural_watch.horses")])
    assert "Enter an area code" in str(refused.value.errors)
    with pytest.raises(TargetError):
        reached(officer, rules=[must("rural_watch.farms", livestock=["dragons"])])
    with pytest.raises(TargetError) as refused:
        reached(officer, rules=[must("rural_watch.boats")])
    assert "Give an area, a mooring or both" in str(refused.value.errors)


def test_a_resident_registers_horses_kept_at_a_yard(client, county, app, postcode_for):
    from core.api import Member, Organisation, db

    yard = postcode_for(WARD_2)
    with app.app_context():
        police = db.session.scalar(select(Organisation.id).where(
            Organisation.slug == "wealdshire-police"))
    form = {
        "name": "Hetty Hooves", "email": "hetty@example.org",
        "password": "a long enough password", "password_confirm": "a long enough password",
        "address_line": "1 Mill Lane", "postcode": postcode_for(WARD_1), "channels": ["email"],
        "interests": [HORSE], "language": "en", "privacy": "y", "organisations": [police],
        "field__rural_watch__horses_kept": "3",
        "field__rural_watch__horse_postcode": "  " + yard.lower().replace(" ", ""),
        # Farm Watch was not chosen: its answers are not kept.
        "field__rural_watch__livestock": ["sheep"],
    }
    refused = client.post("/register", data={
        **form, "field__rural_watch__horse_postcode": "ZZ9 9ZZ"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "We do not cover this postcode yet" in page and "Hetty Hooves" in page
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.email == "hetty@example.org")) \
            is None

    assert client.post("/register", data=form).status_code == 302
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.email == "hetty@example.org"))
        assert {v.name: v.value for v in member.field_values} == {
            "rural_watch.horses_kept": "3", "rural_watch.horse_postcode": yard}


def test_several_answers_are_kept_and_shown_again_on_the_profile(
        app, login, make_member, postcode_for):
    fred = make_member(area=WARD_1, interests=[FARM], fields={
        "rural_watch.livestock": "cattle,sheep", "rural_watch.farm_type": "mixed"})
    client = login(app.test_client(), member=fred)
    page = client.get("/account/profile").get_data(as_text=True)
    for value in ("cattle", "sheep"):
        assert _ticked(page, value)
    assert not _ticked(page, "pigs")
    # The farm's questions sit under their own heading, after the watch types.
    assert page.index("Farm Watch</legend>") > page.index('value="rural_watch.farm"')


def _ticked(page: str, value: str) -> bool:
    import re

    return re.search(rf'<input[^>]*value="{value}"[^>]*checked', page) is not None
