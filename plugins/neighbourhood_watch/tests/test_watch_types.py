def test_residents_can_choose_neighbourhood_watch(app, client, county):
    registry = app.extensions["commonwatch"].registry
    assert list(registry.watch_types) == ["neighbourhood_watch.neighbourhood"]
    page = client.get("/register").get_data(as_text=True)
    assert 'value="neighbourhood_watch.neighbourhood"' in page and "Neighbourhood Watch" in page
