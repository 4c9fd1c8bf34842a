"""Who may open what: every view declares the least role it needs with `@requires(role)` (or `@public`),
and one gate before every request enforces it. A view that declares nothing is refused to everyone, so a
new route cannot ship open by accident; `tests/formserver/accounts/test_access.py` walks the URL map to keep it so."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from formserver.db.models import ROLE_RANK

F = TypeVar("F", bound=Callable)
PUBLIC = "public"
TOKEN = "token"  # the JSON API: a bearer token instead of a login session, checked by the API itself


def requires(role: str) -> Callable[[F], F]:
    if role not in ROLE_RANK:
        raise ValueError(role)

    def mark(view: F) -> F:
        view.required_role = role  # type: ignore[attr-defined]
        return view
    return mark


def public(view: F) -> F:
    view.required_role = PUBLIC  # type: ignore[attr-defined]
    return view


def token_auth(view: F) -> F:
    view.required_role = TOKEN  # type: ignore[attr-defined]
    return view


def required_role(endpoint: str | None) -> str | None:
    if endpoint is None:
        return PUBLIC  # no route matched: let Flask answer 404/405
    if endpoint == "static":
        return PUBLIC  # CSS and scripts of the app itself, needed by the login page
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "required_role", None)


def init_app(app: Flask) -> None:
    @app.before_request
    def gate():
        role = required_role(request.endpoint)
        if role in (PUBLIC, TOKEN):
            return None
        if role is None:
            current_app.logger.error("view %s declares no access rule: refused", request.endpoint)
            abort(403)
        if not current_user.is_authenticated:
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        if not current_user.at_least(role):
            abort(403)
        return None
