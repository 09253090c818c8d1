"""Meegaan: find low-threshold activities nearby and go there together the first times."""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask
from flask.logging import default_handler
from flask_babel import Babel
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect

from .config import UnsafeSettings, from_env, unsafe_settings
from .db import Database
from .resources import CHECKOUT, IS_CHECKOUT, TRANSLATIONS

babel = Babel()
compress = Compress()
csrf = CSRFProtect()


def _log_like_the_app(name: str) -> None:
    """A library's logger without a handler of its own writes where the app's does (stderr:
    gunicorn's error log), instead of nowhere."""
    found = logging.getLogger(name)
    if not any(not isinstance(h, logging.NullHandler) for h in found.handlers):
        found.addHandler(default_handler)
        found.setLevel(logging.INFO)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a new app: settings, database, translations, security, blueprints and commands."""
    instance = os.environ.get("INSTANCE_PATH") or (
        str(CHECKOUT / "instance") if IS_CHECKOUT else None
    )
    app = Flask(__name__, instance_path=instance)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(from_env(app.instance_path))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["DEFAULT_LOCALE"]
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]  # dates shown in Brussels time
    if config:
        app.config.update(config)
    if app.config["ENVIRONMENT"] == "production":
        problems = unsafe_settings(app.config)
        if problems:
            raise UnsafeSettings(
                "Meegaan will not start in production with these settings:\n- "
                + "\n- ".join(problems)
                + "\n(MEEGAAN_ENV=development is for a developer's own machine only.)"
            )
    elif not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = secrets.token_hex(32)  # one process on a developer's machine

    from . import vault
    from .web import common

    app.url_map.converters["int"] = common.IdConverter  # before any route is added
    vault.configure(app.config["DATA_KEYS"] or [vault.instance_key(app.instance_path)])
    if not app.config["DATA_KEYS"] and app.config["ENVIRONMENT"] == "production":
        app.logger.warning(
            "DATA_KEYS is not set: families' details are encrypted with %s/data.key; "
            "back it up, and give every machine the same key",
            app.instance_path,
        )

    app.extensions["meegaan_db"] = Database(
        app.config["DATABASE_URL"], app.config["SQLITE_BUSY_SECONDS"]
    )
    app.teardown_appcontext(common.close_db)
    babel.init_app(app, locale_selector=common.select_locale)
    compress.init_app(app)
    csrf.init_app(app)

    from . import cli, security
    from .web import (
        api,
        auth,
        caching,
        come_along,
        editor,
        errors,
        manage,
        public,
        requests,
        templating,
    )
    from .web.limits import limiter

    limiter.init_app(app)
    _log_like_the_app("flask-limiter")  # "storage unreachable": an operator must see it
    security.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    caching.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(manage.bp)
    app.register_blueprint(editor.bp)
    app.register_blueprint(come_along.bp)
    app.register_blueprint(requests.bp)
    if app.config["ENVIRONMENT"] == "development":
        from .web import caught_mail

        app.register_blueprint(caught_mail.bp)
    cli.init_app(app)
    if app.config["PROXY_COUNT"]:
        # Outermost, so that the front cache and the rate limits see the visitor's address and
        # scheme. Only X-Forwarded-For and -Proto: nginx sets Host itself.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    return app
