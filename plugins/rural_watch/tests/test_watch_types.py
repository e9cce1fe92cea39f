import pytest

RURAL = {
    "rural_watch.horse": "Horse Watch",
    "rural_watch.dog": "Dog Watch",
    "rural_watch.canal": "Canal Watch",
    "rural_watch.farm": "Farm Watch",
}


def test_each_rural_watch_is_its_own_watch_type(app):
    registry = app.extensions["commonwatch"].registry
    assert {n: str(w.label) for n, w in registry.watch_types.items()} == RURAL


@pytest.mark.parametrize("name", RURAL)
def test_residents_can_choose_each_rural_watch(client, county, name):
    page = client.get("/register").get_data(as_text=True)
    assert f'value="{name}"' in page and RURAL[name] in page
