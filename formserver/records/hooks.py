"""Where the parts above `records` plug into the record views without `records` importing them: what the fill
page of a form shows besides its fields, what a new form's page is prefilled with besides the header defaults,
what a correction changes besides the record (in its transaction), and which signatures are drawn elsewhere.
`operations.handover` registers all four for the handover form at start (see app.factory).

`emit` is the same for events other parts may want to act on in the very transaction that makes them (a case
assigned to someone: `notify` writes its outbox there), without the emitter importing who listens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from formserver.db.models import Submission, User
from handbook.formmodel import Form

FillContext = Callable[[Form], dict[str, Any]]
AfterCorrection = Callable[[Session, User, Submission, Form, dict[str, Any]], None]
Prefill = Callable[[Form, MultiDict], None]  # changes the form data of a new form's page in place
OnEvent = Callable[[Session, str, dict[str, Any]], None]
Deferred = Callable[[Form], set[str]]  # signature items drawn later, not on the form's page (the incoming person's)


@dataclass
class Hooks:
    fill_context: list[FillContext] = field(default_factory=list)
    after_correction: list[AfterCorrection] = field(default_factory=list)
    prefill: list[Prefill] = field(default_factory=list)
    on_event: list[OnEvent] = field(default_factory=list)
    deferred_signatures: list[Deferred] = field(default_factory=list)


def of(app: Flask) -> Hooks:
    return app.extensions.setdefault("record_hooks", Hooks())


def fill_context(form: Form) -> dict[str, Any]:
    """Extra context for a form's fill page, from every part that registered some."""
    context: dict[str, Any] = {}
    for extra in of(current_app).fill_context:
        context.update(extra(form))
    return context


def prefill(form: Form, formdata: MultiDict) -> None:
    """Let every part that registered one add to a new form's prefilled values."""
    for extra in of(current_app).prefill:
        extra(form, formdata)


def deferred_signatures(form: Form) -> set[str]:
    """Signature items of `form` whose drawing is made elsewhere (the handover's incoming person, on confirming)."""
    return {item_id for extra in of(current_app).deferred_signatures for item_id in extra(form)}


def after_correction(w: Session, user: User, submission: Submission, form: Form, values: dict[str, Any]) -> None:
    for hook in of(current_app).after_correction:
        hook(w, user, submission, form, values)


def emit(w: Session, kind: str, **data: Any) -> None:
    """Tell every listener of `kind` in `w`'s write transaction (what they write commits or rolls back with it)."""
    for hook in of(current_app).on_event:
        hook(w, kind, data)
