"""The printable files that the handbook site offers for download: every form's PDF and print HTML
(`forms/pdf/<id>.pdf`, `.html`) and the printed handbook, whole and per role (`book/book.pdf`,
`book/book-<role>.pdf`).

A PDF is rendered only when its print HTML changed: the HTML already depends on everything that
shapes the PDF (source, organisation, templates, font), so its hash is the cache key.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from .files import write_atomically
from .model import Handbook

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

PDF_DIR = "forms/pdf"
BOOK_DIR = "book"
_KEY_LENGTH = 20


def pdf_path(form_id: str) -> str:
    return f"{PDF_DIR}/{form_id}.pdf"


def html_path(form_id: str) -> str:
    return f"{PDF_DIR}/{form_id}.html"


def book_path(role: str | None = None) -> str:
    """The site path of the whole book, or of one role's."""
    return f"{BOOK_DIR}/book.pdf" if role is None else f"{BOOK_DIR}/book-{role}.pdf"


def book_roles(hb: Handbook) -> list[str]:
    """The roles that get a book of their own: those at least one regulation applies to."""
    return [r for r in hb.organisation.roles if any(r in reg.applies_to for reg in hb.regulations)]


def cached_pdf(cache_dir: Path, name: str, html: str) -> tuple[bytes, bool]:
    """The PDF of `html` from `cache_dir/<name>-<hash>.pdf`, rendered (and older renders of `name`
    removed) when it is not there; returns (pdf, rendered)."""
    import weasyprint

    from .pdf import render_pdf

    key = hashlib.sha256(f"{weasyprint.__version__}\n{html}".encode()).hexdigest()[:_KEY_LENGTH]
    cached = cache_dir / f"{name}-{key}.pdf"
    if cached.exists():
        return cached.read_bytes(), False
    # '?' per hash digit: the pattern of `name` never matches another name that starts with it
    for stale in cache_dir.glob(f"{name}-{'?' * _KEY_LENGTH}.pdf"):
        stale.unlink()
    pdf = render_pdf(html)
    write_atomically(cached, pdf)
    return pdf, True


def form_downloads(hb: Handbook, cache_dir: Path) -> dict[str, bytes]:
    """Site path → file content for every form's PDF and print HTML."""
    from .pdf import form_html

    cache_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    rendered = 0
    for form in hb.forms:
        html = form_html(hb, form)
        files[pdf_path(form.id)], fresh = cached_pdf(cache_dir, form.id, html)
        rendered += fresh
        files[html_path(form.id)] = html.encode("utf-8")
    log.info("表单 PDF:%d 张,其中重新生成 %d 张", len(hb.forms), rendered)
    return files


def book_downloads(hb: Handbook, cache_dir: Path) -> dict[str, bytes]:
    """Site path → PDF of the whole printed handbook and of each role's (book_roles), cached in
    `cache_dir/book/` (a folder of their own: a form id can never collide with a book's name)."""
    from .pdf.book import book_html

    folder = cache_dir / BOOK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    rendered = 0
    for role in (None, *book_roles(hb)):
        files[book_path(role)], fresh = cached_pdf(folder, f"role-{role}" if role else "whole", book_html(hb, role))
        rendered += fresh
    log.info("员工手册 PDF:%d 本,其中重新生成 %d 本", len(files), rendered)
    return files
