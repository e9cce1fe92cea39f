"""Disabling the plugin removes its pages, navigation, rules and watch type, and the core
keeps working on a database that holds the plugin's tables and rows."""

from sqlalchemy import select

from core.api import db
from plugins.neighbourhood_watch.models import Scheme


def test_disabling_the_plugin_removes_all_of_it(make_app, start_scheme, town, login):
    scheme_id = start_scheme()
    app = make_app(PLUGINS="rural_watch")
    registry = app.extensions["commonwatch"].registry
    assert not [n for n in registry.targeting_rules if n.startswith("neighbourhood_watch")]
    assert not [n for n in registry.watch_types if n.startswith("neighbourhood_watch")]
    assert not [n for n in registry.permissions if n.startswith("neighbourhood_watch")]
    assert not [r.rule for r in app.url_map.iter_rules()
                if r.endpoint.startswith("neighbourhood_watch")]
    anonymous = app.test_client()
    for path in ("/schemes", "/groups", f"/schemes/{scheme_id}", "/staff/schemes"):
        assert anonymous.get(path).status_code == 404, path
    home = anonymous.get("/").get_data(as_text=True)
    assert "Watch schemes" not in home and "Groups" not in home
    member = login(app.test_client(), member=town["coordinator"])
    assert "/schemes" not in member.get("/account").get_data(as_text=True)
    officer = login(app.test_client(), staff=town["officer"])
    assert officer.get("/staff/messages/").status_code == 200
    with app.app_context():
        assert db.session.get(Scheme, scheme_id) is not None  # its data stays


def test_staff_can_aim_a_message_at_a_scheme_with_its_rule(app, start_scheme, town, login):
    from core.api import Staff as StaffModel
    from core.api import Target, TargetError, create_message, preview_message
    from plugins.neighbourhood_watch.models import SchemeMember

    scheme_id = start_scheme()
    with app.app_context():
        db.session.add(SchemeMember(scheme_id=scheme_id, member_id=town["resident"],
                                    status="active"))
        db.session.commit()
        officer = db.session.get(StaffModel, town["officer"])
        target = Target(rules=[{"name": "neighbourhood_watch.scheme", "mode": "must",
                                "params": {"scheme": scheme_id}}])
        message = create_message(officer, title="T", body="B", plain_text="P",
                                 category="community_news", priority=3,
                                 target=target.to_json())
        # Cora coordinates and Rita is a member; both let the police contact them.
        counted = preview_message(message, officer)
        assert counted.people == 2 and "members of Mill Lane Watch" in counted.description
        bad = create_message(officer, title="T", body="B", plain_text="P",
                             category="community_news", priority=3, target=Target(rules=[
                                 {"name": "neighbourhood_watch.scheme", "mode": "must",
                                  "params": {"scheme": "x"}}]).to_json())
        try:
            preview_message(bad, officer)
        except TargetError as exc:
            assert "rules.0" in exc.errors
        else:
            raise AssertionError("a scheme rule without a scheme number was accepted")
        assert db.session.scalar(select(Scheme.name)) == "Mill Lane Watch"
