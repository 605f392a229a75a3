"""LGNetforma: the e-learning platform of the LGNetforma 2025-2026 training plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from lgnetforma.config import apply_database_options, check_production, load_config
from lgnetforma.paths import PACKAGE_ROOT, PROJECT_ROOT

__all__ = ["PACKAGE_ROOT", "PROJECT_ROOT", "create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` overrides what the environment says (tests)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    check_production(app.config)
    apply_database_options(app.config)
    if app.config.get("PROXY_FIX_X_FOR") or app.config.get("PROXY_FIX_X_PROTO"):
        # Only behind proxies the deployer declared: otherwise X-Forwarded-For is anyone's
        # to forge, and rate limits per IP would be worthless.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=app.config.get("PROXY_FIX_X_FOR") or 0,
            x_proto=app.config.get("PROXY_FIX_X_PROTO") or 0,
        )

    from lgnetforma import database, extensions, i18n, security
    from lgnetforma.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(PACKAGE_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=str(PACKAGE_ROOT / "translations"),
    )
    i18n.install_template_gettext(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    del extensions

    from lgnetforma import models  # noqa: F401  (tables known to SQLAlchemy and Alembic)
    from lgnetforma.web import register_blueprints

    register_blueprints(app)

    from lgnetforma import api

    app.register_blueprint(api.bp)

    from lgnetforma.cli.commands import register_commands

    register_commands(app)
    return app
