"""Form definitions as the server keeps them: each loaded `Form` stored once per distinct content as a
`FormVersion`, so a submission names exactly the definition it was filled against."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formserver.db.models import FormVersion
from handbook.formmodel import Condition, Form, FormSection, Item, Score


def form_to_json(form: Form) -> dict[str, Any]:
    return _without_unset(dataclasses.asdict(form))


def _without_unset(value: Any) -> Any:
    # An item or section without `show_when`, a form without `score`, is written as before they existed, so a
    # form that has neither keeps its definition digest (no new FormVersion for every form on upgrade).
    if isinstance(value, dict):
        return {k: _without_unset(v) for k, v in value.items() if not (k in ("show_when", "score") and v is None)}
    if isinstance(value, list):
        return [_without_unset(v) for v in value]
    return value


def _item(data: dict[str, Any]) -> Item:
    data = dict(data)
    data["columns"] = [_item(c) for c in data.get("columns", [])]
    data["show_when"] = Condition.from_json(data.get("show_when"))
    return Item(**{k: v for k, v in data.items() if k in Item.__dataclass_fields__})


def form_from_json(data: dict[str, Any]) -> Form:
    fields = {k: v for k, v in data.items() if k in Form.__dataclass_fields__}
    fields["header"] = [_item(i) for i in data.get("header", [])]
    fields["signatures"] = [_item(i) for i in data.get("signatures", [])]
    fields["sections"] = [FormSection(title=s["title"], items=[_item(i) for i in s["items"]], line=s["line"],
                                      refs=s.get("refs", []), show_when=Condition.from_json(s.get("show_when")))
                          for s in data.get("sections", [])]
    fields["score"] = Score.from_json(data.get("score"))
    return Form(**fields)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def definition_digest(form: Form) -> str:
    # Source positions (path, line) are not part of what a form means: moving an item down a line in the
    # YAML must not make a new version.
    return digest(_without_positions(form_to_json(form)))


def _without_positions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_positions(v) for k, v in value.items() if k not in ("line", "lines", "path")}
    if isinstance(value, list):
        return [_without_positions(v) for v in value]
    return value


def register_versions(db: Session, forms: list[Form]) -> dict[str, int]:
    """Make sure every current form definition has its FormVersion row; form id → version id. Safe when
    several app servers start at once (the unique constraint decides, not a check before the insert)."""
    ids = {}
    for form in forms:
        form_digest = definition_digest(form)
        found = db.scalar(select(FormVersion.id).where(FormVersion.form_id == form.id,
                                                       FormVersion.digest == form_digest))
        if found is None:
            try:
                with db.begin_nested():
                    version = FormVersion(form_id=form.id, revision=form.revision, digest=form_digest,
                                          title=form.title, definition=form_to_json(form))
                    db.add(version)
                found = version.id
            except IntegrityError:
                found = db.scalar(select(FormVersion.id).where(FormVersion.form_id == form.id,
                                                               FormVersion.digest == form_digest))
        ids[form.id] = found
    db.commit()
    return ids


@lru_cache(maxsize=256)
def _version_form(version_id: int, definition: str) -> Form:
    return form_from_json(json.loads(definition))


def version_form(version: FormVersion) -> Form:
    """The Form a stored version describes (cached: versions never change)."""
    return _version_form(version.id, json.dumps(version.definition))
