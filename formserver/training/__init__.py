"""Training new hires: the learning paths of regulations/paths.yaml as work to do. People read each
regulation of their path and acknowledge its current version (again after it changes, seeing what changed),
take its quiz (drawn in random order, scored on the server), and so unlock the next step; supervisors follow
their team's progress, overdue acknowledgements and the clauses most often missed, and assign paths.
May import `base`, `db`, `accounts`, `forms` and `records`."""

from __future__ import annotations

from flask import Flask

from formserver.training import links


def init_app(app: Flask) -> None:
    """What training adds besides its blueprints (views.bp, team.bp: registered by app.factory)."""
    links.init_app(app)
