"""The printable forms: every real form in checklists/ rendered once per session and checked with poppler.

Rendering is the slow part (WeasyPrint, a few tenths of a second per form), so `blank` and `filled` render
each form once for the whole session and every check reads those files. Any warning or error WeasyPrint
logs while rendering fails the form's test: a missing glyph or an ignored CSS rule is only a log line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re
import socket
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from handbook.formmodel import Condition, Form, Item
from handbook.kinds import ITEM_KINDS
from handbook.load import load_handbook
from handbook.model import Handbook
from handbook.pdf import (
    RefusedURL,
    css_string,
    daily_forms,
    daily_pack,
    form_html,
    missing_macros,
    normalise,
    print_font,
    render_pdf,
    url_fetcher,
    write_form_pdfs,
)
from handbook.pdf.fonts import FAMILY, SYSTEM_FAMILY, base_characters, source_characters
from tests.browser import launch

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "handbook" / "pdf"
FORM_IDS = sorted(p.stem for p in (ROOT / "checklists").glob("*.yaml"))
MAX_BYTES = 200 * 1024
A4 = (595.276, 841.89)
PACK_DATE = dt.date(2026, 11, 23)


# -- helpers -------------------------------------------------------------------------------------


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{args[0]} failed: {result.stderr}"
    return result.stdout


def flat(text: str) -> str:
    """Text with all whitespace removed: labels wrap inside cells, pdftotext keeps the line breaks."""
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: Path) -> str:
    """The PDF's text twice, in reading order and in physical layout, each without whitespace: a wrapped
    label reads whole in the first, a value split over inline boxes (2026 年 11 月 3 日) in the second."""
    reading = flat(run("pdftotext", "-enc", "UTF-8", str(pdf), "-"))
    layout = flat(run("pdftotext", "-enc", "UTF-8", "-layout", str(pdf), "-"))
    return f"{reading}\n{layout}"


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    pages = int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(pdf)), re.M)[1])
    out = run("pdfinfo", "-f", "1", "-l", str(pages), str(pdf))
    return [(float(w), float(h)) for w, h in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out, re.M)]


def pdf_fonts(pdf: Path) -> list[dict[str, str]]:
    """pdffonts rows: name, type, emb, sub (the type may have a space: "CID TrueType")."""
    rows = []
    for line in run("pdffonts", str(pdf)).splitlines()[2:]:
        m = re.match(r"(\S+)\s+(.+?)\s+(Identity-H|WinAnsi|MacRoman|Custom|Builtin|Standard|\S+)\s+"
                     r"(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", line)
        assert m, f"unexpected pdffonts line: {line!r}"
        rows.append({"name": m[1], "type": m[2], "emb": m[4], "sub": m[5]})
    return rows


@contextmanager
def weasyprint_log():
    """Collect every WARNING/ERROR WeasyPrint logs inside the block."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def messages(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.levelname}: {r.getMessage()}" for r in records]


@dataclasses.dataclass
class Rendered:
    form: Form
    html: str
    pdf: Path
    log: list[str]
    expected: list[str] = dataclasses.field(default_factory=list)  # filled: text the PDF must show

    @functools.cached_property
    def text(self) -> str:
        return pdf_text(self.pdf)


def _render(form: Form, html: str, path: Path) -> Rendered:
    with weasyprint_log() as records:
        path.write_bytes(render_pdf(html))
    return Rendered(form, html, path, messages(records))


# -- sample values for a filled-in record -----------------------------------------------------------


def sample_value(item: Item, n: int) -> tuple[object, list[str]]:
    """A value for `item` and the texts the printed record must then show (whitespace removed)."""
    kind = item.kind
    if kind in ("text", "person"):
        return f"填{n}项", [f"填{n}项"]
    if kind == "textarea":
        return f"第{n}段第一行\n第二行<b>不加粗</b>", [f"第{n}段第一行", "第二行<b>不加粗</b>"]
    if kind == "number":
        return 1000 + n, [str(1000 + n)]
    if kind == "date":
        return dt.date(2026, 11, n % 28 + 1), [f"2026年11月{n % 28 + 1}日"]
    if kind == "time":
        return f"{n % 24:02d}:{n % 60:02d}", [f"{n % 24:02d}:{n % 60:02d}"]
    if kind == "datetime":
        return f"2026-10-{n % 28 + 1:02d} 08:{n % 60:02d}", [f"2026年10月{n % 28 + 1}日08:{n % 60:02d}"]
    if kind == "check":
        return {"status": "fault", "note": f"异常说明{n}"}, ["√异常", f"异常说明{n}"]
    if kind == "yesno":
        return "yes", ["√是"]
    if kind == "choice":
        return [item.options[-1]], [f"√{flat(item.options[-1])}"]
    if kind == "signature":
        return {"name": f"签{n}", "date": "2026-12-01"}, [f"签{n}", "2026年12月1日"]
    if kind == "photo":
        return "photo.jpg", []
    raise AssertionError(f"no sample value for kind {kind}")


def sample_values(form: Form) -> tuple[dict, list[str]]:
    values: dict[str, object] = {}
    expected: list[str] = []
    n = 0
    for item in form.all_items():
        n += 1
        if item.kind == "table":
            rows = []
            for _ in range(2):
                row = {}
                for col in item.columns:
                    n += 1
                    value, shows = sample_value(col, n)
                    if col.kind == "date":
                        shows = [f"2026-11-{n % 28 + 1}"]  # registers print dates compactly
                    if col.kind == "datetime":
                        shows = [f"10-{n % 28 + 1}08:{n % 60:02d}"]
                    if col.kind == "choice":
                        shows = [flat(col.options[-1])]
                    if col.kind == "check":
                        shows = ["√异常"]
                    row[col.id] = value
                    expected.extend(shows)
                rows.append(row)
            values[item.id] = rows
            continue
        value, shows = sample_value(item, n)
        values[item.id] = value
        expected.extend(shows)
    return values, expected


# -- session fixtures: every form rendered once ------------------------------------------------------


@pytest.fixture(scope="session")
def hb() -> Handbook:
    handbook, problems = load_handbook(ROOT)
    assert problems == [], "\n".join(map(str, problems))
    return handbook


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pdf")


@pytest.fixture(scope="session")
def blank(hb: Handbook, out_dir: Path) -> dict[str, Rendered]:
    return {f.id: _render(f, form_html(hb, f), out_dir / f"{f.id}.pdf") for f in hb.forms}


@pytest.fixture(scope="session")
def filled(hb: Handbook, out_dir: Path) -> dict[str, Rendered]:
    result = {}
    for form in hb.forms:
        values, expected = sample_values(form)
        rendered = _render(form, form_html(hb, form, values=values), out_dir / f"{form.id}-filled.pdf")
        rendered.expected = expected
        result[form.id] = rendered
    return result


@pytest.fixture(scope="session")
def pack(hb: Handbook, out_dir: Path) -> tuple[Path, list[str]]:
    path = out_dir / "daily-pack.pdf"
    with weasyprint_log() as records:
        path.write_bytes(daily_pack(hb, PACK_DATE))
    return path, messages(records)


def _form(hb: Handbook, form_id: str) -> Form:
    matches = [f for f in hb.forms if f.id == form_id]
    assert matches, f"checklists/{form_id}.yaml did not load as a form"
    return matches[0]


def printed_labels(form: Form) -> list[str]:
    labels = []
    for item in form.all_items():
        if not ITEM_KINDS[item.kind].printed:
            continue
        labels.append(item.label)
        labels.extend(col.label for col in item.columns)
    labels.extend(section.title for section in form.sections)
    return labels


# -- every real form ----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("form_id", FORM_IDS)
class TestEveryForm:
    def test_renders_without_weasyprint_warnings(self, blank, form_id):
        assert blank[form_id].log == []

    def test_pages_are_a4_in_the_forms_orientation(self, blank, form_id):
        rendered = blank[form_id]
        expected = A4 if rendered.form.orientation == "portrait" else A4[::-1]
        sizes = page_sizes(rendered.pdf)
        assert sizes, "no pages"
        for w, h in sizes:
            assert (round(w), round(h)) == (round(expected[0]), round(expected[1]))

    def test_fonts_are_embedded_subset_truetype(self, blank, form_id):
        fonts = pdf_fonts(blank[form_id].pdf)
        assert fonts, "no fonts in the PDF"
        for font in fonts:
            assert font["type"] in ("CID TrueType", "TrueType"), font
            assert "Type 3" not in font["type"]
            assert (font["emb"], font["sub"]) == ("yes", "yes"), font
        assert any("WQY-MicroHei-Forms" in f["name"] for f in fonts), "the subset print font is not used"

    def test_size_is_small(self, blank, form_id):
        assert blank[form_id].pdf.stat().st_size <= MAX_BYTES

    def test_every_label_title_number_and_org_is_in_the_text(self, hb, blank, form_id):
        rendered = blank[form_id]
        text = rendered.text
        form = rendered.form
        missing = [label for label in printed_labels(form) if flat(label) not in text]
        assert missing == []
        assert flat(form.title) in text
        assert form.number in text
        assert flat(hb.organisation.name) in text

    def test_margin_boxes_show_number_revision_clauses_and_page_of_pages(self, blank, form_id):
        rendered = blank[form_id]
        text, form = rendered.text, rendered.form
        pages = len(page_sizes(rendered.pdf))
        reading = text.split("\n")[0]
        assert reading.count(f"表单编号{form.number}版本{form.revision}") == pages
        assert reading.count("依据条款:" + "、".join(form.serves)) == pages
        for page in range(1, pages + 1):
            assert f"第{page}页/共{pages}页" in text

    def test_clause_ids_are_printed_beside_the_items(self, blank, form_id):
        text = blank[form_id].text
        for item in blank[form_id].form.all_items():
            if ITEM_KINDS[item.kind].printed:
                for ref in item.refs:
                    assert ref in text, f"{item.id}: {ref}"

    def test_photos_are_not_printed(self, blank, form_id):
        for item in blank[form_id].form.all_items():
            if item.kind == "photo":
                assert flat(item.label) not in blank[form_id].text

    def test_page_one_renders_to_a_png(self, blank, form_id, tmp_path):
        from PIL import Image

        prefix = tmp_path / form_id
        run("pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-singlefile", "-png", str(blank[form_id].pdf), str(prefix))
        png = prefix.with_suffix(".png")
        assert png.exists() and png.stat().st_size > 5_000
        with Image.open(png) as image:
            gray = image.convert("L")
            histogram = gray.histogram()
            dark = sum(histogram[:128]) / (gray.width * gray.height)
        assert 0.005 < dark < 0.5, f"page 1 looks empty or black: {dark:.3f} dark"

    def test_filled_record_shows_the_typed_values(self, filled, form_id):
        rendered = filled[form_id]
        assert rendered.log == []
        text = rendered.text
        missing = [value for value in rendered.expected if flat(value) not in text]
        assert missing == []
        assert "<b>不加粗" not in rendered.html  # user text is printed as text, never as markup


# -- the whole set -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("form_id", "instructions"), [
    ("patrol", ["已立刻报告安全部*若“发现可疑人物”为“是”,填写本项", "若“发现施工质量问题”为“是”,填写本项"]),
    ("duty-log", ["若“本班发生突发事件”为“是”,填写本项", "若“属重大事件”为“是”,填写本项"]),
])
def test_a_conditional_item_prints_its_condition_as_an_instruction(hb, tmp_path, form_id, instructions):
    form = _form(hb, form_id)
    rendered = _render(form, form_html(hb, form), tmp_path / f"{form_id}.pdf")
    assert rendered.log == []
    for instruction in instructions:
        label, _, words = instruction.rpartition("*")
        assert flat(words) in rendered.text, words
        if label:  # the instruction is printed in the item's own cell, after its label
            assert flat(label + words) in rendered.text or flat(label) in rendered.text.split(flat(words))[0]


def test_a_conditional_section_prints_its_instruction_under_its_heading(hb, tmp_path):
    form = dataclasses.replace(_form(hb, "patrol"))
    section = form.sections[3]
    form.sections = [*form.sections[:3], dataclasses.replace(section, show_when=Condition(
        "is", item="suspicious_person", values=["yes"])), *form.sections[4:]]
    text = _render(form, form_html(hb, form), tmp_path / "patrol.pdf").text
    heading, first = flat(f"四、{section.title}"), flat(section.items[0].label)
    assert text.index(heading) < text.index(flat("若“发现可疑人物”为“是”,填写本栏")) < text.index(first)


def test_the_score_prints_a_box_on_the_blank_form_and_the_figure_on_a_record(hb, tmp_path):
    form = _form(hb, "patrol")
    blank = _render(form, form_html(hb, form), tmp_path / "blank.pdf").text
    assert flat("巡查合格率:%(巡查合格率 = 计分项目中“正常”的项数 ÷ 已检查的项数 × 100%)") in blank
    values = {item_id: "ok" for item_id, _ in form.score.items} | {"cctv": "fault"}
    filled = _render(form, form_html(hb, form, values=values), tmp_path / "filled.pdf").text
    assert flat("巡查合格率:91.7%(11/12)") in filled


def test_every_printed_kind_has_a_macro():
    assert missing_macros() == []


@pytest.mark.slow
def test_write_form_pdfs_writes_a_pdf_and_an_html_per_form_and_nothing_else(hb, tmp_path):
    out = tmp_path / "forms"
    written = write_form_pdfs(hb, out)
    expected = {f"{f.id}{suffix}" for f in hb.forms for suffix in (".pdf", ".html")}
    assert {p.name for p in out.iterdir()} == expected
    assert sorted(p.name for p in written) == sorted(expected)
    for form in hb.forms:
        assert (out / f"{form.id}.pdf").read_bytes().startswith(b"%PDF-")
        html = (out / f"{form.id}.html").read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in html


@pytest.mark.slow
def test_print_html_is_self_contained(hb):
    html = form_html(hb, "patrol")
    assert "<link" not in html and "<script" not in html
    urls = re.findall(r"url\(\s*\"?([^\")]+)", html) + re.findall(r"(?:src|href)=\"([^\"]+)\"", html)
    assert urls, "the font is loaded by @font-face"
    for url in urls:
        assert url.startswith(("file:", "data:")), url
        if url.startswith("file:"):
            assert Path(url.removeprefix("file://")).is_file(), url
    assert css_string(FAMILY) in html and css_string(SYSTEM_FAMILY) in html  # subset first, system fallback


@pytest.mark.slow
def test_opened_from_disk_in_chromium_it_uses_the_subset_font_and_no_network(hb, tmp_path):
    from playwright.sync_api import sync_playwright

    path = tmp_path / "patrol.html"
    path.write_text(form_html(hb, "patrol"), encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            loaded = page.evaluate("""async (family) => {
                await document.fonts.ready;
                return [...document.fonts].filter(f => f.family.replace(/"/g, '') === family)
                                          .map(f => f.status);
            }""", FAMILY)
            pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        finally:
            browser.close()
    assert loaded == ["loaded"]
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert pdf.startswith(b"%PDF-")


@pytest.mark.slow
def test_daily_pack_holds_each_shift_form_with_the_date(hb, pack):
    path, log = pack
    assert log == []
    ids = {f.id for f in daily_forms(hb)}
    assert {"patrol", "handover", "duty-log", "morning-meeting"} <= ids
    assert not ids & {"complaint", "lost-tag", "item-damage", "change-request", "visitor-register"}
    text = pdf_text(path)
    for form in daily_forms(hb):
        assert flat(form.title) in text
        assert f"表单编号{form.number}" in text
    dated = [f for f in daily_forms(hb) if any(i.prefill == "today" for i in f.all_items())]
    layout = text.split("\n")[1]
    assert layout.count("2026年11月23日") >= len(dated)
    assert all(size == (595.276, 841.89) for size in page_sizes(path))
    assert path.stat().st_size <= 2 * MAX_BYTES


@pytest.mark.slow
def test_daily_pack_with_chosen_forms(hb, tmp_path):
    path = tmp_path / "pack.pdf"
    path.write_bytes(daily_pack(hb, PACK_DATE, ["visitor-register", "patrol"]))
    sizes = page_sizes(path)
    assert sizes[0][0] > sizes[0][1] and sizes[-1][0] < sizes[-1][1]  # landscape register, then portrait
    text = pdf_text(path)
    assert text.index(flat(hb.form("visitor-register").title)) < text.index(flat(hb.form("patrol").title))
    with pytest.raises(KeyError):
        daily_pack(hb, PACK_DATE, ["no-such-form"])


# -- safety ----------------------------------------------------------------------------------------------


def test_url_fetcher_refuses_network_and_files_outside_the_package():
    fetch = url_fetcher()
    refused = [
        "http://127.0.0.1:9/x.png", "https://example.com/a.css", "ftp://example.com/x", "gopher://x/",
        "file:///etc/passwd", (ROOT / "README.md").as_uri(), (ROOT / "regulations" / "organisation.yaml").as_uri(),
        PACKAGE.as_uri() + "/../cli.py", "file://example.com/etc/passwd", PACKAGE.as_uri() + "/no-such-file.css",
    ]
    for url in refused:
        with pytest.raises((RefusedURL, ValueError)):
            fetch(url)
    assert fetch("data:text/plain,hello").read() == b"hello"
    assert b"font-size" in fetch((PACKAGE / "templates" / "form.css").as_uri()).read()


def test_the_print_font_is_fetchable(hb):
    font = print_font(hb.root)
    assert url_fetcher()(font.url).read(4) in (b"\x00\x01\x00\x00", b"true")


@pytest.mark.slow
def test_rendering_fetches_nothing_from_the_network():
    hits: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    html = f"""<!DOCTYPE html><html lang="zh-CN"><head><link rel="stylesheet" href="{base}/a.css">
      <style>@import url("{base}/b.css"); body {{ background: url("{base}/c.png") }}</style></head>
      <body><img src="{base}/d.png"><img src="file:///etc/passwd"><p>测试</p></body></html>"""
    try:
        with weasyprint_log() as records:
            pdf = render_pdf(html)
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert pdf.startswith(b"%PDF-")
    assert hits == []
    assert records, "refused resources are reported in the log"


@pytest.mark.slow
def test_user_text_is_escaped_in_html_and_printed_as_text(hb, tmp_path):
    form = hb.form("patrol")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'
    html = form_html(hb, form, values={"inspector": evil, "findings": evil})
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    path = tmp_path / "evil.pdf"
    path.write_bytes(render_pdf(html))
    assert flat(evil) in pdf_text(path)


@pytest.mark.slow
def test_form_fields_cannot_break_out_of_the_stylesheet(hb, tmp_path):
    nasty = '"; } body { display: none } </style><script>alert(1)</script> \\"'
    form = dataclasses.replace(hb.form("lost-tag"), number=nasty, revision="1.0\n}", serves=["KF-12.19"])
    org = dataclasses.replace(hb.organisation, name="A&B 公司 \"</style>")
    hb2 = dataclasses.replace(hb, organisation=org)
    html = form_html(hb2, form)
    assert html.count("</style>") == 1 and "<script>" not in html
    path = tmp_path / "nasty.pdf"
    with weasyprint_log() as records:
        path.write_bytes(render_pdf(html))
    assert messages(records) == []
    text = pdf_text(path)
    assert flat(nasty) in text and flat(org.name) in text


def test_css_string_escapes_everything_that_could_end_the_string_or_the_style():
    out = str(css_string('a"b\'c\\d</style>\ne 中文 “引号”'))
    inner = out[1:-1]
    assert out[0] == out[-1] == '"'
    assert not set(inner) & set("\"'<>\n\r")
    assert "中文 “引号”" in inner
    assert re.fullmatch(r'(?:[^\\"\'<>&\x00-\x1f]|\\[0-9a-f]{6})*', inner)
    assert str(css_string("file:///a b.ttf")) == '"file:///a b.ttf"'


@pytest.mark.slow
def test_rare_name_characters_fall_back_to_the_full_system_font(hb, tmp_path):
    name = "王堃喆"  # 堃 and 喆 are common in names but not in GB2312: outside the subset
    assert not {"堃", "喆"} & base_characters()
    path = tmp_path / "rare.pdf"
    with weasyprint_log() as records:
        path.write_bytes(render_pdf(form_html(hb, "lost-tag", values={"customer_name": name})))
    assert messages(records) == []
    assert name in pdf_text(path)
    fonts = pdf_fonts(path)
    assert any("WenQuanYi" in f["name"] for f in fonts), fonts
    assert all((f["emb"], f["sub"]) == ("yes", "yes") for f in fonts)


def test_the_weasyprint_log_check_would_catch_a_warning():
    with weasyprint_log() as records:
        render_pdf('<html lang="zh-CN"><style>p { colour: red }</style><p>x</p></html>')
    assert records


def test_subset_font_covers_gb2312_and_every_source_character(hb):
    from fontTools.ttLib import TTCollection, TTFont

    font = print_font(hb.root)
    subset = TTFont(font.path, lazy=True)
    cmap = set(subset["cmap"].getBestCmap())
    names = {r.toUnicode() for r in subset["name"].names if r.nameID == 1}
    assert names == {FAMILY}
    subset.close()
    collection = TTCollection("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", lazy=True)
    system_cmap = set(collection.fonts[0]["cmap"].getBestCmap())
    collection.close()
    wanted = {ord(c) for c in base_characters() | source_characters(ROOT)} & system_cmap
    assert wanted - cmap == set()
    assert font.path.stat().st_size < 2_000_000
    assert font.path.is_relative_to(ROOT / ".cache") or "HANDBOOK_FONT_CACHE" in __import__("os").environ


# -- values -----------------------------------------------------------------------------------------------


def _item(kind: str, **extra) -> Item:
    return Item(id="x", kind=kind, label="x", line=1, **extra)


def test_normalise_reads_the_shapes_the_form_server_stores():
    check = _item("check")
    assert normalise(check, "ok").status == "ok"
    assert normalise(check, {"status": "fault", "note": "坏了"}) == normalise(check, ("fault", "坏了"))
    assert normalise(check, "异常", "坏了").note == "坏了"
    assert normalise(check, None).status is None
    assert normalise(check, "maybe").other == "maybe"
    assert normalise(_item("yesno"), True) == "yes" and normalise(_item("yesno"), "否") == "no"
    choice = _item("choice", options=["早班", "中班"])
    assert normalise(choice, ["中班", "加班"]).selected == {"中班"}
    assert normalise(choice, "加班").others == ("加班",)
    date = normalise(_item("date"), "2026-03-05")
    assert (date.year, date.month, date.day) == ("2026", "3", "5")
    assert normalise(_item("date"), "上周五").raw == "上周五"
    when = normalise(_item("datetime"), dt.datetime(2026, 1, 2, 7, 5))
    assert (when.day, when.hour, when.minute) == ("2", "07", "05")
    assert normalise(_item("datetime"), "2026-01-02T07:05:00").minute == "05"
    assert normalise(_item("time"), "7:05").hour == "07"
    assert normalise(_item("number"), 12.50) == "12.5" and normalise(_item("number"), 3.0) == "3"
    table = _item("table", columns=[_item("time"), dataclasses.replace(_item("text"), id="y")])
    rows = normalise(table, [{"x": "08:00", "y": "甲"}, "not a row"])
    assert len(rows) == 1 and rows[0]["y"] == "甲" and rows[0]["x"].hour == "08"


def test_date_prefills_only_today_items_without_a_value(hb):
    html = form_html(hb, "patrol", date=PACK_DATE)
    assert html.count(">2026<") == 1  # the header date; signature dates stay blank
    html = form_html(hb, "patrol", date=PACK_DATE, values={"date": "2027-01-01"})
    assert ">2027<" in html and ">2026<" not in html


def _page_images(pdf: bytes, stem: Path) -> list[bytes]:
    stem.with_suffix(".pdf").write_bytes(pdf)
    run("pdftoppm", "-r", "50", "-png", str(stem.with_suffix(".pdf")), str(stem))
    return [p.read_bytes() for p in sorted(stem.parent.glob(f"{stem.name}-*.png"))]


@pytest.mark.parametrize("filled_in", [False, True], ids=["blank", "filled"])
def test_the_print_user_agent_sheet_changes_no_pixel(hb, tmp_path, filled_in):
    """render_pdf styles our pages with templates/print_ua.css instead of WeasyPrint's HTML5 sheet (faster):
    every page of every form, blank and filled, rasterises exactly as with WeasyPrint's own sheet."""
    from weasyprint import HTML

    for form in hb.forms:
        html = form_html(hb, form, values=sample_values(form)[0] if filled_in else None)
        ours = _page_images(render_pdf(html), tmp_path / f"{form.id}-ours")
        stock = HTML(string=html, base_url=PACKAGE.as_uri() + "/", url_fetcher=url_fetcher())
        theirs = _page_images(stock.write_pdf(), tmp_path / f"{form.id}-stock")
        assert len(ours) == len(theirs) and ours == theirs, f"{form.id}: the pages differ"


def _tree(element) -> list[tuple]:
    """An element tree as a flat list: tag, attributes, text and tail of every node in document order."""
    return [(e.tag, sorted(e.attrib.items()), e.text, e.tail) for e in element.iter()]


def test_expat_builds_the_tree_the_html5_parser_builds(hb):
    """render_pdf parses our pages with expat (parse.py) instead of WeasyPrint's HTML5 parser: for every
    form, blank and filled with text that needs escaping, and for the daily pack, the trees are equal."""
    import tinyhtml5

    from handbook.pdf.parse import parse_print_html
    from handbook.pdf.render import daily_pack_html

    pages = {"pack": daily_pack_html(hb, PACK_DATE)}
    for form in hb.forms:
        pages[form.id] = form_html(hb, form)
        values = sample_values(form)[0]
        tricky = {k: "甲 & 乙 <b>\"引号\"</b> 'x'\r\n第二行" for k, v in values.items() if isinstance(v, str)}
        pages[f"{form.id} filled"] = form_html(hb, form, values={**values, **tricky})
    for name, html in pages.items():
        ours = parse_print_html(html)
        assert ours is not None, f"{name}: expat refused the page (not well-formed XML)"
        assert _tree(ours) == _tree(tinyhtml5.parse(html, namespace_html_elements=False)), name


def test_a_page_expat_refuses_is_parsed_as_html5_and_still_prints(hb, tmp_path):
    from handbook.pdf.parse import parse_print_html

    html = form_html(hb, hb.form("lost-tag"), values={"staff": "控制\x0b字符"})
    assert parse_print_html(html) is None
    assert parse_print_html("<p>not a page of ours</p>") is None
    path = tmp_path / "fallback.pdf"
    path.write_bytes(render_pdf(html))
    assert "控制" in pdf_text(path)



def test_a_render_frees_its_own_garbage_and_the_font_folder_goes_at_exit(hb):
    """render_pdf collects each render's cyclic garbage itself (nothing left for a later collection
    to find), and the exit hook lets the shared font configuration delete its temporary folder."""
    import gc

    from handbook.pdf import render as render_module

    html = form_html(hb, hb.form("lost-tag"))
    render_pdf(html)
    gc.collect()
    render_pdf(html)
    assert gc.collect() < 500  # a render leaves over 10,000 objects in cycles when nothing collects them
    folder = render_module._font_config._folder
    assert folder.is_dir()
    render_module._drop_font_config()
    gc.collect()
    assert not folder.exists()
    assert render_pdf(html).startswith(b"%PDF") and render_module._font_config is not None  # a new one
