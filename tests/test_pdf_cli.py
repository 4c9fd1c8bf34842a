"""`handbook pdf` and `handbook daily-pack` on a small project: files written, problems refused, no tracebacks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from handbook.cli import main
from tests.conftest import FORM, FORM_PATH, replace_once

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def shared_font_cache(monkeypatch):
    """Reuse the project's subset font instead of making one per temporary project (seconds each)."""
    monkeypatch.setenv("HANDBOOK_FONT_CACHE", str(ROOT / ".cache" / "fonts"))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.slow
def test_pdf_writes_each_form_as_pdf_and_html(mini_project, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "--root", str(mini_project), "pdf", str(out))
    assert (code, err) == (0, "")
    assert sorted(p.name for p in out.iterdir()) == ["patrol.html", "patrol.pdf"]
    assert (out / "patrol.pdf").read_bytes().startswith(b"%PDF-")
    assert "已生成 1 张表单" in stdout
    text = subprocess.run(["pdftotext", str(out / "patrol.pdf"), "-"], capture_output=True, text=True).stdout
    assert "测试广场客户服务中心" in text and "CS-KF-F01" in text  # the project's own organisation and form


def test_pdf_refuses_a_source_with_problems(mini_project, rewrite, tmp_path, capsys):
    rewrite(FORM_PATH, replace_once(FORM, "kind: check", "kind: chek"))
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "--root", str(mini_project), "pdf", str(out))
    assert code == 1
    assert f"{FORM_PATH}:" in err and "未生成任何文件" in err
    assert not out.exists()


def test_pdf_reports_an_unwritable_outdir_in_chinese(mini_project, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "--root", str(mini_project), "pdf", str(blocker))
    assert code == 1 and "不是目录" in err


@pytest.mark.slow
def test_daily_pack_writes_one_pdf(mini_project, tmp_path, capsys):
    out = tmp_path / "pack" / "2026-11-23.pdf"
    code, stdout, err = run_cli(capsys, "--root", str(mini_project), "daily-pack", "--date", "2026-11-23", str(out))
    assert (code, err) == (0, "")
    assert out.read_bytes().startswith(b"%PDF-")
    assert "2026-11-23" in stdout and "巡查检查表" in stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--date", "2026-13-01"], "日期 “2026-13-01” 无效"),
    (["--date", "23.11.2026"], "YYYY-MM-DD"),
    (["--form", "patrl"], "是否要写 “patrol”"),
])
def test_daily_pack_errors_are_one_chinese_line(mini_project, tmp_path, capsys, args, message):
    code, _, err = run_cli(capsys, "--root", str(mini_project), "daily-pack", *args, str(tmp_path / "x.pdf"))
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.pdf").exists()


def test_daily_pack_without_shift_forms_says_so(mini_project, rewrite, tmp_path, capsys):
    rewrite(FORM_PATH, FORM.replace("prefill: shift", "prefill: user"))
    code, _, err = run_cli(capsys, "--root", str(mini_project), "daily-pack", str(tmp_path / "x.pdf"))
    assert code == 1 and "--form" in err

