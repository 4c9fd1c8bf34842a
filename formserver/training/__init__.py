"""Training new hires: the learning paths of regulations/paths.yaml as work to do. People read each
regulation of their path and acknowledge its current version (again after it changes, seeing what changed),
take its quiz (drawn in random order, scored on the server), and so unlock the next step; supervisors follow
their team's progress, overdue acknowledgements and the clauses most often missed, and assign paths."""

from __future__ import annotations

from flask import Flask

from . import links, team, views


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    app.register_blueprint(team.bp)
    links.init_app(app)
