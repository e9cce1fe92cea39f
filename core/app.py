"""The application factory."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user
from jinja2 import ChoiceLoader, FileSystemBytecodeCache, PackageLoader, PrefixLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine

from core import defaults, delivery
from core.access import enforce_declared_policy
from core.cli import register_commands
from core.config import load_config
from core.extensions import csrf, db, limiter, login_manager, mail, migrate
from core.models import LANGUAGES, Member, Staff, UTCDateTime
from core.plugins import CommonwatchPlugins, PluginError, installed_plugins, parse_enabled
from core.registry import Registry, build_registry
from core.rest import register_plugin_api
from core.sessions import check_request
from core.views.vendor import STATIC_ENDPOINTS

CORE_DIR = Path(__file__).parent


@dataclass
class CommonwatchState:
    """What the core keeps on ``app.extensions["commonwatch"]``."""

    plugins: CommonwatchPlugins
    registry: Registry
    migration_locations: list[str] = field(default_factory=list)
    plugin_models: dict[str, list[type]] = field(default_factory=dict)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores ON DELETE CASCADE unless asked; erasure relies on it.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@migrate.configure
def _alembic_config(config: Any) -> Any:
    # The core's revisions plus every enabled plugin's branch.
    from core.schema import migration_locations

    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join(migration_locations(current_app._get_current_object()))
    )
    return config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a Commonwatch app from defaults, ``COMMONWATCH_*`` variables and ``config``.

    Loads the enabled plugins (raising :class:`core.plugins.PluginError` naming each one
    that fails), builds the registry of what they contribute and registers their
    blueprints, commands and migrations.
    """
    app = Flask("core", instance_relative_config=True)
    load_config(app, config)

    plugins = CommonwatchPlugins()
    plugins.register_core(defaults)
    plugins.pm.register(delivery, name="core.delivery")
    installed = installed_plugins()
    plugins.load(parse_enabled(app.config.get("PLUGINS"), installed), installed)
    state = CommonwatchState(plugins=plugins, registry=build_registry(plugins))
    app.extensions["commonwatch"] = state

    _init_extensions(app, state)
    _register_core_blueprints(app)
    register_commands(app)
    _load_plugin_parts(app, state)
    _init_templates(app)
    plugins.call("commonwatch_app_ready", app=app)
    return app


def tile_source(url: str | None) -> str:
    """The CSP source (with a leading space) that lets the map load tiles from the
    ``MAP_TILE_URL`` template ``url``; "" when unset or not an http(s) URL.

    A ``{s}`` subdomain becomes the ``*.`` wildcard: ``https://{s}.tile.example.org/...``
    gives `` https://*.tile.example.org``."""
    if not url:
        return ""
    parts = urlsplit(str(url))
    host = re.sub(r"^\{s\}\.", "*.", parts.netloc)
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[\w*.:\[\]-]+", host):
        return ""
    return f" {parts.scheme}://{host}"


def _render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Revisions are frozen snapshots: never make them import our model module.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _translation_directories(state: CommonwatchState) -> str:
    # Translations shipped by plugins join the core's catalogue.
    dirs = [str(CORE_DIR / "translations")]
    for name in state.plugins.enabled:
        module = state.plugins.plugin_module(name)
        if module and module.__file__:
            candidate = Path(module.__file__).parent / "translations"
            if candidate.is_dir():
                dirs.append(str(candidate))
    return ";".join(dirs)


def _init_extensions(app: Flask, state: CommonwatchState) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(CORE_DIR / "migrations"), render_as_batch=True,
                     render_item=_render_migration_item)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    # One Babel per app: Flask-Babel caches catalogues on the instance, and each app
    # may enable plugins with catalogues of their own.
    Babel(
        app,
        locale_selector=_select_locale,
        default_translation_directories=_translation_directories(state),
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = None
    # "basic": a session seen from a new address or browser is only marked not fresh
    # (our own freshness check applies). Revocation is done by the server-side session
    # records, and "strong" would sign out phones moving between networks (and clear a
    # remember-me cookie we never set).
    login_manager.session_protection = "basic"


def _select_locale() -> str | None:
    if not has_request_context():
        return None  # background work uses force_locale, or the default
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    if isinstance(current_user, Member) and current_user.language in LANGUAGES:
        return current_user.language
    return request.accept_languages.best_match(LANGUAGES) or "en"


@login_manager.user_loader
def _load_user(user_id: str) -> Member | Staff | None:
    try:
        kind, pk, version = user_id.split(":")
    except ValueError:
        return None
    model = {"m": Member, "s": Staff}.get(kind)
    if model is None or not pk.isdigit():
        return None
    user = db.session.get(model, int(pk))
    if user is None or str(user.auth_version) != version or not user.is_active:
        return None
    return user


def _register_core_blueprints(app: Flask) -> None:
    from core.rest import register_api
    from core.views import (
        account,
        archive,
        auth,
        callbacks,
        messages,
        outcomes,
        public,
        push,
        replies,
        staff,
        tokens,
        verify,
    )
    from core.views.errors import register_error_pages
    from core.views.vendor import leaflet_bp

    for bp in (public.bp, auth.bp, account.bp, staff.bp, messages.bp, callbacks.bp, push.bp,
               leaflet_bp, replies.bp, verify.bp, archive.bp, outcomes.bp, tokens.bp):
        app.register_blueprint(bp)
    register_api(app)
    register_error_pages(app)


def _load_plugin_parts(app: Flask, state: CommonwatchState) -> None:
    plugins = state.plugins
    for plugin, blueprints in plugins.call_each("commonwatch_blueprints"):
        for bp in blueprints or ():
            if bp.name != plugin and not bp.name.startswith(plugin + "."):
                raise PluginError(f"plugin {plugin!r} blueprint {bp.name!r} must be named after it")
            app.register_blueprint(bp)
    for plugin, models in plugins.call_each("commonwatch_models"):
        for model in models or ():
            table = getattr(model, "__tablename__", "")
            if not table.startswith(plugin + "_"):
                raise PluginError(
                    f"plugin {plugin!r} table {table!r} must be named {plugin}_..."
                )
        state.plugin_models[plugin] = list(models or ())
    for _plugin, locations in plugins.call_each("commonwatch_migration_locations"):
        state.migration_locations.extend(str(p) for p in locations or ())
    for plugin, blueprints in plugins.call_each("commonwatch_api_blueprints"):
        for bp in blueprints or ():
            if bp.name != f"{plugin}_api":
                raise PluginError(f"plugin {plugin!r} API blueprint {bp.name!r} must be "
                                  f"named {plugin}_api")
            register_plugin_api(app, bp, plugin)
    for plugin, commands in plugins.call_each("commonwatch_cli_commands"):
        for command in commands or ():
            if command.name in app.cli.commands:
                raise PluginError(f"plugin {plugin!r} command {command.name!r} already exists")
            app.cli.add_command(command)


def _init_templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(
        [
            app.jinja_loader,
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    if app.config.get("TEMPLATE_CACHE_DIR"):
        cache_dir = Path(app.config["TEMPLATE_CACHE_DIR"])
        cache_dir.mkdir(parents=True, exist_ok=True)
        app.jinja_env.bytecode_cache = FileSystemBytecodeCache(str(cache_dir))
    from govuk_frontend_wtf.main import WTFormsHelpers

    WTFormsHelpers(app)

    @app.before_request
    def _nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)
        # Responses that end a session are still answers to a signed-in browser.
        g.came_signed_in = "_user_id" in session

    app.before_request(enforce_declared_policy)

    @app.before_request
    def _session_still_valid() -> None:
        if request.endpoint and request.endpoint not in STATIC_ENDPOINTS:
            reason = check_request()
            if reason:
                app.logger.info("signed out: %s", reason)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        if not has_request_context():  # emails rendered by background jobs
            return {}
        state = app.extensions["commonwatch"]
        user = current_user._get_current_object() if current_user.is_authenticated else None
        items = [
            item
            for _plugin, result in state.plugins.call_each("commonwatch_navigation", user=user)
            for item in result or ()
        ]
        return {
            "navigation": sorted(items, key=lambda i: i.order),
            "brand": {
                "name": app.config["BRAND_NAME"],
                "tagline": app.config["BRAND_TAGLINE"],
                "colour": app.config["BRAND_COLOUR"],
                "logo": app.config["BRAND_LOGO_URL"],
            },
            "locale": str(get_locale()),
            "csp_nonce": g.get("csp_nonce", ""),
        }

    @app.after_request
    def _headers(response: Any) -> Any:
        nonce = g.get("csp_nonce", "")
        tiles = tile_source(app.config.get("MAP_TILE_URL"))
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data: https:{tiles}; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Browsers ignore it over plain http, so it is safe to send always.
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
        if current_user.is_authenticated or g.get("came_signed_in"):
            response.headers["Cache-Control"] = "no-store"
        return response

