"""What every page shares: branding, language, headers and error pages."""

import pytest


def test_the_force_brands_the_site(make_app, county):
    app = make_app(BRAND_NAME="Wealdshire Alert", BRAND_COLOUR="#0b5394",
                   BRAND_LOGO_URL="/static/wealdshire-logo.png",
                   BRAND_TAGLINE="From Wealdshire Police")
    page = app.test_client().get("/").get_data(as_text=True)
    assert "<title>Home – Wealdshire Alert</title>" in page
    assert 'src="/static/wealdshire-logo.png"' in page
    assert "background-color: #0b5394" in page
    assert "From Wealdshire Police" in page


@pytest.mark.parametrize(("query", "lang", "heading"), [
    ("?lang=en", "en", "Register for alerts"),
    ("?lang=cy", "cy", "Cofrestru i gael rhybuddion"),
])
def test_pages_switch_between_english_and_welsh(client, county, query, lang, heading):
    page = client.get("/register" + query).get_data(as_text=True)
    assert f'<html lang="{lang}"' in page
    assert heading in page
    # The choice sticks for the next page.
    assert f'<html lang="{lang}"' in client.get("/sign-in").get_data(as_text=True)


def test_welsh_speakers_browsers_get_welsh(client, county):
    page = client.get("/", headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"})
    assert '<html lang="cy"' in page.get_data(as_text=True)


def test_responses_carry_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_hsts_on_every_response(client):
    header = client.get("/").headers["Strict-Transport-Security"]
    assert int(header.split("max-age=")[1].split(";")[0]) >= 31536000


def test_error_pages_are_in_the_sites_style_and_language(client):
    response = client.get("/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "Page not found" in page
    assert 'class="govuk-heading-xl"' in page
    welsh = client.get("/no-such-page?lang=cy").get_data(as_text=True)
    assert '<html lang="cy"' in welsh and "Page not found" not in welsh


def test_an_unexpected_error_shows_no_internal_detail(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("SELECT secret FROM somewhere")

    boom.commonwatch_access = "public"
    response = app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "problem with the service" in page
    assert "SELECT" not in page and "Traceback" not in page


def test_cookie_and_body_limits_apply_unless_the_deployment_sets_them(make_app):
    app = make_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is True  # BASE_URL is https in tests
    cookie = app.test_client().get("/?lang=cy").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    custom = make_app(MAX_CONTENT_LENGTH=5 * 1024 * 1024, SESSION_COOKIE_SAMESITE="Strict")
    assert custom.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert custom.config["SESSION_COOKIE_SAMESITE"] == "Strict"
