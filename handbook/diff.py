"""Clause-level differences between two versions of a regulation, for people who acknowledged the old one:
which clauses were added, removed or changed, and within a changed clause which characters (Chinese has
no word breaks, so the comparison is by character, keeping numbers whole)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .model import Handbook, Regulation
from .render import TextRenderer


@dataclass(frozen=True)
class Segment:
    op: str  # "same" | "added" | "removed"
    text: str


@dataclass
class ClauseChange:
    clause_id: str
    status: str  # "added" | "removed" | "changed"
    old: str = ""
    new: str = ""
    segments: list[Segment] = field(default_factory=list)


def regulation_snapshot(hb: Handbook, regulation: Regulation) -> dict[str, str]:
    """clause id → its text as readers see it (placeholders filled, references as bare ids), in order."""
    plain = TextRenderer(hb, "").plain
    return {c.id: plain(c.text) for c in hb.clauses.values() if c.regulation_id == regulation.id}


# Numbers and Latin words stay whole ("50元" → "100元" reads as 50 → 100, not 5 → 10 plus a 0);
# every other character is its own token.
_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.:%/-]*|.", re.DOTALL)


def character_diff(old: str, new: str) -> list[Segment]:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("same", "".join(a[a0:a1])))
            continue
        if a1 > a0:
            segments.append(Segment("removed", "".join(a[a0:a1])))
        if b1 > b0:
            segments.append(Segment("added", "".join(b[b0:b1])))
    return segments


def clause_changes(old: dict[str, str], new: dict[str, str]) -> list[ClauseChange]:
    """Changes from `old` to `new` (clause id → text), in the new order, removed clauses last."""
    changes = []
    for clause_id, text in new.items():
        if clause_id not in old:
            changes.append(ClauseChange(clause_id, "added", new=text))
        elif old[clause_id] != text:
            changes.append(ClauseChange(clause_id, "changed", old[clause_id], text,
                                        character_diff(old[clause_id], text)))
    changes += [ClauseChange(cid, "removed", old=text) for cid, text in old.items() if cid not in new]
    return changes
