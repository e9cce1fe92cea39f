"""The watch-type plugins shipped in plugins/: each can be switched off on its own and
then leaves no page, field, watch type, rule or permission behind; and they work
together (a scam warning aimed at Business Watch also reaches Senior Watch)."""

from __future__ import annotations

import pytest

from core.api import Staff, Target, TargetError, create_message, db, preview_message

SHIPPED = ["business_watch", "neighbourhood_watch", "rural_watch", "senior_watch"]
#: One rule of each plugin, with parameters it accepts.
A_RULE = {
    "business_watch": ("business_watch.premises", {"sectors": ["retail"]}),
    "neighbourhood_watch": ("neighbourhood_watch.scheme", {"scheme": 1}),
    "rural_watch": ("rural_watch.horses", {"area": "E05900001"}),
    "senior_watch": ("senior_watch.roles", {"roles": ["older_resident"]}),
}


def _contributions(app, plugin):
    registry = app.extensions["commonwatch"].registry
    owned = {n for n, owner in registry.owners.items() if owner == plugin}
    routes = {r.rule for r in app.url_map.iter_rules()
              if r.endpoint.split(".")[0] == plugin}
    return owned, routes


@pytest.mark.parametrize("plugin", SHIPPED)
def test_each_plugin_can_be_disabled_on_its_own(make_app, county, make_staff, plugin):
    everything = make_app(PLUGINS="all")
    owned, routes = _contributions(everything, plugin)
    assert owned, f"{plugin} contributes nothing when enabled"
    fields = [n for n in owned if n in everything.extensions["commonwatch"].registry
              .member_fields]
    full_page = everything.test_client().get("/register").get_data(as_text=True)
    for name in fields:
        assert f'name="field__{name.replace(".", "__")}"' in full_page

    others = [p for p in SHIPPED if p != plugin]
    app = make_app(PLUGINS=",".join(others))
    registry = app.extensions["commonwatch"].registry
    assert not owned & set(registry.owners)
    assert _contributions(app, plugin) == (set(), set())
    page = app.test_client().get("/register").get_data(as_text=True)
    assert not [n for n in owned if n.replace(".", "__") in page or f'"{n}"' in page]
    for path in routes:
        if "<" not in path:
            assert app.test_client().get(path).status_code == 404, path
    # The others are all still there.
    for other in others:
        assert _contributions(app, other)[0]

    # A message using its rule is refused with a reason, not sent to the wrong people.
    officer = make_staff("force_admin", areas=["E10900001"])
    name, params = A_RULE[plugin]
    with app.app_context():
        sender = db.session.get(Staff, officer)
        message = create_message(sender, title="T", body="B", plain_text="P",
                                 category="crime_alert", priority=3, target=Target(rules=[
                                     {"name": name, "mode": "must", "params": params}]).to_json())
        with pytest.raises(TargetError) as refused:
            preview_message(message, sender)
    assert "unknown targeting rule" in str(refused.value)


@pytest.fixture
def commonwatch_plugins() -> str:
    return "business_watch,senior_watch"


def test_a_scam_warning_to_business_watch_also_reaches_senior_watch(
        app, make_member, make_staff, reached):
    shop = make_member(area="E05900001", interests=["business_watch.business"])
    carer = make_member(area="E05900001", interests=["senior_watch.senior"],
                        fields={"senior_watch.roles": "family_carer"})
    make_member(area="E05900001")  # in neither
    make_member(area="E05900012", interests=["senior_watch.senior"])  # not in the ward
    officer = make_staff("officer", areas=["E05900001"])
    target = {"watch_types": ["business_watch.business"]}
    assert reached(officer, category="crime_alert", **target) == {shop}
    assert reached(officer, category="scam_warning", **target) == {shop, carer}


def test_the_preview_says_where_a_routed_category_also_goes(app, make_member, make_staff,
                                                            login):
    make_member(area="E05900001", interests=["senior_watch.senior"])
    officer = login(app.test_client(), staff=make_staff("officer", areas=["E05900001"]))
    page = officer.post("/staff/messages/new", data={
        "title": "Courier fraud", "body": "Callers pretending to be police.",
        "plain_text": "Callers pretending to be police.", "category": "scam_warning",
        "priority": "3", "watch_types": ["business_watch.business"]},
        follow_redirects=True).get_data(as_text=True)
    assert "as its category is routed to them, Senior Watch" in page
