"""The real handbook: `mkdocs build --strict` of the project, then assertions on the built pages."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from handbook.load import load_handbook
from handbook.site import build_nav, build_pages
from tests.sitebuild import PROJECT, built_site, mkdocs_build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handbook():
    hb, problems = load_handbook(PROJECT)
    assert problems == []
    return hb


@pytest.fixture(scope="module")
def site() -> Path:
    return built_site()[0]


def page(site: Path, url: str) -> str:
    return (site / url / "index.html").read_text(encoding="utf-8")


def test_the_project_source_is_clean_and_complete(handbook):
    assert len(handbook.regulations) >= 20
    assert len(handbook.forms) >= 17
    for reg in handbook.regulations:
        assert reg.clause_ids, reg.id
        assert reg.sources and all(s.endswith(".txt") for s in reg.sources), reg.id
        assert reg.revisions[-1].revision == reg.revision
    assert {r.topic for r in handbook.regulations} <= {t.id for t in handbook.topics}


def test_build_is_strict_and_warning_free():
    log = built_site()[1]
    assert "WARNING" not in log, log


def test_every_clause_has_its_anchor_on_its_regulation_page(site, handbook):
    for reg in handbook.regulations:
        html = page(site, f"regulations/{reg.id}")
        ids = set(re.findall(r'id="([A-Z]+-\d\d\.\d+)"', html))
        expected = set(reg.clause_ids) | {row.id for t in handbook.tables.values() if t.regulation_id == reg.id
                                          for row in t.rows}
        assert expected <= ids, (reg.id, expected - ids)
        assert f'href="#{reg.clause_ids[0]}"' in html  # the copy-link affordance


def test_regulation_page_shows_document_control_and_history(site, handbook):
    reg = handbook.regulation("KF-11")
    html = page(site, "regulations/KF-11")
    for label in ("文件编号", "版本", "制订部门", "发行日期", "批准人", "适用岗位", "修订记录", "来源文件"):
        assert label in html
    assert reg.number in html
    assert "值班人员" in html  # applies_to rendered with role names, not ids


def test_placeholders_are_filled_from_the_organisation(site, handbook):
    html = page(site, "regulations/KF-12")
    assert "{{" not in html
    assert handbook.organisation.phones["consumer"].number in html


def test_a_form_reference_is_the_form_number_linked_to_its_page(site, handbook):
    html = page(site, "regulations/KF-20")
    review = handbook.form("staff-review")
    link = f'<a href="../../forms/staff-review/" title="{review.title}">{review.number}</a>'
    assert re.search(rf"《{review.title}》[(\uff08]{re.escape(link)}[)\uff09]", html)  # title once, then number


def test_clauses_list_the_forms_and_questions_that_cite_them(site):
    html = page(site, "regulations/KF-11")
    clause = html[html.index('id="KF-11.11"'):]
    clause = clause[: clause.index("</div>")]
    assert "引用本条" in clause
    assert 'href="../../forms/handover/' in clause
    assert "测验题 KF-11-Q" in html


def test_tables_are_rendered_from_data(site, handbook):
    penalties = page(site, "penalties")
    table = handbook.tables["penalties"]
    for row in table.rows:
        assert row.id in penalties
    assert "200 元" in penalties and "500 元" in penalties
    meetings = page(site, "regulations/KF-03")
    assert "周五" in meetings and "16:00" in meetings


def test_role_pages_say_what_applies_to_me(site, handbook):
    html = page(site, "roles/duty")
    for reg in handbook.regulations:
        if "duty" in reg.applies_to:
            assert f"{reg.id} {reg.title}" in html
    assert "交接班记录" in html  # a form the duty person fills


def test_navigation_by_topic_role_and_reference(handbook):
    nav = build_nav(handbook)
    titles = [next(iter(entry)) for entry in nav]
    assert titles == ["首页", "制度", "按岗位", "速查", "表单"]
    topics = [next(iter(entry)) for entry in nav[1]["制度"]]
    assert topics == [t.title for t in handbook.topics if any(r.topic == t.id for r in handbook.regulations)]


def test_home_page_lists_recent_revisions(site, handbook):
    html = page(site, "")
    newest = max(rev.date for reg in handbook.regulations for rev in reg.revisions)
    assert "最近修订" in html and newest.isoformat() in html


def test_search_index_is_segmented_chinese(site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["config"]["lang"] == ["zh"]
    docs = index["docs"]
    handover = [d for d in docs if d["location"].startswith("regulations/KF-11/")]
    assert handover
    assert any("\u200b交接班\u200b" in f"\u200b{d['title']}\u200b{d['text']}\u200b" for d in handover)
    assert any("\u200b存包牌" in d["text"] for d in docs)  # from the jieba user dictionary
    # index pages repeat every clause: they are kept out of search
    assert not any(d["location"].startswith(("clauses/", "forms/coverage/")) for d in docs)


def test_site_loads_nothing_from_the_internet(site):
    external = re.compile(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(?:https?:)?//', re.I)
    for html_file in site.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert not external.search(text), html_file
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, html_file


def test_pages_are_deterministic(handbook):
    again, _ = load_handbook(PROJECT)
    assert build_pages(handbook) == build_pages(again)


def test_a_broken_source_stops_the_build_with_file_and_line(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "regulations", project / "regulations")
    shutil.copytree(PROJECT / "checklists", project / "checklists")
    shutil.copytree(PROJECT / "docs", project / "docs")
    shutil.copy(PROJECT / "mkdocs.yml", project / "mkdocs.yml")
    target = project / "regulations" / "KF-07-patrol.md"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("[KF-07.2]", "[KF-07.1]", 1), encoding="utf-8")
    line = text.split("\n").index(next(x for x in text.split("\n") if x.startswith("[KF-07.2]"))) + 1
    result = mkdocs_build(project, tmp_path / "site")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"regulations/KF-07-patrol.md:{line}: 编号 “KF-07.1” 重复" in output
    assert "Traceback" not in output


def test_mkdocs_serve_live_reloads_an_edited_regulation(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    project = tmp_path / "project"
    for folder in ("regulations", "checklists", "docs"):
        shutil.copytree(PROJECT / folder, project / folder)
    shutil.copy(PROJECT / "mkdocs.yml", project / "mkdocs.yml")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}",
                               "-f", str(project / "mkdocs.yml")], cwd=project, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/regulations/KF-07/", timeout=5) as response:
            return response.read().decode("utf-8")

    def wait_for(text: str) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if text in fetch():
                    return True
            except OSError:
                pass
            time.sleep(0.5)
        return False

    try:
        assert wait_for("KF-07 巡查制度")
        target = project / "regulations" / "KF-07-patrol.md"
        target.write_text(target.read_text(encoding="utf-8").replace("[KF-07.1] ", "[KF-07.1] 【已修改】", 1),
                          encoding="utf-8")
        assert wait_for("【已修改】")
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_site_offers_every_form_as_pdf_and_print_html(site, handbook):
    for form in handbook.forms:
        pdf = site / "forms" / "pdf" / f"{form.id}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF"), form.id
        assert (site / "forms" / "pdf" / f"{form.id}.html").exists()
        html = page(site, f"forms/{form.id}")
        assert f'href="../pdf/{form.id}.pdf"' in html
        for item in form.all_items():
            assert f'id="item-{item.id}"' in html  # the anchors clause pages link to


def test_pdfs_are_rendered_again_only_when_their_form_changed(tmp_path):
    from handbook.site_downloads import form_downloads

    cache = tmp_path / "cache"
    hb, _ = load_handbook(PROJECT)
    first = form_downloads(hb, cache)
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.pdf")}
    assert len(stamps) == len(hb.forms)
    hb.form("patrol").title += "(修订)"
    second = form_downloads(hb, cache)
    changed = {p.name for p in cache.glob("*.pdf") if stamps.get(p.name) != p.stat().st_mtime_ns}
    assert len(changed) == 1 and changed.pop().startswith("patrol-")
    assert second["forms/pdf/lost-tag.pdf"] == first["forms/pdf/lost-tag.pdf"]
    assert len(list(cache.glob("patrol-*.pdf"))) == 1  # the superseded render is removed
