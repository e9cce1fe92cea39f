"""Senior Watch's role rule, and scam warnings routed to its members."""

from __future__ import annotations

import pytest

from core.api import TargetError

WARD_1, WARD_2, WARD_3 = "E05900001", "E05900002", "E05900005"
SENIOR = "senior_watch.senior"


@pytest.fixture
def people(make_member, make_staff):
    return {
        "olive": make_member(area=WARD_1, interests=[SENIOR],
                             fields={"senior_watch.roles": "older_resident"}),
        "carl": make_member(area=WARD_2, interests=[SENIOR],
                            fields={"senior_watch.roles": "family_carer,befriender"}),
        "cath": make_member(area=WARD_1, interests=[SENIOR], fields={
            "senior_watch.roles": "care_home", "senior_watch.care_home": "Elm Lodge"}),
        # Not in Senior Watch, though living in ward 1.
        "nell": make_member(area=WARD_1),
        # In Senior Watch, but in another officer's ward.
        "far": make_member(area=WARD_3, interests=[SENIOR],
                           fields={"senior_watch.roles": "older_resident"}),
        "officer": make_staff("officer", areas=["E07900001"]),
    }


def who(people, ids):
    names = {v: k for k, v in people.items() if k != "officer"}
    return sorted(names[i] for i in ids)


def roles(*wanted, area=None):
    params = {"roles": list(wanted)}
    if area:
        params["area"] = area
    return [{"name": "senior_watch.roles", "mode": "must", "params": params}]


def test_members_are_found_by_the_roles_they_gave(people, reached):
    officer = people["officer"]
    assert who(people, reached(officer, rules=roles("older_resident"))) == ["olive"]
    assert who(people, reached(officer, rules=roles("befriender", "care_home"))) \
        == ["carl", "cath"]
    assert who(people, reached(officer, rules=roles("family_carer", "care_home",
                                                    area=WARD_1))) == ["cath"]
    assert who(people, reached(officer, areas=[WARD_2], rules=roles("older_resident"))) == []


def test_a_role_must_be_chosen(people, reached):
    with pytest.raises(TargetError) as refused:
        reached(people["officer"], rules=roles())
    assert "Choose at least one role" in str(refused.value)


def test_a_scam_warning_aimed_at_other_watch_types_also_reaches_senior_watch(
        people, reached):
    officer = people["officer"]
    # A crime alert to Senior Watch's care homes reaches only them...
    assert who(people, reached(officer, category="crime_alert",
                               rules=[{**roles("care_home")[0], "mode": "include"}])) == ["cath"]
    # ...but a scam warning aimed at care homes reaches every Senior Watch member in the
    # officer's areas, never anyone outside them or outside Senior Watch.
    assert who(people, reached(officer, category="scam_warning",
                               rules=[{**roles("care_home")[0], "mode": "include"}])) \
        == ["carl", "cath", "olive"]
    # Aimed at everyone in ward 1, a scam warning reaches everyone there (as before).
    assert who(people, reached(officer, category="scam_warning", areas=[WARD_1])) \
        == ["cath", "nell", "olive"]
