"""Seed coverage: every concrete rule of the five seed documents can be found in the handbook.

`tests/data/seed_coverage.yaml` lists, per seed rule, a short distinctive phrase and the clause(s) or table rows
that carry it. This test checks that each cited clause exists and that the phrase still occurs in the text of at
least one of them (placeholders filled, whitespace and character-width variants normalised), so a clause that is
deleted, renumbered or reworded until the rule is gone fails here.

Each entry also records what became of the rule: `status: kept` (the clause says what the seed says), `merged` or
`dropped` with `decision: "KF-14@1.1"`, the regulation and revision whose `decisions` explain the change. A test
fails on an entry without a status and on a merged or dropped entry whose decision does not resolve: the regulation
must have that revision entry, the entry must have decisions, one of them must name the seed ("种子 001") and the
seed must be among the regulation's sources. A dropped rule may cite no clause; its phrase must still be in its seed.

The seed files themselves are not needed: the seed names come from the YAML. When the seeds are available
(`$SEED_DIR`, default /work/shared/seeds) an extra test also checks that each phrase occurs in its seed.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from handbook.body import PLACEHOLDER
from handbook.load import load_handbook

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "tests" / "data" / "seed_coverage.yaml"
SEED_DIR = Path(os.environ.get("SEED_DIR", "/work/shared/seeds"))

# Minimum number of audited rules per seed (by the three-digit prefix of its file name). These are close to the
# actual counts, so that entries cannot quietly disappear; lower them only together with a reason.
MIN_ENTRIES = {"000": 140, "001": 250, "002": 120, "003": 80, "004": 125}

_DASHES = str.maketrans(dict.fromkeys("–—―−‐‑‒﹣〜～~", "-"))


def normalise(text: str) -> str:
    """Whitespace removed; full-/half-width forms (digits, %, ％, :, :) unified; range dashes and × unified."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_DASHES).replace("∶", ":").replace("*", "×")
    return re.sub(r"\s+", "", text)


def _load_entries() -> list[dict]:
    with DATA.open(encoding="utf-8") as f:
        entries = yaml.safe_load(f)
    assert isinstance(entries, list), f"{DATA}: expected a list of entries"
    return entries


ENTRIES = _load_entries()


def _entry_id(entry: dict) -> str:
    """`000:十二(二)4⑷:喝酒` — seed prefix, section without its title words and spaces, phrase."""
    section = re.sub(r"\s+", "", re.sub(r"、[^\s(（]+", "", str(entry.get("section", ""))))
    return f"{str(entry.get('seed', '?'))[:3]}:{section}:{entry.get('phrase')}"


STATUSES = ("kept", "merged", "dropped")
DECISION_REF = re.compile(r"^(?P<regulation>[A-Z]+-\d{2})@(?P<revision>\d+\.\d+)$")


@pytest.fixture(scope="module")
def handbook():
    hb, problems = load_handbook(PROJECT)
    assert problems == [], problems
    return hb


@pytest.fixture(scope="module")
def filled_texts(handbook) -> dict[str, str]:
    """Clause id → normalised text with placeholders filled in, for the real project (loaded once)."""
    values = handbook.organisation.placeholders()

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values.get(m["name"], m[0]), text)

    return {cid: normalise(fill(clause.text)) for cid, clause in handbook.clauses.items()}


def decision_problem(ref, seed: str, regulations: dict) -> str | None:
    """Why `ref` ("KF-14@1.1") does not resolve to a revision whose decisions explain a change to a rule of `seed`,
    or None when it does."""
    match = DECISION_REF.match(ref) if isinstance(ref, str) else None
    if not match:
        return f"decision must look like \"KF-14@1.1\" (regulation@revision), got {ref!r}"
    regulation = regulations.get(match["regulation"])
    if regulation is None:
        return f"decision {ref}: no regulation {match['regulation']}"
    entries = [rev for rev in regulation.revisions if rev.revision == match["revision"]]
    if not entries:
        return (f"decision {ref}: {regulation.id} has no revision {match['revision']} "
                f"(has {[rev.revision for rev in regulation.revisions]})")
    decisions = entries[0].decisions
    if not decisions:
        return f"decision {ref}: revision {match['revision']} of {regulation.id} records no decisions"
    prefix = seed[:3]
    if seed not in regulation.sources:
        return f"decision {ref}: seed {seed} is not among the sources of {regulation.id}"
    if not any(f"种子 {prefix}" in d or f"种子{prefix}" in d for d in decisions):
        return f"decision {ref}: none of its decisions names 种子 {prefix}"
    return None


@pytest.mark.parametrize("entry", ENTRIES, ids=[_entry_id(e) for e in ENTRIES])
def test_seed_rule_has_a_status_and_its_decision_resolves(entry, handbook):
    status = entry.get("status")
    assert status in STATUSES, f"status must be one of {STATUSES}, got {status!r}: {entry}"
    if status == "kept":
        assert "decision" not in entry, f"a kept rule needs no decision (use merged if the clause departs): {entry}"
        return
    assert "decision" in entry, f"a {status} rule must name the decision it relies on (decision: KF-14@1.1): {entry}"
    regulations = {r.id: r for r in handbook.regulations}
    problem = decision_problem(entry["decision"], str(entry["seed"]), regulations)
    assert problem is None, f"{_entry_id(entry)}: {problem}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[_entry_id(e) for e in ENTRIES])
def test_seed_rule_is_carried_by_a_clause(entry, filled_texts):
    assert set(entry) - {"decision"} == {"seed", "section", "phrase", "clauses", "status"}, entry
    phrase = entry["phrase"]
    assert isinstance(phrase, str), f"phrase must be a quoted string: {phrase!r}"
    assert 2 <= len(phrase) <= 12, f"phrase should be a short fragment (2–12 characters): {phrase!r}"
    clauses = entry["clauses"]
    assert isinstance(clauses, list), entry
    if entry["status"] == "dropped" and not clauses:
        return
    assert clauses, f"only a dropped rule may cite no clause: {entry}"
    missing = [cid for cid in clauses if cid not in filled_texts]
    assert not missing, f"cited clause(s) do not exist: {missing}"
    wanted = normalise(phrase)
    assert any(wanted in filled_texts[cid] for cid in clauses), (
        f"{entry['seed']} {entry['section']}: phrase {phrase!r} not found in any of {clauses}")


def test_every_seed_is_audited_with_enough_entries():
    counts = Counter(str(e["seed"])[:3] for e in ENTRIES)
    seeds = {str(e["seed"]) for e in ENTRIES}
    assert len(seeds) == len(MIN_ENTRIES), f"expected one file name per seed, got {sorted(seeds)}"
    for prefix, minimum in MIN_ENTRIES.items():
        assert counts[prefix] >= minimum, f"seed {prefix}: {counts[prefix]} entries, expected at least {minimum}"


def test_decision_references_are_checked():
    """The resolver itself: what it accepts and what it refuses (a fake regulation, so this does not depend on data)."""
    from types import SimpleNamespace as NS
    seed = "004_a83ff96b4e30d7c3.txt"
    regs = {"KF-21": NS(id="KF-21", sources=(seed,), revisions=(
        NS(revision="1.0", decisions=("种子 004 的警告定为口头警告。",)), NS(revision="1.1", decisions=())))}
    assert decision_problem("KF-21@1.0", seed, regs) is None
    assert "no revision" in decision_problem("KF-21@2.0", seed, regs)
    assert "no decisions" in decision_problem("KF-21@1.1", seed, regs)
    assert "no regulation" in decision_problem("KF-99@1.0", seed, regs)
    assert "look like" in decision_problem("KF-21 1.0", seed, regs)
    assert "not among the sources" in decision_problem("KF-21@1.0", "000_6fd15c676bcad2c7.txt", regs)
    regs["KF-21"].sources = (seed, "000_6fd15c676bcad2c7.txt")
    assert "names 种子 000" in decision_problem("KF-21@1.0", "000_6fd15c676bcad2c7.txt", regs)


def test_status_counts_are_reported():
    counts = Counter(e.get("status") for e in ENTRIES)
    assert set(counts) <= set(STATUSES), counts
    assert counts["kept"] and counts["merged"], counts


def test_entries_are_not_duplicated():
    keys = Counter((e["seed"], e["section"], e["phrase"]) for e in ENTRIES)
    assert [k for k, n in keys.items() if n > 1] == []


@pytest.mark.skipif(not SEED_DIR.is_dir(), reason=f"seed files not available ({SEED_DIR})")
def test_phrases_occur_in_their_seed():
    texts: dict[str, str] = {}
    absent = []
    for e in ENTRIES:
        seed = e["seed"]
        if seed not in texts:
            texts[seed] = normalise((SEED_DIR / seed).read_text(encoding="utf-8"))
        if normalise(e["phrase"]) not in texts[seed]:
            absent.append(_entry_id(e))
    assert absent == []
