"""Web push: residents' browser subscriptions and the push channel (VAPID, RFC 8292;
payloads encrypted with aes128gcm, RFC 8291), through pywebpush.

A member may get alerts on several devices; each browser that subscribed is one
:class:`~core.models.PushSubscription`. A delivery over the push channel goes to every
device of its member and counts as sent when any push service accepted it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from flask_babel import gettext as _
from py_vapid import Vapid
from sqlalchemy import func, select, update

from core.emails import external_url
from core.extensions import db
from core.models import Member, MemberChannel, Message, PushSubscription, utcnow
from core.registry import Outgoing

#: Devices kept per member; subscribing one more forgets the one least recently used.
MAX_DEVICES = 10

#: Push services answer these for a subscription that no longer exists.
GONE = (404, 410)

#: Push services accept 4 KiB of encrypted payload; the text is cut to stay well within.
MAX_BODY_CHARACTERS = 1000


# -- keys -----------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raises ValueError on anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def load_vapid_key(text: str) -> Vapid:
    """The VAPID signer for a private key given as PEM or as base64url (raw 32 bytes,
    or DER). Newlines written as ``\\n`` (as in an environment variable) are accepted."""
    text = text.strip().replace("\\n", "\n")
    if "-----BEGIN" in text:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) EC key")
        return Vapid(key)
    return Vapid.from_string(text)


def public_key_of(vapid: Vapid) -> str:
    """The application server key browsers subscribe with: the uncompressed P-256 point,
    base64url without padding."""
    return _b64url(vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def generate_vapid_keys() -> tuple[str, str]:
    """A fresh VAPID key pair: (private key as base64url raw 32 bytes, public key as the
    base64url application server key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = _b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    return private, public_key_of(Vapid(key))


def push_configured() -> bool:
    """True when web push can be sent: a VAPID private key and subject are set."""
    config = current_app.config
    return bool(config.get("VAPID_PRIVATE_KEY") and config.get("VAPID_SUBJECT"))


def _vapid() -> Vapid:
    """This app's VAPID signer, parsed once."""
    state = current_app.extensions.setdefault("commonwatch_push", {})
    source = current_app.config["VAPID_PRIVATE_KEY"]
    if state.get("source") != source:
        state["vapid"], state["source"] = load_vapid_key(source), source
        configured = current_app.config.get("VAPID_PUBLIC_KEY")
        derived = public_key_of(state["vapid"])
        if configured and configured.rstrip("=") != derived:
            current_app.logger.error(
                "VAPID_PUBLIC_KEY is not the public half of VAPID_PRIVATE_KEY; "
                "browsers are given %s, derived from the private key", derived)
    return state["vapid"]


def application_server_key() -> str | None:
    """The public key browsers subscribe with, or None when push is not configured (or
    its key cannot be read, which is logged: residents are then not offered push)."""
    if not push_configured():
        return None
    try:
        return public_key_of(_vapid())
    except Exception:  # noqa: BLE001 - a bad setting must not break residents' pages
        current_app.logger.exception("VAPID_PRIVATE_KEY cannot be read: push is off")
        return None


# -- subscriptions --------------------------------------------------------------------------


class BadSubscription(ValueError):
    """A browser's subscription that cannot be stored; the message says why."""


@dataclass(frozen=True)
class SubscriptionInfo:
    """A checked ``PushSubscription.toJSON()`` from a browser."""

    endpoint: str
    p256dh: str
    auth: str


def allowed_push_service(endpoint: str) -> bool:
    """True if ``endpoint`` is an https URL on one of ``PUSH_SERVICE_HOSTS`` (or a
    subdomain of one): workers POST to it, so it must not point anywhere else."""
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return False
    allowed = current_app.config.get("PUSH_SERVICE_HOSTS") or ""
    for entry in str(allowed).split(","):
        entry = entry.strip().lower()
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def parse_subscription(data: Any) -> SubscriptionInfo:
    """Check a browser's subscription (``{"endpoint": ..., "keys": {"p256dh": ...,
    "auth": ...}}``); raises :class:`BadSubscription` with the reason."""
    if not isinstance(data, dict):
        raise BadSubscription("the body must be a JSON object: a browser push subscription")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise BadSubscription("endpoint must be a URL")
    if len(endpoint) > 2048:
        raise BadSubscription("endpoint is too long")
    if not allowed_push_service(endpoint):
        raise BadSubscription("endpoint must be an https URL of a known push service")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise BadSubscription("keys must be an object with p256dh and auth")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise BadSubscription("keys must be an object with p256dh and auth")
    try:
        point = _b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        if len(point) != 65:
            raise ValueError("compressed")
    except ValueError:
        raise BadSubscription("keys.p256dh must be a base64url P-256 public key") from None
    try:
        secret = _b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise BadSubscription("keys.auth must be a base64url 16-byte secret")
    return SubscriptionInfo(endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("="))


def save_subscription(member: Member, info: SubscriptionInfo, user_agent: str = "") -> bool:
    """Store this device for ``member`` (not committed). The same endpoint again updates
    its row, whoever had it (a shared browser belongs to whoever subscribed last), and
    push becomes one of the member's channels. True if the device is new."""
    # Rows are added and deleted through the session (never by bulk statements), so
    # that whatever follows members' changes sees these too.
    row = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == info.endpoint))
    if row is not None and row.member_id != member.id:
        db.session.delete(row)
        db.session.flush()
        row = None
    created = row is None
    if row is None:
        devices = db.session.scalars(
            select(PushSubscription).where(PushSubscription.member_id == member.id)
            .order_by(func.coalesce(PushSubscription.last_used_at,
                                    PushSubscription.created_at), PushSubscription.id)
        ).all()
        for oldest in devices[:max(0, len(devices) - MAX_DEVICES + 1)]:
            db.session.delete(oldest)
        row = PushSubscription(member_id=member.id, endpoint=info.endpoint,
                               created_at=utcnow())
        db.session.add(row)
    row.p256dh, row.auth = info.p256dh, info.auth
    row.user_agent = (user_agent or "")[:255]
    if not any(c.channel == "push" for c in member.channels):
        member.channels.append(MemberChannel(channel="push", by_day=True, by_night=True))
    return created


def remove_subscription(member: Member, *, endpoint: str | None = None,
                        subscription_id: int | None = None) -> bool:
    """Forget one of ``member``'s devices, by endpoint or id (not committed). True if
    there was one."""
    condition = (PushSubscription.endpoint == endpoint if endpoint is not None
                 else PushSubscription.id == subscription_id)
    row = db.session.scalar(
        select(PushSubscription).where(PushSubscription.member_id == member.id, condition))
    if row is None:
        return False
    db.session.delete(row)
    return True


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser", "Samsung Internet"),
             ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
            ("CrOS", "ChromeOS"), ("Windows", "Windows"), ("Mac OS X", "macOS"),
            ("Macintosh", "macOS"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    """A short name for a device, from its User-Agent: "Firefox on Linux"."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")


# -- the channel ----------------------------------------------------------------------------


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def payload(message: Message, item: Outgoing) -> str:
    """What the service worker shows: the title, the plain text and the message's page
    on the site, as JSON."""
    body = item.text
    if len(body) > MAX_BODY_CHARACTERS:
        body = body[:MAX_BODY_CHARACTERS - 1].rstrip() + "…"
    return json.dumps({
        "title": item.subject,
        "body": body,
        "url": item.personal_url or external_url("account.message",
                                                 message_id=str(message.id)),
        "icon": external_url("static", filename="icons/icon-192.png"),
        "tag": f"message-{message.id}",
        "lang": item.language,
    })


def send_push(message: Message, items: list[Outgoing]) -> dict[int, tuple[str, str]]:
    """Send each delivery to every device of its member (pywebpush, VAPID-signed).

    A delivery is sent when any push service accepted it. A 404 or 410 forgets that
    device; with none left the delivery fails permanently (so the member's next channel
    is tried); any other trouble is a temporary failure, retried later. Without VAPID
    settings the development channel records it instead.
    """
    if not push_configured():
        from core.delivery import send_to_dev_outbox

        if current_app.config.get("VAPID_PRIVATE_KEY"):
            current_app.logger.warning("VAPID_SUBJECT is not set: push deliveries go to "
                                       "the development channel")
        return send_to_dev_outbox(message, items, "push")
    import requests
    from pywebpush import WebPushException, webpush

    config = current_app.config
    vapid = _vapid()
    rows = db.session.scalars(
        select(PushSubscription)
        .where(PushSubscription.member_id.in_({i.member_id for i in items}))
        .order_by(PushSubscription.id)
    ).all()
    devices: dict[int, list[PushSubscription]] = {}
    for row in rows:
        devices.setdefault(row.member_id, []).append(row)
    headers = {"Urgency": "high" if message.priority == 1 else "normal"}
    failures: dict[int, tuple[str, str]] = {}
    gone: list[PushSubscription] = []
    used: list[int] = []
    with requests.Session() as session:
        for item in items:
            data = payload(message, item)
            accepted, trouble = False, None
            for device in devices.get(item.member_id, []):
                try:
                    webpush(
                        subscription_info={"endpoint": device.endpoint,
                                           "keys": {"p256dh": device.p256dh,
                                                    "auth": device.auth}},
                        data=data, vapid_private_key=vapid,
                        vapid_claims={"sub": config["VAPID_SUBJECT"],
                                      "aud": _origin(device.endpoint)},
                        ttl=int(config["PUSH_TTL_SECONDS"]), headers=dict(headers),
                        timeout=10, requests_session=session,
                    )
                except WebPushException as exc:
                    if exc.status_code in GONE:
                        gone.append(device)
                    else:
                        trouble = f"push service {exc.status_code or exc.message}"
                except requests.RequestException as exc:
                    trouble = type(exc).__name__
                else:
                    accepted = True
                    used.append(device.id)
            if accepted:
                continue
            if trouble:
                failures[item.delivery_id] = ("temporary-failure", trouble)
            else:
                failures[item.delivery_id] = ("permanent-failure", "no push subscription left")
    for device in gone:
        db.session.delete(device)
    if used:
        db.session.execute(update(PushSubscription).where(PushSubscription.id.in_(used))
                           .values(last_used_at=utcnow()))
    return failures
