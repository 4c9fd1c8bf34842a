"""Printable forms: print HTML from the form definitions, PDFs with WeasyPrint, the daily pack.

    form_html(hb, form, values=None, date=None) -> str   one self-contained print page
    render_pdf(html) -> bytes                            WeasyPrint, local files and data: only
    write_form_pdfs(hb, outdir) -> list[Path]            <id>.pdf + <id>.html of every blank form
    daily_pack(hb, date, form_ids=None) -> bytes         the forms a shift needs, dated
"""

from __future__ import annotations

from .fonts import FontError, PrintFont, print_font
from .html import css_string, form_html, missing_macros, normalise, pages_html
from .render import (
    RefusedURL,
    daily_forms,
    daily_pack,
    daily_pack_html,
    render_pdf,
    unknown_forms,
    url_fetcher,
    write_form_pdfs,
)

__all__ = [
    "FontError",
    "PrintFont",
    "RefusedURL",
    "css_string",
    "daily_forms",
    "daily_pack",
    "daily_pack_html",
    "form_html",
    "missing_macros",
    "normalise",
    "pages_html",
    "print_font",
    "render_pdf",
    "unknown_forms",
    "url_fetcher",
    "write_form_pdfs",
]
