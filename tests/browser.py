"""Headless Chromium for every test and benchmark that drives a browser: Debian's binary (Playwright cannot
download its own here) with the flags this machine needs (without the background-networking ones, Chromium's
own connections are refused by the closed network many at a time)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def have_chromium() -> bool:
    """Chromium and poppler-utils (the browser tests read the PDFs they download), both from make install."""
    return Path(CHROMIUM).exists() and shutil.which("pdftotext") is not None


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a running `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
