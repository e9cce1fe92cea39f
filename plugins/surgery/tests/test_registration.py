def test_surgery_is_enabled_and_adds_no_watch_type(app, client, county):
    plugins = app.extensions["commonwatch"].plugins
    assert plugins.enabled == ["surgery"]
    assert app.extensions["commonwatch"].registry.watch_types == {}
    page = client.get("/register").get_data(as_text=True)
    assert "What would you like to hear about?" not in page


def test_disabling_the_surgery_removes_its_pages_permissions_and_command(make_app, login,
                                                                         make_member):
    on = make_app(PLUGINS="surgery")
    off = make_app(PLUGINS="none")
    assert any(r.rule.startswith("/surgery/") for r in on.url_map.iter_rules())
    assert not any(r.rule.startswith("/surgery/") for r in off.url_map.iter_rules())
    surgery_permissions = {"surgery.handle", "surgery.assist", "surgery.dashboard",
                           "surgery.beat"}
    assert surgery_permissions <= set(on.extensions["commonwatch"].registry.permissions)
    assert not surgery_permissions & set(off.extensions["commonwatch"].registry.permissions)
    assert "surgery" in on.cli.commands and "surgery" not in off.cli.commands
    resident = make_member()
    page = login(off.test_client(), member=resident).get("/account").get_data(as_text=True)
    assert "Contact your local policing team" not in page
    page = login(on.test_client(), member=resident).get("/account").get_data(as_text=True)
    assert "Contact your local policing team" in page
