"""Configuration: defaults, then ``COMMONWATCH_*`` environment variables, then a mapping.

docs/configuration.md lists every setting.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PREFIX = "COMMONWATCH_"

DEFAULTS: dict[str, Any] = {
    #: SQLAlchemy URL; unset means SQLite in the instance folder.
    "DATABASE_URL": None,
    #: Redis URL; unset means jobs run in-process and rate limits are kept in memory.
    "REDIS_URL": None,
    #: Comma-separated plugin names, "all" (default) or "none".
    "PLUGINS": "all",
    "SECRET_KEY": None,
    #: Public address of the site, used for links in emails (never the Host header).
    "BASE_URL": "http://localhost:5000",
    #: A directory where compiled page templates are kept and shared between app
    #: processes (Jinja's bytecode cache); unset, each process compiles its own.
    "TEMPLATE_CACHE_DIR": None,
    "BRAND_NAME": "Commonwatch",
    #: Shown under the name; unset shows a translated default.
    "BRAND_TAGLINE": None,
    #: Header background; must keep white text readable (contrast 4.5:1 or more).
    "BRAND_COLOUR": "#1d4f91",
    #: URL of a logo shown in the header, or None.
    "BRAND_LOGO_URL": None,
    "AREA_LEVELS": "force,district,ward,street",
    "PRIVACY_NOTICE_VERSION": "2026-11",
    #: SMTP server; unset (the embedded default) saves each email in instance/outbox/.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "Commonwatch <no-reply@localhost>",
    #: Sign-in attempts allowed per account, from any address, in the window.
    "SIGN_IN_LIMIT": "10 per 5 minutes",
    "RQ_QUEUES": "urgent,default",
    #: GOV.UK Notify for SMS: an API key, and a text message template whose whole content
    #: is ((body)). Unset, SMS go to the development channel (the dev_outbox table).
    "NOTIFY_API_KEY": None,
    "NOTIFY_SMS_TEMPLATE_ID": None,
    "NOTIFY_BASE_URL": "https://api.notifications.service.gov.uk",
    #: The bearer token Notify sends with delivery receipts to /callbacks/notify (set the
    #: same in Notify's callback settings); unset, receipts are refused.
    "NOTIFY_CALLBACK_TOKEN": None,
    #: Web push (VAPID, RFC 8292): the site's P-256 key pair, made by `commonwatch
    #: vapid-keys`. The private key is PEM or base64url (the raw 32 bytes); the public
    #: key, the base64url "application server key" browsers subscribe with, is derived
    #: from it when unset. VAPID_SUBJECT is a contact for push services ("mailto:...").
    #: Without a private key and subject, residents are not offered push notifications
    #: and push deliveries go to the development channel.
    "VAPID_PRIVATE_KEY": None,
    "VAPID_PUBLIC_KEY": None,
    "VAPID_SUBJECT": None,
    #: Push services a browser subscription may point at (host names, subdomains
    #: included, comma-separated): workers POST to these, so no other address is taken.
    "PUSH_SERVICE_HOSTS": "fcm.googleapis.com,updates.push.services.mozilla.com,"
                          "web.push.apple.com,notify.windows.com",
    #: How long a push service keeps a notification for a device that is offline.
    "PUSH_TTL_SECONDS": 24 * 3600,
    #: Map tiles under the compose page's map (a Leaflet URL template) and their credit
    #: (plain text); unset shows a plain map with the postcode dots.
    "MAP_TILE_URL": None,
    "MAP_TILE_ATTRIBUTION": None,
    #: Members' "by day" channels are used from DAY_STARTS_HOUR to DAY_ENDS_HOUR, UK time.
    "DAY_STARTS_HOUR": 8,
    "DAY_ENDS_HOUR": 20,
    #: Estimated prices shown in the send preview, in pence.
    "SMS_PENCE_PER_SEGMENT": 2,
    "VOICE_PENCE_PER_CALL": 5,
    #: The preview counts recipients who already got this many messages in 7 days.
    "PREVIEW_RECENT_MESSAGES": 3,
    #: Messages from these roles, or in these categories, wait for a second person
    #: (a supervisor or force administrator) to approve them. Comma-separated.
    "APPROVAL_ROLES": "",
    "APPROVAL_CATEGORIES": "",
    #: SMS and voice wait (UK time) from QUIET_HOURS_START until QUIET_HOURS_END, except
    #: urgent messages.
    "QUIET_HOURS_START": 21,
    "QUIET_HOURS_END": 8,
    #: Rate limits per channel, shared by all workers through Redis, in the notation of
    #: the limits library, e.g. {"sms": "3000/minute"} for GOV.UK Notify's default.
    "CHANNEL_RATE_LIMITS": {"sms": "3000/minute"},
    #: A batch over a channel's rate waits this long, then the sweeper sends it.
    "RATE_LIMIT_RETRY_SECONDS": 30,
    #: Non-urgent messages a member gets in a day; the rest wait for the daily digest.
    "DAILY_MESSAGE_CAP": 3,
    #: Deliveries per background job.
    "DELIVERY_BATCH_SIZE": 1000,
    #: A temporary failure is retried after 60 s, 120 s, 240 s ... up to this many tries.
    "DELIVERY_RETRY_SECONDS": 60,
    "DELIVERY_MAX_ATTEMPTS": 5,
    #: Permanent failures after which an email address or phone number is "not working".
    "CONTACT_FAILURES_TO_INVALID": 2,
    #: A delivery claimed (or queued) this long ago without an outcome is swept back.
    "DELIVERY_STUCK_SECONDS": 300,
    #: How long RQ keeps a finished job's result, and a failed job (for inspection).
    "JOB_RESULT_TTL_SECONDS": 3600,
    "JOB_FAILURE_TTL_SECONDS": 7 * 24 * 3600,
    #: Staff sessions end after this many idle minutes, and after this many hours at most.
    "STAFF_IDLE_MINUTES": 30,
    "STAFF_SESSION_HOURS": 12,
    #: Residents' sessions end after this many days.
    "MEMBER_SESSION_DAYS": 30,
    #: Sensitive changes need the password to have been given within this many minutes.
    "FRESH_LOGIN_MINUTES": 10,
    #: The "Reply to the sender" and rating links in an alert, and its Reply-To address,
    #: work for this many days after the alert was sent; then they answer "expired".
    "REPLY_LINK_MAX_AGE_DAYS": 30,
    #: Replies a resident may send through one reply link, in Flask-Limiter's notation.
    "REPLY_LIMIT": "10 per hour",
    #: Codes one address may check on the public verification page (/verify), in
    #: Flask-Limiter's notation: enough for a household, too few to guess codes.
    "VERIFY_LIMIT": "30 per 10 minutes",
    #: The mail domain whose reply+<token>@ addresses reach the inbound webhook or the
    #: IMAP mailbox; set, alert emails carry "Reply-To: reply+<token>@<domain>".
    "INBOUND_EMAIL_DOMAIN": None,
    #: The bearer token the mail system sends to POST /inbound/email; unset, the webhook
    #: answers 404.
    "INBOUND_EMAIL_TOKEN": None,
    #: The mailbox `commonwatch fetch-replies` reads (IMAP over TLS unless IMAP_SSL is
    #: false); IMAP_CA_FILE trusts a private certificate authority for it.
    "IMAP_HOST": None,
    "IMAP_PORT": 993,
    "IMAP_USER": None,
    "IMAP_PASSWORD": None,
    "IMAP_FOLDER": "INBOX",
    "IMAP_SSL": True,
    "IMAP_CA_FILE": None,
    #: Keyword -> area code of the team a reply containing the word (whole word, any
    #: case) is escalated to and flagged for, e.g. {"knife": "E07900001"}; JSON in the
    #: environment.
    "REPLY_KEYWORD_RULES": {},
}


def _parse(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered.isdigit():
        return int(lowered)
    return value


def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for short in ("postgres://", "postgresql://"):
        if url.startswith(short):
            return "postgresql+psycopg://" + url[len(short):]
    return url


def load_config(app: Flask, config: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` from defaults, the environment and ``config``, in that order;
    then derive the settings nobody gave (Flask's own defaults do not count as given)."""
    app.config.update(DEFAULTS)
    given: set[str] = set()
    for key, value in os.environ.items():
        if key.startswith(PREFIX) and not key.startswith(PREFIX + "TEST_"):
            app.config[key[len(PREFIX):]] = _parse(value)
            given.add(key[len(PREFIX):])
    if config:
        app.config.update(config)
        given.update(config)

    def derive(key: str, value: Any) -> None:
        if key not in given:
            app.config[key] = value

    instance = Path(app.instance_path)
    if not app.config.get("DATABASE_URL") or not app.config.get("SECRET_KEY"):
        instance.mkdir(parents=True, exist_ok=True)
    url = app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'commonwatch.sqlite'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgres"):
        # JIT compilation pays off for long analytical queries, not for this workload:
        # it added a quarter of a second to every fan-out and preview.
        options["connect_args"] = {"options": "-c jit=off"}
    derive("SQLALCHEMY_ENGINE_OPTIONS", options)

    if not app.config.get("SECRET_KEY"):
        # Development only: a key kept in the instance folder so sessions survive restarts.
        key_file = instance / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        app.config["SECRET_KEY"] = key_file.read_text().strip()

    derive("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    # Fail closed: if the limit store is down, refuse the request instead of not counting.
    app.config["RATELIMIT_SWALLOW_ERRORS"] = False
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = False
    derive("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    https = app.config["BASE_URL"].startswith("https://")
    derive("SESSION_COOKIE_HTTPONLY", True)
    derive("SESSION_COOKIE_SAMESITE", "Lax")
    derive("SESSION_COOKIE_SECURE", https)
    # Residents are not offered "remember me"; these cover the cookie all the same.
    derive("REMEMBER_COOKIE_SECURE", https)
    derive("REMEMBER_COOKIE_HTTPONLY", True)
    derive("REMEMBER_COOKIE_SAMESITE", "Lax")
    derive("BABEL_DEFAULT_LOCALE", "en")
