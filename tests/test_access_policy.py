"""Every view declares who may use it; anything undeclared is a failing test."""

from core.access import POLICY_ATTR


def test_every_view_declares_its_access_policy(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        if not getattr(view, POLICY_ATTR, None):
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert not undeclared, "views without an access policy: " + ", ".join(undeclared)


def test_staff_views_require_staff(app, client, county, make_member, login):
    member_client = login(app.test_client(), member=make_member())
    for rule in app.url_map.iter_rules():
        policy = getattr(app.view_functions[rule.endpoint], POLICY_ATTR, "")
        if not policy.startswith("staff") or rule.arguments - {"member_id", "staff_id"}:
            continue
        url = rule.rule.replace("<int:member_id>", "1").replace("<int:staff_id>", "1")
        method = "GET" if "GET" in rule.methods else "POST"
        anonymous = client.open(url, method=method)
        assert anonymous.status_code == 302 and "sign-in" in anonymous.location, url
        assert member_client.open(url, method=method).status_code == 403, url
