"""The application factory: settings, database, the loaded handbook, every blueprint (registered here and
nowhere else), error pages, CLI commands."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from formserver import db, notify, training
from formserver.accounts import access, auth
from formserver.api import views as api_views
from formserver.app import cli, handbook_site, pwa
from formserver.base import config, errors, inputs, security
from formserver.db.migrate import upgrade
from formserver.forms.catalogue import Catalogue
from formserver.notify import views as notify_views
from formserver.operations import board, cases, checkpoints, handover, reports, roster_files, roster_views
from formserver.records import fill, offline, photos, review, signatures
from formserver.training import team as training_team
from formserver.training import views as training_views

BLUEPRINTS = (fill.bp, offline.bp, photos.bp, signatures.bp, review.bp, api_views.bp, handbook_site.bp, board.bp,
              handover.bp, cases.bp, reports.bp, roster_views.bp, roster_files.bp, checkpoints.bp, training_views.bp,
              training_team.bp, notify_views.bp, pwa.bp)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask("formserver", instance_relative_config=True)  # the package's templates/ and static/
    config.load(app, overrides)
    if app.config["PROXY_COUNT"]:
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    if app.config["AUTO_MIGRATE"]:
        upgrade(app.extensions["db_engine"])
    catalogue = Catalogue.load(app.config["HANDBOOK_ROOT"], app.extensions["db_sessions"], app.config["TIMEZONE"],
                               app.config["SCHEDULES_FROM"])
    app.extensions["catalogue"] = catalogue
    # No connection may outlive start-up: gunicorn may fork after this, and children must not share one.
    app.extensions["db_engine"].dispose()

    inputs.init_app(app)  # before the blueprints: their routes use its `uid` converter
    security.init_app(app)
    auth.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    handover.init_app(app)  # what the record views show and do for handovers (formserver.records.hooks)
    checkpoints.init_app(app)  # the patrol form opened from a checkpoint's QR code
    training.init_app(app)
    notify.init_app(app)
    cli.init_app(app)

    @app.get("/healthz")
    @access.public
    def health():
        return {"status": "ok", "forms": len(catalogue.forms)}

    @app.context_processor
    def globals_():
        return {"org": catalogue.handbook.organisation, "catalogue": catalogue}

    return app
