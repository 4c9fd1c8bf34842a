"""Benchmark: seconds per checklist PDF, WeasyPrint (our subset font) against headless Chromium.

    .venv/bin/python -m tests.bench_pdf [--rounds 5]

One warm process renders every form of checklists/ `rounds` times with each engine from the same print
HTML (`handbook.pdf.form_html`): WeasyPrint through `render_pdf`, Chromium through Playwright
(`page.goto(file://…)` + `page.pdf()`, one warm browser and page; the HTML files are written before
timing). The two engines alternate form by form, so background load hits both alike. Prints the median
per form and overall, and the WeasyPrint/Chromium ratio. Target: median ≤ 0.25 s and no slower than
Chromium.

Then the printed handbook (`handbook book`): the whole book rendered `--book-rounds` times (median;
target ≤ 20 s), and the site's book downloads (whole and per role) built into an empty cache and then
asked for again with the source unchanged, which must render nothing (every book a cache hit).
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser import launch

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.25
BOOK_TARGET_SECONDS = 20.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--book-rounds", type=int, default=3)
    parser.add_argument("--root", default=str(ROOT))
    args = parser.parse_args(argv)
    bench_forms(args)
    bench_book(args)
    return 0  # a benchmark reports its figures; the verdict is printed, never an exit status


def bench_forms(args: argparse.Namespace) -> None:

    from playwright.sync_api import sync_playwright

    from handbook.load import require_handbook
    from handbook.pdf import form_html, render_pdf

    hb = require_handbook(args.root)
    htmls = {form.id: form_html(hb, form) for form in hb.forms}
    weasy: dict[str, list[float]] = {k: [] for k in htmls}
    chrome: dict[str, list[float]] = {k: [] for k in htmls}
    sizes: dict[str, tuple[int, int]] = {}

    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp, sync_playwright() as p:
        files = {}
        for form_id, html in htmls.items():
            files[form_id] = Path(tmp) / f"{form_id}.html"
            files[form_id].write_text(html, encoding="utf-8")
        browser = launch(p)
        page = browser.new_page()

        def chromium_pdf(form_id: str) -> bytes:
            page.goto(files[form_id].as_uri())
            return page.pdf(prefer_css_page_size=True, print_background=True)

        # Warm up both engines on every form (fonts, caches, JIT-free but lazy imports).
        for form_id, html in htmls.items():
            sizes[form_id] = (len(render_pdf(html)), len(chromium_pdf(form_id)))
        gc.collect()

        for r in range(args.rounds):
            for form_id, html in htmls.items():
                engines = ((weasy, lambda h=html: render_pdf(h)), (chrome, lambda f=form_id: chromium_pdf(f)))
                for times, render in engines if r % 2 == 0 else engines[::-1]:
                    start = time.perf_counter()
                    render()
                    times[form_id].append(time.perf_counter() - start)
        browser.close()

    print(f"{len(htmls)} forms × {args.rounds} rounds, one warm process; seconds per PDF (median)\n")
    print(f"{'form':24} {'WeasyPrint':>10} {'Chromium':>10} {'ratio':>6} {'KB W':>6} {'KB C':>6}")
    for form_id in htmls:
        w, c = statistics.median(weasy[form_id]), statistics.median(chrome[form_id])
        print(f"{form_id:24} {w:10.3f} {c:10.3f} {w / c:6.2f} {sizes[form_id][0] / 1024:6.0f} "
              f"{sizes[form_id][1] / 1024:6.0f}")
    w_all = statistics.median(t for ts in weasy.values() for t in ts)
    c_all = statistics.median(t for ts in chrome.values() for t in ts)
    print(f"\n{'median, all PDFs':24} {w_all:10.3f} {c_all:10.3f} {w_all / c_all:6.2f}")
    ok_target, ok_chrome = w_all <= TARGET_SECONDS, w_all <= c_all
    print(f"target ≤ {TARGET_SECONDS} s: {'met' if ok_target else 'MISSED'}; "
          f"no slower than Chromium: {'met' if ok_chrome else 'MISSED'}")


def bench_book(args: argparse.Namespace) -> None:
    from handbook.load import require_handbook
    from handbook.pdf.book import book_pdf
    from handbook.site_downloads import book_downloads

    hb = require_handbook(args.root)
    times, pdf = [], b""
    for _ in range(args.book_rounds):
        gc.collect()
        start = time.perf_counter()
        pdf = book_pdf(hb)
        times.append(time.perf_counter() - start)
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    pages = re.search(r"^Pages:\s+(\d+)", info, re.M)[1]
    median = statistics.median(times)
    print(f"\nprinted handbook, whole: {median:.1f} s (median of {args.book_rounds}: "
          f"{', '.join(f'{t:.1f}' for t in times)}), {len(pdf) / 1024:.0f} KB, {pages} pages")
    print(f"target ≤ {BOOK_TARGET_SECONDS:.0f} s: {'met' if median <= BOOK_TARGET_SECONDS else 'MISSED'}")
    with tempfile.TemporaryDirectory(prefix="bench-book-") as cache:
        start = time.perf_counter()
        books = book_downloads(hb, Path(cache))
        cold = time.perf_counter() - start
        start = time.perf_counter()
        book_downloads(hb, Path(cache))
        warm = time.perf_counter() - start
    print(f"site books (whole + {len(books) - 1} roles): {cold:.1f} s into an empty cache, "
          f"{warm:.2f} s again with the source unchanged (cache hits)")


if __name__ == "__main__":
    sys.exit(main())
