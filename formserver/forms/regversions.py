"""Regulation versions as the server keeps them: at start-up each regulation's clauses, as readers see them,
are stored once per distinct content (`RegulationVersion`). An acknowledgement names the version read, so
when the text changes later (a new revision, or the same label with edited clauses) the person sees what
changed since, although the repository only holds the current text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formserver.db.models import RegulationVersion
from formserver.forms.formdefs import digest
from handbook.diff import regulation_snapshot
from handbook.model import Handbook


@dataclass(frozen=True)
class CurrentVersion:
    """The version of a regulation this server shows (what it registered at start)."""

    id: int
    regulation_id: str
    revision: str
    digest: str
    registered_at: dt.datetime  # UTC, naive: when this content was first seen by any server


def snapshot_digest(revision: str, title: str, clauses: list[list[str]]) -> str:
    """A new revision label is a new version even when no clause changed (people confirm each revision)."""
    return digest({"revision": revision, "title": title, "clauses": clauses})


def register_versions(db: Session, hb: Handbook) -> dict[str, CurrentVersion]:
    """Make sure every regulation's current content has its RegulationVersion row; regulation id → version.
    Safe when several app servers start at once (the unique constraint decides)."""
    versions = {}
    for regulation in hb.regulations:
        clauses = [[cid, text] for cid, text in regulation_snapshot(hb, regulation).items()]
        content = snapshot_digest(regulation.revision, regulation.title, clauses)
        query = select(RegulationVersion).where(RegulationVersion.regulation_id == regulation.id,
                                                RegulationVersion.digest == content)
        row = db.scalar(query)
        if row is None:
            try:
                with db.begin_nested():
                    row = RegulationVersion(regulation_id=regulation.id, revision=regulation.revision,
                                            digest=content, title=regulation.title, clauses=clauses)
                    db.add(row)
            except IntegrityError:
                row = db.scalar(query)
        versions[regulation.id] = CurrentVersion(row.id, regulation.id, row.revision, row.digest, row.created_at)
    db.commit()
    return versions


def clause_texts(version: RegulationVersion) -> dict[str, str]:
    """clause id → text of a stored version, in reading order."""
    return {cid: text for cid, text in version.clauses}
