"""The table of form item kinds: one row per kind, read by the form reader, the print templates,
the web form builder and the exporters, so that a new kind is one entry here plus one widget each:

- its print macro in handbook/pdf/templates/kinds.html.j2 (a kind with printed=True);
- its web field(s), `formserver.forms.webforms.WEB_FIELDS`;
- its readers for the API's quick check, `formserver.forms.fastvalues.READERS` (which must accept exactly
  what the web field accepts: tests/formserver/forms/test_fastvalues.py compares them on generated data);
- its JSON Schema, `formserver.api.openapi.SCHEMAS`;
- its export cell, `formserver.records.exports.EXPORT_CELLS`.

tests/formserver/forms/test_kinds.py fails when a kind lacks any of them, or one of them names a kind this
table does not have."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemKind:
    name: str
    label: str  # what the kind is called in Chinese (docs, errors)
    extras: tuple[str, ...] = ()  # kind-specific fields an item of this kind may have
    column: bool = True  # may be a column of a register table
    printed: bool = True  # appears on the paper form
    check_like: bool = False  # a 正常/异常 check: a failure can raise a corrective action
    # Values stored beside the item's own, named <id><suffix>: a check's note and photos, a signature's drawing
    # (the id of its PNG, stored like a photo; the item's own value stays the signer's typed name).
    siblings: tuple[str, ...] = ()


COMMON_FIELDS = ("id", "kind", "label", "required", "ref", "help", "prefill")

ITEM_KINDS: dict[str, ItemKind] = {k.name: k for k in (
    ItemKind("check", "检查项(正常/异常)", check_like=True, siblings=("_note", "_photos")),
    ItemKind("yesno", "是/否"),
    ItemKind("text", "单行文字", ("max_length",)),
    ItemKind("textarea", "多行文字", ("lines", "max_length"), column=False),
    ItemKind("number", "数字", ("unit", "min", "max")),
    ItemKind("date", "日期", ("min", "max")),
    ItemKind("time", "时间"),
    ItemKind("datetime", "日期时间", ("min", "max")),
    ItemKind("choice", "选择", ("options", "options_from", "multiple")),
    ItemKind("person", "人员", ("training_results",)),
    ItemKind("signature", "签名", column=False, siblings=("_image",)),
    ItemKind("photo", "照片(仅线上)", column=False, printed=False),
    ItemKind("table", "登记表(多行)", ("columns", "rows"), column=False),
)}

# Lists in organisation.yaml a choice can take its options from (`options_from: shifts`), so a centre
# that renames a shift or adds an area edits one file, not every form.
OPTION_SOURCES = ("shifts", "areas", "roles", "departments")

# Prefill sources the server and the daily pack know how to fill in.
PREFILLS = ("today", "now", "shift", "user", "area")

CHECK_VALUES = {"ok": "正常", "fault": "异常"}
YESNO_VALUES = {"yes": "是", "no": "否"}
