"""Clause-level differences between regulation versions."""

from handbook.diff import Segment, character_diff, clause_changes, regulation_snapshot
from handbook.load import require_handbook
from tests.server_support import ROOT


def test_changes_are_listed_clause_by_clause():
    old = {"KF-11.1": "交接班须面对面进行。", "KF-11.2": "交接时间以标准时钟为准。", "KF-11.3": "旧条款。"}
    new = {"KF-11.1": "交接班须面对面进行。", "KF-11.2": "交接时间以总服务台标准时钟为准。", "KF-11.4": "新条款。"}
    changes = clause_changes(old, new)
    assert [(c.clause_id, c.status) for c in changes] == [("KF-11.2", "changed"), ("KF-11.4", "added"),
                                                          ("KF-11.3", "removed")]
    assert changes[0].segments == [Segment("same", "交接时间以"), Segment("added", "总服务台"),
                                   Segment("same", "标准时钟为准。")]


def test_replacements_show_both_sides():
    assert character_diff("罚款50元", "罚款100元") == [Segment("same", "罚款"), Segment("removed", "50"),
                                                  Segment("added", "100"), Segment("same", "元")]


def test_snapshot_fills_placeholders():
    hb = require_handbook(ROOT)
    snapshot = regulation_snapshot(hb, hb.regulation("KF-07"))
    assert list(snapshot)[:2] == ["KF-07.1", "KF-07.2"]
    assert all("{{" not in text for text in snapshot.values())
    assert clause_changes(snapshot, snapshot) == []
