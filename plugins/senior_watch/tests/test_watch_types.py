def test_residents_can_choose_senior_watch(app, client, county):
    registry = app.extensions["commonwatch"].registry
    assert list(registry.watch_types) == ["senior_watch.senior"]
    page = client.get("/register").get_data(as_text=True)
    assert 'value="senior_watch.senior"' in page and "Senior Watch" in page
