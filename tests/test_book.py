"""The printed handbook (`handbook book`): the whole book and every role's, checked with poppler: 目录 with
page numbers, every applicable regulation and only those, the clause index, the signature page, fonts
embedded and subset, no WeasyPrint warnings; the CLI's errors; the site's cache."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from handbook.cli import main
from handbook.load import require_handbook
from handbook.pdf.book import book_edition, book_regulations
from tests.test_pdf import messages, pdf_fonts, weasyprint_log

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
HB = require_handbook(ROOT)
ROLES = list(HB.organisation.roles)


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str | None, tuple[Path, list[str]]]:
    """role (None: whole) → (PDF, WeasyPrint warnings), each rendered once through the CLI."""
    out = tmp_path_factory.mktemp("books")
    made = {}
    for role in (None, *ROLES):
        pdf = out / f"book-{role or 'whole'}.pdf"
        with weasyprint_log() as records:
            assert main(["--root", str(ROOT), "book", *(["--role", role] if role else []), str(pdf)]) == 0
        made[role] = (pdf, messages(records))
    return made


def text(pdf: Path, *pages: int, layout: bool = False) -> str:
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), *span, str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])


@pytest.mark.parametrize("role", [None, *ROLES])
def test_book_holds_what_applies_and_nothing_else(books, role):
    pdf, warnings = books[role]
    assert warnings == []
    whole = re.sub(r"\s+", "", text(pdf))
    cover = re.sub(r"\s+", "", text(pdf, 1))
    assert HB.organisation.name in cover and book_edition(HB).label in cover
    assert (HB.organisation.roles[role].name if role else "全体岗位") in cover
    held = book_regulations(HB, role)
    assert held and all(role is None or role in r.applies_to for r in held)
    toc = re.sub(r"\s+", "", text(pdf, 2))
    for reg in HB.regulations:
        if reg in held:
            assert f"{reg.id}{reg.title}" in toc and f"{reg.id}{reg.title}" in whole, reg.id
        else:  # other regulations may cite it by id, but neither its entry nor its document number is there
            assert f"{reg.id}{reg.title}" not in toc and reg.number not in whole, reg.id
    for word in ("目录", "条款索引", "员工签收页", "本人已阅读并理解以上制度", "签名", "日期", "文件编号", "批准"):
        assert word in whole, word
    last = re.sub(r"\s+", "", text(pdf, page_count(pdf)))
    assert "本人已阅读并理解以上制度" in last and (role is None or HB.organisation.roles[role].name in last)


def test_toc_and_index_give_real_page_numbers(books):
    pdf, _ = books[None]
    pages = page_count(pdf)
    toc = text(pdf, 2, layout=True)
    numbers = {}
    for reg in HB.regulations:
        m = re.search(rf"{reg.id}\s+{reg.title}.*?\.{{3,}}\s*(\d+)", toc)
        assert m, reg.id
        numbers[reg.id] = int(m[1])
    assert list(numbers.values()) == sorted(numbers.values()) and min(numbers.values()) > 2
    for reg_id, page in numbers.items():  # the page the TOC names carries the regulation's running header
        reg = HB.regulation(reg_id)
        assert f"{reg.id} {reg.title}" in text(pdf, page)
        assert reg.clause_ids[0] in text(pdf, page) or reg.clause_ids[0] in text(pdf, page + 1)
    index = re.sub(r"\s+", "", text(pdf, numbers["KF-21"] + 1, pages, layout=True))
    first = HB.regulations[0].clause_ids[0]
    m = re.search(rf"{re.escape(first)}\.+(\d+)", index)
    assert m and int(m[1]) == numbers[HB.regulations[0].id]
    assert "KF-21.20" in index  # table rows are clauses too


def test_penalties_and_duties_print_as_tables(books):
    whole = re.sub(r"\s+", "", text(books[None][0]))
    for table in HB.tables.values():
        assert table.title in whole
        assert all(row.id in whole for row in table.rows)
    assert "违规行为" in whole and "罚款" in whole and "职责" in whole


@pytest.mark.parametrize("role", [None, "trainee"])
def test_fonts_are_embedded_subsets(books, role):
    fonts = pdf_fonts(books[role][0])
    assert fonts and all((f["emb"], f["sub"]) == ("yes", "yes") for f in fonts), fonts
    assert all("Type 3" not in f["type"] for f in fonts)
    assert books[role][0].stat().st_size < 1_000_000


def test_bad_role_is_one_line_naming_the_valid_roles(tmp_path, capsys):
    out = tmp_path / "x.pdf"
    assert main(["--root", str(ROOT), "book", "--role", "stafff", str(out)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "stafff" in err and "是否要写 “staff”" in err
    assert all(role in err for role in ROLES)
    assert not out.exists()


def test_site_books_are_cached_by_their_html(tmp_path):
    from handbook.site_downloads import book_downloads, book_path, book_roles

    hb = require_handbook(ROOT)
    first = book_downloads(hb, tmp_path)
    assert set(first) == {book_path(None), *(book_path(r) for r in book_roles(hb))}
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "book").glob("*.pdf")}
    again = book_downloads(hb, tmp_path)  # unchanged source: every book a cache hit
    assert again == first
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "book").glob("*.pdf")}
    hb.regulations[0].title += "(修订)"
    third = book_downloads(hb, tmp_path)
    assert third[book_path(None)] != first[book_path(None)]
    assert len(list((tmp_path / "book").glob("whole-*.pdf"))) == 1  # the superseded render is removed


def test_form_references_print_as_the_form_number(books):
    whole = re.sub(r"\s+", "", text(books[None][0]))
    review = next(f for f in HB.forms if f.id == "staff-review")
    assert re.search(rf"《{review.title}》[(\uff08]{review.number}[)\uff09]", whole)
    assert f"》(《{review.title}》" not in whole.replace("\uff08", "(")
