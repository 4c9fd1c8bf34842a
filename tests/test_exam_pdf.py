"""Printable exams per learning path: every question on the paper without its answer, every answer with
its clause on the key, Chinese text extractable, fonts embedded."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from handbook.cli import main
from handbook.load import require_handbook
from handbook.pdf.exam import exam_sections
from tests.server_support import ROOT


@pytest.fixture(scope="module")
def exams(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exams")
    assert main(["--root", str(ROOT), "exam", str(out)]) == 0
    return out


def text(pdf: Path) -> str:
    return re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                             check=True).stdout)


def test_every_path_has_a_paper_and_a_key(exams):
    hb = require_handbook(ROOT)
    assert hb.paths, "regulations/paths.yaml defines the learning paths"
    for path in hb.paths:
        paper, key = text(exams / f"exam-{path.id}.pdf"), text(exams / f"exam-{path.id}-answers.pdf")
        sections = exam_sections(hb, path)
        questions = [q for s in sections for q in s.questions]
        assert len(questions) >= 3 * len(path.regulations)
        for q in questions:
            start = re.sub(r"\s+", "", q.text)[:12]
            assert start in paper and start in key, (path.id, q.number)
            assert f"{q.number}.{q.answer}(依据" in key
            for ref in q.refs:
                assert ref in key
        assert "解析:" not in paper and "(依据" not in paper
        assert "姓名" in paper and f"合格线:{path.pass_mark}%" in paper


def test_exam_fonts_are_embedded_subsets(exams):
    for pdf in sorted(exams.glob("*.pdf"))[:2]:
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        rows = fonts.splitlines()[2:]
        assert rows and all("Type 3" not in row for row in rows)
        assert all(row.split()[-5] == "yes" and "+" in row.split()[0] for row in rows)


def test_no_paths_is_a_clear_error(mini_project, capsys):
    assert main(["--root", str(mini_project), "exam", str(mini_project / "out")]) == 1
    assert "paths.yaml" in capsys.readouterr().err
