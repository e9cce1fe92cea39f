"""Web push: residents subscribe their devices, and alerts reach them through a push
service — here a stand-in served over TLS on loopback, which checks the VAPID signature
like a real one and decrypts what it receives with the device's keys."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import re
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import http_ece
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.config import DEFAULTS
from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import Delivery, DevOutbox, Member, PushSubscription, Staff
from core.push import generate_vapid_keys, load_vapid_key, public_key_of
from core.testing.matrix import csrf_token

NOON = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)
WARD = "E05900001"
SUBJECT = "mailto:alerts@commonwatch.example.org"
VAPID_PRIVATE, VAPID_PUBLIC = generate_vapid_keys()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """A browser's side of a subscription: its key pair and auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    secret: bytes

    @classmethod
    def new(cls, endpoint: str) -> Device:
        return cls(endpoint, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    def to_json(self) -> dict:
        """What ``PushSubscription.toJSON()`` gives in a browser."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.secret)}}


def self_signed_certificate(directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


class PushService:
    """A push service on loopback over TLS. Like a real one, it refuses a request whose
    VAPID token is not signed by the key in it, is not for its origin, has expired or
    names no contact; it answers 410 for endpoints under /gone/ and 500 under /down/."""

    def __init__(self, origin: str):
        self.origin = origin
        self.received: list[dict] = []
        self.refused: list[str] = []
        self.devices: dict[str, Device] = {}

    def device(self, path: str) -> Device:
        device = Device.new(f"{self.origin}{path}")
        self.devices[device.endpoint] = device
        return device

    def check_vapid(self, header: str) -> dict:
        match = re.fullmatch(r"vapid t=([\w.-]+),\s*k=([\w-]+)", header)
        if not match:
            raise ValueError(f"not a VAPID authorization: {header!r}")
        token, key = match.groups()
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        claims = jwt.decode(token, public, algorithms=["ES256"], audience=self.origin,
                            options={"require": ["exp", "aud", "sub"]})
        if claims["exp"] > time.time() + 24 * 3600:
            raise ValueError("a VAPID token may live 24 hours at most")
        if not claims["sub"].startswith(("mailto:", "https:")):
            raise ValueError("no contact in sub")
        return {"claims": claims, "key": key}

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            vapid = self.check_vapid(request.headers.get("Authorization", ""))
        except (ValueError, jwt.PyJWTError) as exc:
            self.refused.append(str(exc))
            return Response("bad VAPID", 401)(environ, start_response)
        device = self.devices[self.origin + request.path]
        plain = http_ece.decrypt(request.get_data(), private_key=device.key,
                                 auth_secret=device.secret, version="aes128gcm")
        self.received.append({
            "endpoint": device.endpoint, "vapid": vapid, "payload": json.loads(plain),
            "ttl": request.headers.get("TTL"), "urgency": request.headers.get("Urgency"),
            "encoding": request.headers.get("Content-Encoding"),
        })
        if request.path.startswith("/gone/"):
            return Response("", 410)(environ, start_response)
        if request.path.startswith("/down/"):
            return Response("", 500)(environ, start_response)
        return Response("", 201)(environ, start_response)


@pytest.fixture
def push_service(tmp_path, monkeypatch):
    cert_file, key_file = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    # requests (inside pywebpush) trusts our certificate, and goes to no proxy.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert_file)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    holder: dict = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["service"](e, s),
                         threaded=True, ssl_context=context)
    holder["service"] = PushService(f"https://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["service"]
    server.shutdown()
    server.server_close()


#: VAPID keys, and the test push service allowed besides the real ones.
PUSH_CONFIG = {"VAPID_PRIVATE_KEY": VAPID_PRIVATE, "VAPID_PUBLIC_KEY": VAPID_PUBLIC,
               "VAPID_SUBJECT": SUBJECT,
               "PUSH_SERVICE_HOSTS": DEFAULTS["PUSH_SERVICE_HOSTS"] + ",127.0.0.1"}


@pytest.fixture
def push_app(make_app):
    return make_app(**PUSH_CONFIG)


def subscribe(app, member_id: int, device: Device, user_agent: str = "") -> None:
    """Store a device as the subscribe endpoint does (tested below through the page)."""
    from core.push import parse_subscription, save_subscription

    with app.test_request_context():
        member = db.session.get(Member, member_id)
        save_subscription(member, parse_subscription(device.to_json()), user_agent)
        db.session.commit()


def send_alert(app, make_staff, *, at=NOON, priority=2, title="Flooding on Mill Lane",
               plain="Mill Lane is closed by flooding. Use Church Road."):
    supervisor = make_staff("supervisor", areas=["E07900001"])
    with app.app_context():
        sender = db.session.get(Staff, supervisor)
        message = create_message(sender, title=title, body="Roads closed.", plain_text=plain,
                                 category="community_news", priority=priority,
                                 target=Target(areas=[WARD]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, sender, at=at)
        return message.id


def deliveries(app) -> dict[tuple[int, str], str]:
    with app.app_context():
        return {(m, c): s for m, c, s in db.session.execute(
            select(Delivery.member_id, Delivery.channel, Delivery.state))}


def devices_of(app, member_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(PushSubscription.endpoint).where(
            PushSubscription.member_id == member_id).order_by(PushSubscription.id)))


# -- delivery -------------------------------------------------------------------------------


def test_an_alert_reaches_every_device_of_the_member_signed_and_encrypted(
        push_app, make_member, make_staff, push_service):
    app = push_app
    member = make_member(area=WARD, channels=["push"])
    phone, laptop = push_service.device("/send/phone"), push_service.device("/send/laptop")
    subscribe(app, member, phone)
    subscribe(app, member, laptop)
    message_id = send_alert(app, make_staff, priority=1)

    assert push_service.refused == []
    assert sorted(r["endpoint"] for r in push_service.received) == sorted(
        [phone.endpoint, laptop.endpoint])
    for request in push_service.received:
        # What the phone shows: the title, the plain text and a link to the alert's page.
        assert request["payload"]["title"] == "Flooding on Mill Lane"
        assert request["payload"]["body"] == "Mill Lane is closed by flooding. Use Church Road."
        assert request["payload"]["url"] == (
            f"https://commonwatch.example.org/account/messages/{message_id}")
        # Signed by our key for this push service, with our contact.
        assert request["vapid"]["key"] == VAPID_PUBLIC
        assert request["vapid"]["claims"]["aud"] == push_service.origin
        assert request["vapid"]["claims"]["sub"] == SUBJECT
        assert request["encoding"] == "aes128gcm"
        assert request["urgency"] == "high"  # priority 1
        assert request["ttl"] == str(24 * 3600)
    assert deliveries(app) == {(member, "push"): "sent"}
    with app.app_context():
        used = db.session.scalars(select(PushSubscription.last_used_at)).all()
        assert len(used) == 2 and all(used)


def test_non_urgent_alerts_are_sent_at_normal_urgency(push_app, make_member, make_staff,
                                                      push_service):
    member = make_member(area=WARD, channels=["push"])
    subscribe(push_app, member, push_service.device("/send/phone"))
    send_alert(push_app, make_staff, priority=3)
    assert [r["urgency"] for r in push_service.received] == ["normal"]


def test_a_member_who_chose_push_but_has_no_device_gets_no_push_delivery(
        push_app, make_member, make_staff, push_service):
    member = make_member(area=WARD, channels=["email", "push"])
    send_alert(push_app, make_staff)
    assert deliveries(push_app) == {(member, "email"): "sent"}
    assert push_service.received == []


def test_a_device_the_push_service_forgot_is_removed_and_the_next_channel_is_tried(
        push_app, make_member, make_staff, push_service, outbox):
    app = push_app
    # Email by day only, so at night only push is used, until push fails for good.
    lost = make_member(area=WARD, email="lost-phone@example.org", channels=["email", "push"])
    both = make_member(area=WARD, email="two-devices@example.org", channels=["push"])
    with app.app_context():
        channel = next(c for c in db.session.get(Member, lost).channels if c.channel == "email")
        channel.by_night = False
        db.session.commit()
    subscribe(app, lost, push_service.device("/gone/old-phone"))
    subscribe(app, both, push_service.device("/gone/old-laptop"))
    kept = push_service.device("/send/new-phone")
    subscribe(app, both, kept)

    send_alert(app, make_staff, at=MIDNIGHT)

    states = deliveries(app)
    assert states[(lost, "push")] == "permanent-failure"
    assert states[(lost, "email")] == "sent"  # the fallback
    assert [m["To"] for m in outbox.wait_for(1)] == ["lost-phone@example.org"]
    assert devices_of(app, lost) == []
    # One device is gone, the other got it: sent, and the gone one is forgotten.
    assert states[(both, "push")] == "sent"
    assert devices_of(app, both) == [kept.endpoint]
    assert (both, "email") not in states


def test_other_push_service_errors_are_retried_and_keep_the_device(
        push_app, make_member, make_staff, push_service):
    member = make_member(area=WARD, channels=["push"])
    device = push_service.device("/down/phone")
    subscribe(push_app, member, device)
    send_alert(push_app, make_staff)
    assert deliveries(push_app) == {(member, "push"): "temporary-failure"}
    assert devices_of(push_app, member) == [device.endpoint]
    with push_app.app_context():
        assert db.session.scalar(select(Delivery.not_before)) is not None  # retried later


def test_without_vapid_keys_push_goes_to_the_development_channel(
        make_app, make_member, make_staff, push_service):
    app = make_app(PUSH_SERVICE_HOSTS="127.0.0.1")
    member = make_member(area=WARD, channels=["push"])
    subscribe(app, member, push_service.device("/send/phone"))
    send_alert(app, make_staff)
    assert push_service.received == []
    assert deliveries(app) == {(member, "push"): "sent"}
    with app.app_context():
        row = db.session.scalar(select(DevOutbox))
        assert (row.channel, row.address, row.text) == (
            "push", str(member), "Mill Lane is closed by flooding. Use Church Road.")


# -- subscribing ----------------------------------------------------------------------------


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def test_the_preferences_page_offers_push_with_a_script_and_no_inline_code(
        push_app, make_member, login):
    client = login(push_app.test_client(), member=make_member())
    response = client.get("/account/preferences")
    page = response.get_data(as_text=True)
    control = re.search(r"<div [^>]*data-push-control[^>]*>", page).group(0)
    # Hidden until push.js finds the browser can do it: nothing shows without script.
    assert 'class="govuk-!-display-none"' in control
    assert f'data-public-key="{VAPID_PUBLIC}"' in control
    assert 'data-subscribe-url="/account/push-subscriptions"' in control
    assert 'data-worker-url="/service-worker.js"' in control
    assert re.search(r'data-csrf-token="[^"]+"', control)
    assert "Get alerts on this device" in page and "Stop alerts on this device" in page
    assert '<script type="module" src="/static/js/push.js"></script>' in page
    assert " onclick=" not in page
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert client.get("/static/js/push.js").status_code == 200


def test_without_vapid_keys_residents_are_not_offered_push(app, client, make_member, login):
    login(client, member=make_member())
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "data-push-control" not in page
    assert "Get alerts on this device" not in page
    response = client.post("/account/push-subscriptions",
                           json=Device.new("https://fcm.googleapis.com/fcm/send/x").to_json())
    assert response.status_code == 404
    assert response.json == {"error": "push notifications are not set up on this site"}


def test_subscribing_stores_the_device_and_again_updates_it(push_app, make_member, login):
    app = push_app
    member = make_member(channels=["email"])
    client = login(app.test_client(), member=member)
    device = Device.new("https://updates.push.services.mozilla.com/wpush/v2/abc")

    first = client.post("/account/push-subscriptions", json=device.to_json(),
                        headers={"User-Agent": FIREFOX})
    assert (first.status_code, first.json) == (201, {"status": "subscribed"})
    # The browser's keys change, the endpoint stays: the same device, updated.
    renewed = Device.new(device.endpoint)
    again = client.post("/account/push-subscriptions", json=renewed.to_json(),
                        headers={"User-Agent": FIREFOX})
    assert (again.status_code, again.json) == (200, {"status": "updated"})
    with app.app_context():
        rows = db.session.scalars(select(PushSubscription)).all()
        assert len(rows) == 1
        assert rows[0].p256dh == renewed.to_json()["keys"]["p256dh"]
        assert rows[0].member_id == member
        # Subscribing a device is choosing push.
        assert {c.channel for c in db.session.get(Member, member).channels} == {"email",
                                                                                 "push"}
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "Firefox on Linux" in page  # the resident sees their device listed


@pytest.mark.parametrize(("body", "reason"), [
    ("not json at all", "the body must be a JSON object: a browser push subscription"),
    ("[1, 2]", "the body must be a JSON object: a browser push subscription"),
    ('{"keys": {}}', "endpoint must be a URL"),
    ('{"endpoint": "http://fcm.googleapis.com/fcm/send/x", "keys": {}}',
     "endpoint must be an https URL of a known push service"),
    ('{"endpoint": "https://169.254.169.254/latest", "keys": {}}',
     "endpoint must be an https URL of a known push service"),
    ('{"endpoint": "https://fcm.googleapis.com.evil.example/x", "keys": {}}',
     "endpoint must be an https URL of a known push service"),
    ('{"endpoint": "https://fcm.googleapis.com/fcm/send/x"}',
     "keys must be an object with p256dh and auth"),
    ('{"endpoint": "https://fcm.googleapis.com/fcm/send/x", '
     '"keys": {"p256dh": "BAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}',
     "keys.p256dh must be a base64url P-256 public key"),
])
def test_a_bad_subscription_is_refused_with_a_reason(push_app, make_member, login, body,
                                                     reason):
    client = login(push_app.test_client(), member=make_member())
    response = client.post("/account/push-subscriptions", data=body,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"error": reason}
    with push_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_a_bad_auth_secret_is_refused(push_app, make_member, login):
    client = login(push_app.test_client(), member=make_member())
    body = Device.new("https://fcm.googleapis.com/fcm/send/x").to_json()
    body["keys"]["auth"] = b64url(b"short")
    response = client.post("/account/push-subscriptions", json=body)
    assert (response.status_code, response.json) == (
        400, {"error": "keys.auth must be a base64url 16-byte secret"})


def test_subscribing_is_for_signed_in_residents_only(push_app, make_member, make_staff,
                                                     login):
    body = Device.new("https://fcm.googleapis.com/fcm/send/abc").to_json()
    response = push_app.test_client().post("/account/push-subscriptions", json=body)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/sign-in"
    staff = login(push_app.test_client(), staff=make_staff())
    assert staff.post("/account/push-subscriptions", json=body).status_code == 403
    assert staff.post("/account/push-subscriptions/delete",
                      json={"endpoint": body["endpoint"]}).status_code == 403
    with push_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_subscribing_needs_the_csrf_token_sent_in_a_header(make_app, make_member):
    app = make_app(WTF_CSRF_ENABLED=True, **PUSH_CONFIG)
    make_member(email="token@example.org")
    client = app.test_client()
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    assert client.post("/sign-in", data={"email": "token@example.org",
                                         "password": "correct horse battery staple",
                                         "csrf_token": token}).status_code == 302
    # The page gives the script its token, which it sends as X-CSRFToken.
    page = client.get("/account/preferences").get_data(as_text=True)
    token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
    body = Device.new("https://fcm.googleapis.com/fcm/send/abc").to_json()
    url = "/account/push-subscriptions"
    assert client.post(url, json=body).status_code == 400
    assert client.post(url, json=body, headers={"X-CSRFToken": "forged"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0
    assert client.post(url, json=body, headers={"X-CSRFToken": token}).status_code == 201
    delete_url = "/account/push-subscriptions/delete"
    assert client.post(delete_url, json={"endpoint": body["endpoint"]}).status_code == 400
    assert client.post(delete_url, json={"endpoint": body["endpoint"]},
                       headers={"X-CSRFToken": token}).status_code == 200


def test_a_resident_removes_their_own_devices_and_nobody_elses(push_app, make_member, login):
    app = push_app
    owner, other = make_member(), make_member()
    mine = Device.new("https://fcm.googleapis.com/fcm/send/mine")
    kept = Device.new("https://web.push.apple.com/kept")
    subscribe(app, owner, mine, FIREFOX)
    subscribe(app, owner, kept)
    intruder = login(app.test_client(), member=other)
    refused = intruder.post("/account/push-subscriptions/delete",
                            json={"endpoint": mine.endpoint})
    assert (refused.status_code, refused.json) == (404, {
        "error": "this device has no subscription"})

    client = login(app.test_client(), member=owner)
    bad = client.post("/account/push-subscriptions/delete", data="{",
                      content_type="application/json")
    assert bad.status_code == 400 and "error" in bad.json
    gone = client.post("/account/push-subscriptions/delete", json={"endpoint": mine.endpoint})
    assert (gone.status_code, gone.json) == (200, {"status": "deleted"})
    assert devices_of(app, owner) == [kept.endpoint]

    # Without JavaScript: the Remove button of the device list on the preferences page.
    page = client.get("/account/preferences").get_data(as_text=True)
    device_id = re.search(r'name="id" value="(\d+)"', page).group(1)
    response = client.post("/account/push-subscriptions/delete", data={"id": device_id})
    assert response.status_code == 302
    assert devices_of(app, owner) == []
    assert "That device will no longer get alerts" in client.get(
        "/account/preferences").get_data(as_text=True)


def test_a_shared_browser_belongs_to_whoever_subscribed_it_last(push_app, make_member):
    first, second = make_member(), make_member()
    device = Device.new("https://fcm.googleapis.com/fcm/send/shared")
    subscribe(push_app, first, device)
    subscribe(push_app, second, device)
    assert devices_of(push_app, first) == []
    assert devices_of(push_app, second) == [device.endpoint]


def test_an_eleventh_device_replaces_the_one_least_recently_used(push_app, make_member):
    from core.push import MAX_DEVICES

    member = make_member()
    endpoints = [f"https://fcm.googleapis.com/fcm/send/{n}" for n in range(MAX_DEVICES + 1)]
    for endpoint in endpoints[:MAX_DEVICES]:
        subscribe(push_app, member, Device.new(endpoint))
    with push_app.app_context():
        first = db.session.scalar(select(PushSubscription).where(
            PushSubscription.endpoint == endpoints[0]))
        first.last_used_at = dt.datetime.now(dt.UTC)  # still in use: kept
        db.session.commit()
    subscribe(push_app, member, Device.new(endpoints[-1]))
    kept = devices_of(push_app, member)
    assert len(kept) == MAX_DEVICES
    assert endpoints[0] in kept and endpoints[-1] in kept
    assert endpoints[1] not in kept


# -- the service worker, the manifest and the keys --------------------------------------


def test_the_service_worker_is_served_from_the_root_as_javascript(client):
    response = client.get("/service-worker.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    script = response.get_data(as_text=True)
    assert 'addEventListener("push"' in script
    assert "showNotification" in script
    assert 'addEventListener("notificationclick"' in script and "openWindow" in script


def test_the_web_app_manifest_names_the_site_and_its_icons_exist(make_app):
    client = make_app(BRAND_NAME="Wealdshire Alerts", BRAND_COLOUR="#005ea5").test_client()
    page = client.get("/privacy").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.get_data())
    assert manifest["name"] == "Wealdshire Alerts"
    assert len(manifest["short_name"]) <= 12
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/account/messages"
    assert manifest["theme_color"] == "#005ea5"
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.get_data()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vapid_keys_prints_a_key_pair_that_works(app):
    result = app.test_cli_runner().invoke(args=["vapid-keys"])
    assert result.exit_code == 0, result.output
    settings = dict(line.split("=", 1) for line in result.output.split())
    private = settings["COMMONWATCH_VAPID_PRIVATE_KEY"]
    public = settings["COMMONWATCH_VAPID_PUBLIC_KEY"]
    vapid = load_vapid_key(private)
    assert public_key_of(vapid) == public
    assert len(unb64url(public)) == 65 and unb64url(public)[0] == 4
    header = vapid.sign({"sub": SUBJECT, "aud": "https://fcm.googleapis.com"})
    token = re.search(r"t=([\w.-]+)", header["Authorization"]).group(1)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public))
    assert jwt.decode(token, key, algorithms=["ES256"],
                      audience="https://fcm.googleapis.com")["sub"] == SUBJECT


def test_a_pem_private_key_works_too():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    assert public_key_of(load_vapid_key(pem)) == b64url(point)
    # As written in an environment variable, on one line.
    assert public_key_of(load_vapid_key(pem.replace("\n", "\\n"))) == b64url(point)


# -- in a real browser ----------------------------------------------------------------------

#: Stands in for the browser's push service in the page: Chromium would ask Google's
#: servers for a subscription, which a test cannot reach.
FAKE_PUSH_MANAGER = """(() => {
  let current = null;
  PushManager.prototype.subscribe = async function (options) {
    current = {
      endpoint: "https://127.0.0.1:9/browser-test",
      options: { applicationServerKey: options.applicationServerKey },
      toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: KEYS }; },
      async unsubscribe() { current = null; return true; },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();"""


def browser_sign_in(page, site, email):
    from core.testing.pytest_plugin import DEFAULT_PASSWORD

    page.goto(f"{site}/sign-in")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")


@pytest.mark.browser
def test_a_resident_turns_alerts_on_and_off_for_their_browser(app, live_server, make_member,
                                                              make_browser_page):
    from playwright.sync_api import expect

    app.config.update(PUSH_CONFIG, WTF_CSRF_ENABLED=True)
    member = make_member(email="browser@example.org")
    keys = Device.new("https://127.0.0.1:9/browser-test").to_json()["keys"]
    page = make_browser_page()
    page.context.grant_permissions(["notifications"], origin=live_server)
    page.add_init_script(FAKE_PUSH_MANAGER.replace("KEYS", json.dumps(keys)))
    browser_sign_in(page, live_server, "browser@example.org")
    page.goto(f"{live_server}/account/preferences")

    turn_on = page.get_by_role("button", name="Get alerts on this device")
    expect(turn_on).to_be_visible()  # the script ran under the CSP, the worker is ready
    worker = page.evaluate("navigator.serviceWorker.ready.then("
                           "r => [r.scope, r.active.scriptURL])")
    assert worker == [f"{live_server}/", f"{live_server}/service-worker.js"]
    turn_on.click()
    expect(page.get_by_text("This device gets alerts.")).to_be_visible()
    assert devices_of(app, member) == ["https://127.0.0.1:9/browser-test"]

    page.get_by_role("button", name="Stop alerts on this device").click()
    expect(page.get_by_text("This device does not get alerts yet.")).to_be_visible()
    expect(turn_on).to_be_visible()
    assert devices_of(app, member) == []


@pytest.mark.browser
def test_without_javascript_the_push_control_stays_hidden(app, live_server, make_member,
                                                          make_browser_page):
    from playwright.sync_api import expect

    app.config.update(PUSH_CONFIG)
    make_member(email="nojs@example.org")
    page = make_browser_page(java_script_enabled=False)
    browser_sign_in(page, live_server, "nojs@example.org")
    page.goto(f"{live_server}/account/preferences")
    expect(page.get_by_role("heading", name="When and what we send")).to_be_visible()
    expect(page.get_by_role("button", name="Get alerts on this device")).to_be_hidden()
    expect(page.get_by_role("button", name="Stop alerts on this device")).to_be_hidden()


def test_an_unreadable_vapid_key_hides_push_instead_of_breaking_the_page(make_app, make_member,
                                                                       login):
    app = make_app(**{**PUSH_CONFIG, "VAPID_PRIVATE_KEY": "not a key"})
    client = login(app.test_client(), member=make_member())
    response = client.get("/account/preferences")
    assert response.status_code == 200
    assert "data-push-control" not in response.get_data(as_text=True)
