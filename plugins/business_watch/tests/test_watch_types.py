def test_residents_can_choose_business_watch(app, client, county):
    registry = app.extensions["commonwatch"].registry
    assert list(registry.watch_types) == ["business_watch.business"]
    page = client.get("/register").get_data(as_text=True)
    assert 'value="business_watch.business"' in page and "Business Watch" in page
