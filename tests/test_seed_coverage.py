"""Seed coverage: every concrete rule of the five seed documents can be found in the handbook.

`tests/data/seed_coverage.yaml` lists, per seed rule, a short distinctive phrase and the clause(s) or table rows
that carry it. This test checks that each cited clause exists and that the phrase still occurs in the text of at
least one of them (placeholders filled, whitespace and character-width variants normalised), so a clause that is
deleted, renumbered or reworded until the rule is gone fails here.

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


@pytest.fixture(scope="module")
def filled_texts() -> dict[str, str]:
    """Clause id → normalised text with placeholders filled in, for the real project (loaded once)."""
    hb, problems = load_handbook(PROJECT)
    assert problems == [], problems
    values = hb.organisation.placeholders()

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values.get(m["name"], m[0]), text)

    return {cid: normalise(fill(clause.text)) for cid, clause in hb.clauses.items()}


@pytest.mark.parametrize("entry", ENTRIES, ids=[_entry_id(e) for e in ENTRIES])
def test_seed_rule_is_carried_by_a_clause(entry, filled_texts):
    assert set(entry) == {"seed", "section", "phrase", "clauses"}, entry
    phrase = entry["phrase"]
    assert isinstance(phrase, str), f"phrase must be a quoted string: {phrase!r}"
    assert 2 <= len(phrase) <= 12, f"phrase should be a short fragment (2–12 characters): {phrase!r}"
    clauses = entry["clauses"]
    assert isinstance(clauses, list) and clauses, entry
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
