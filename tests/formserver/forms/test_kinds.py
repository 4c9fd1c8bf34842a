"""Every item kind of handbook.kinds.ITEM_KINDS has each of its widgets, and no path knows a kind the table
does not: a kind added to one path only (the web form but not the API's quick check, say) fails here."""

from __future__ import annotations

import re

import pytest

from formserver.api.openapi import SCHEMAS
from formserver.forms.fastvalues import READERS
from formserver.forms.webforms import WEB_FIELDS
from formserver.records.exports import EXPORT_CELLS
from handbook.kinds import ITEM_KINDS
from tests.server_support import ROOT

KINDS = set(ITEM_KINDS)


@pytest.mark.parametrize(("name", "table"), [("webforms.WEB_FIELDS", WEB_FIELDS), ("fastvalues.READERS", READERS),
                                             ("openapi.SCHEMAS", SCHEMAS), ("exports.EXPORT_CELLS", EXPORT_CELLS)])
def test_every_kind_has_its_entry_in_every_path(name, table):
    assert set(table) - KINDS == set(), f"{name} knows kinds handbook.kinds does not"
    assert KINDS - set(table) == set(), f"{name} lacks an entry for these kinds"


def test_every_printed_kind_has_its_print_macros():
    macros = set(re.findall(r"{%-?\s*macro\s+(\w+)\(", (ROOT / "handbook/pdf/templates/kinds.html.j2").read_text()))
    for kind in ITEM_KINDS.values():
        if kind.printed:
            assert kind.name in macros, f"kinds.html.j2 has no macro {kind.name}"
            if kind.column:
                assert f"cell_{kind.name}" in macros, f"kinds.html.j2 has no macro cell_{kind.name}"
