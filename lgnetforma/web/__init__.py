"""The web interface: one blueprint per area, thin views over the services."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from lgnetforma.web import (
        accessibility,
        admin,
        assets,
        auth,
        author,
        certificates,
        coordinate,
        devmail,
        errors,
        learn,
        public,
        sessions,
        spid,
        templating,
    )
    from lgnetforma.web.urls import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added
    templating.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(learn.bp)
    app.register_blueprint(certificates.bp)
    app.register_blueprint(author.bp)
    app.register_blueprint(coordinate.bp)
    if devmail.enabled(app.config):
        app.register_blueprint(devmail.bp)
    app.register_blueprint(sessions.bp)
    spid.init_app(app)
    app.register_blueprint(accessibility.bp)
