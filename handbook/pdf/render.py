"""Print HTML → PDF with WeasyPrint, the blank forms on disk, and the daily pack.

Rendering is local only: the URL fetcher serves `data:` URIs, files under this package and the cached
print font, and refuses everything else (no network, no other files), so user text that smuggles in
`<img src="http://…">` or `file:///etc/…` fetches nothing. WeasyPrint is not thread-safe and its font
configuration is worth keeping between renders, so renders share one and run one at a time.
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from ..files import write_atomically
from ..formmodel import Form
from ..model import Handbook
from .fonts import PrintFont, made_fonts, print_font
from .html import PACKAGE_DIR, form_html, pages_html, static_css
from .parse import parse_print_html

DAILY_ROLES = ("duty", "staff")  # who works the shifts the daily pack is for


class RefusedURL(ValueError):
    """The print URL fetcher does not fetch this URL."""


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalOnlyFetcher(URLFetcher):
        """Fetches `data:` URIs and `file:` URLs inside the allowed roots; refuses everything else."""

        def __init__(self, allowed: Iterable[Path] = ()):
            super().__init__(timeout=5, allowed_protocols=("data", "file"), allow_redirects=False)
            self.allowed = (PACKAGE_DIR, *(Path(p).resolve() for p in allowed))

        def fetch(self, url, headers=None):
            scheme = urllib.parse.urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = self.local_path(url)
                return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": _mime(path)})
            raise RefusedURL(f"refused by the print URL fetcher: {url[:200]}")

        def local_path(self, url: str) -> Path:
            parts = urllib.parse.urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise RefusedURL(f"refused: file URL on another host: {url[:200]}")
            path = Path(urllib.request.url2pathname(parts.path)).resolve()
            inside = any(path == root or (root.is_dir() and path.is_relative_to(root)) for root in self.allowed)
            if inside and path.is_file():
                return path
            raise RefusedURL(f"refused: file outside the print package: {path}")

    return LocalOnlyFetcher


def _mime(path: Path) -> str:
    return {".css": "text/css", ".ttf": "font/ttf", ".png": "image/png", ".svg": "image/svg+xml"}.get(
        path.suffix.lower(), "application/octet-stream")


def url_fetcher(extra: Iterable[Path] = ()):
    """A fetcher allowing data:, files under handbook/pdf/, the print fonts made in this process and
    the files or folders in `extra`."""
    return _fetcher_class()((*made_fonts(), *extra))


_render_lock = threading.Lock()
_font_config = None
_static_sheet = None
_print_ua = None
_print_page = None


@atexit.register
def _drop_font_config() -> None:
    """Let the shared font configuration delete its temporary folder while the interpreter still can
    (left to interpreter shutdown, its __del__ finds shutil gone and the folder stays)."""
    global _font_config
    _font_config = None


def render_pdf(html: str, *, allow: Iterable[Path] = ()) -> bytes:
    """The PDF of a print HTML page (from form_html or pages_html, or any HTML: only local files).

    Renders share one font configuration (the @font-face font is loaded once per process) and one
    parsed copy of the static stylesheet: when the page carries templates/form.css verbatim, that text
    is taken out of the page and the stylesheet parsed at the first render is applied in its place
    (same rules, no overlap with the rest of the page's <style>, so the same result), which saves
    parsing it and compiling its selectors on every render. Such a page, being ours, also gets
    templates/print_ua.css as its user-agent sheet: WeasyPrint's rules for the elements it uses, not for
    all of HTML (the same pixels, tested), and is parsed by expat when it is well-formed XML (parse.py:
    the same tree, tested; 9 % fewer instructions per 2-page form than WeasyPrint's HTML5 parser).
    """
    global _font_config, _static_sheet, _print_ua, _print_page
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fetcher = url_fetcher(allow)
    with _render_lock:
        if _font_config is None:
            _font_config = FontConfiguration()
        sheets = []
        page_class = HTML
        static = static_css()
        if static in html:
            if _static_sheet is None:
                _static_sheet = CSS(string=static, base_url=PACKAGE_DIR.as_uri() + "/", url_fetcher=fetcher,
                                    font_config=_font_config)
                _print_ua = CSS(filename=str(PACKAGE_DIR / "templates" / "print_ua.css"), font_config=_font_config)
                _print_page = _print_page_class()
            html = html.replace(static, "", 1)
            sheets.append(_static_sheet)
            page_class = _print_page  # our own page: the user-agent rules for its elements only
        # WeasyPrint allocates hundreds of thousands of objects per render; with the cyclic collector
        # running in between it spends a fifth of its time in full collections of everything the
        # process holds. Pause it for the render and collect the young generations (the render's own
        # garbage) once afterwards: measured here, 0.176 s → 0.148 s per form, memory flat. No name
        # holds the page or its document, so that garbage is unreachable by then: the collection frees
        # it instead of promoting it to the old generation, where only a full collection would.
        collecting = gc.isenabled()
        gc.disable()
        try:
            pdf = page_class(string=html, base_url=PACKAGE_DIR.as_uri() + "/", url_fetcher=fetcher).write_pdf(
                font_config=_font_config, stylesheets=sheets, uncompressed_pdf=False)
        finally:
            if collecting:
                gc.enable()
                gc.collect(1)
        return pdf


def _print_page_class():
    import cssselect2
    from weasyprint import HTML

    class PrintPage(HTML):
        """A page of ours, styled by form.css: parsed by expat when it is well-formed (parse.py), and
        styled with templates/print_ua.css in place of WeasyPrint's HTML5 sheet."""

        def __init__(self, *, string: str, base_url: str, url_fetcher) -> None:
            root = parse_print_html(string)
            if root is None:
                super().__init__(string=string, base_url=base_url, url_fetcher=url_fetcher)
                return
            # What HTML.__init__ sets after its own parse (our pages have no <base>).
            self.base_url = base_url
            self.url_fetcher = url_fetcher
            self.media_type = "print"
            self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
            self.etree_element = self.wrapper_element.etree_element

        def _ua_stylesheets(self, forms: bool = False) -> list:
            return [_print_ua]

    return PrintPage


def write_form_pdfs(hb: Handbook, outdir: str | Path) -> list[Path]:
    """Write `<id>.pdf` and `<id>.html` of every blank form into `outdir`; returns the files written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    font = print_font(hb.root)
    written = []
    for form in hb.forms:
        html = form_html(hb, form, font=font)
        pdf = render_pdf(html)
        for suffix, data in ((".pdf", pdf), (".html", html.encode("utf-8"))):
            path = outdir / f"{form.id}{suffix}"
            write_atomically(path, data)
            written.append(path)
    return written


def _daily_meeting_forms(hb: Handbook) -> set[str]:
    """Forms that record a meeting the meetings tables hold daily (e.g. the morning meeting)."""
    forms = set()
    for table in hb.tables.values():
        for row in table.rows:
            if getattr(row, "frequency", "") == "daily" and getattr(row, "form", ""):
                forms.add(row.form)
    return forms


def daily_forms(hb: Handbook) -> list[Form]:
    """The forms a shift prints each day, derived from the definitions.

    A form is in the pack when staff on shift fill it in (its roles include duty or staff), it is dated
    by the day (a header item with `prefill: today`), and it is kept per shift or per day rather than
    per event: a header item with `prefill: shift`, or it is the record of a daily meeting in the
    meetings table. Per-event forms (complaints, lost tags…) have neither and stay out.
    """
    daily_meetings = _daily_meeting_forms(hb)
    chosen = []
    for form in hb.forms:
        prefills = {item.prefill for item in form.header}
        if not set(form.roles) & set(DAILY_ROLES) or "today" not in prefills:
            continue
        if "shift" in prefills or form.id in daily_meetings:
            chosen.append(form)
    return chosen


def daily_pack_html(hb: Handbook, date: dt.date, form_ids: Iterable[str] | None = None,
                    font: PrintFont | None = None) -> str:
    forms = daily_forms(hb) if form_ids is None else [hb.form(i) for i in form_ids]
    if not forms:
        raise ValueError("no forms for the daily pack")
    title = f"{date.year}年{date.month}月{date.day}日 班次表单"
    return pages_html(hb, [(form, None) for form in forms], date=date, title=title, font=font)


def daily_pack(hb: Handbook, date: dt.date, form_ids: Iterable[str] | None = None) -> bytes:
    """One PDF with every form a shift needs on `date` (default: `daily_forms`), the date filled in.

    Raises KeyError for an unknown form id (`unknown_forms` lists them first for a friendly message)."""
    unknown = unknown_forms(hb, form_ids or ())
    if unknown:
        raise KeyError(unknown[0])
    return render_pdf(daily_pack_html(hb, date, form_ids))


def unknown_forms(hb: Handbook, form_ids: Iterable[str]) -> list[str]:
    known = {f.id for f in hb.forms}
    return [i for i in form_ids if i not in known]
