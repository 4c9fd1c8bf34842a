"""The printable forms that the handbook site offers for download: `forms/pdf/<id>.pdf` and `.html`.

A PDF is rendered only when its print HTML changed: the HTML already depends on everything that
shapes the PDF (form definition, organisation, templates, font), so its hash is the cache key.
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


def pdf_path(form_id: str) -> str:
    return f"{PDF_DIR}/{form_id}.pdf"


def html_path(form_id: str) -> str:
    return f"{PDF_DIR}/{form_id}.html"


def form_downloads(hb: Handbook, cache_dir: Path) -> dict[str, bytes]:
    """Site path → file content for every form's PDF and print HTML."""
    import weasyprint

    from .pdf import form_html, render_pdf

    cache_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    rendered = 0
    for form in hb.forms:
        html = form_html(hb, form)
        key = hashlib.sha256(f"{weasyprint.__version__}\n{html}".encode()).hexdigest()[:20]
        cached = cache_dir / f"{form.id}-{key}.pdf"
        if not cached.exists():
            for stale in cache_dir.glob(f"{form.id}-*.pdf"):
                stale.unlink()
            write_atomically(cached, render_pdf(html))
            rendered += 1
        files[pdf_path(form.id)] = cached.read_bytes()
        files[html_path(form.id)] = html.encode("utf-8")
    log.info("表单 PDF:%d 张,其中重新生成 %d 张", len(hb.forms), rendered)
    return files
