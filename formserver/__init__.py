"""The form server: staff fill the checklist forms online; supervisors review and export.

    flask --app formserver run            (development)
    gunicorn 'formserver:create_app()'    (production, see README)
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import (
    access,
    api,
    auth,
    board,
    cases,
    cli,
    config,
    db,
    errors,
    fill,
    handbook_site,
    handover,
    inputs,
    photos,
    reports,
    review,
    security,
    training,
)
from .catalogue import Catalogue
from .migrate import upgrade


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
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

    inputs.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    for module in (fill, photos, review, api, handbook_site, board, handover, cases, reports):
        app.register_blueprint(module.bp)
    training.init_app(app)
    cli.init_app(app)

    @app.get("/healthz")
    @access.public
    def health():
        return {"status": "ok", "forms": len(catalogue.forms)}

    @app.context_processor
    def globals_():
        return {"org": catalogue.handbook.organisation, "catalogue": catalogue}

    return app
