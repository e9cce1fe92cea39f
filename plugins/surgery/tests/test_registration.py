def test_surgery_is_enabled_and_adds_no_watch_type(app, client, county):
    plugins = app.extensions["commonwatch"].plugins
    assert plugins.enabled == ["surgery"]
    assert app.extensions["commonwatch"].registry.watch_types == {}
    page = client.get("/register").get_data(as_text=True)
    assert "What would you like to hear about?" not in page
