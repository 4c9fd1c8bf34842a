"""The built handbook in headless Chromium: Chinese search, offline loading, copy-link, printing."""

from __future__ import annotations

import subprocess
from urllib.parse import urlparse

import pytest

from tests.browser import have_chromium, launch
from tests.sitebuild import built_site, output_dir, serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
]

# What staff type, and the page that must come up among the first results.
SEARCHES = [
    ("交接班", "regulations/KF-11/"),
    ("投诉处理", "regulations/KF-14/"),
    ("罚款", "regulations/KF-21/"),
    ("存包牌", "regulations/KF-12/"),
    ("首问负责", "regulations/KF-14/"),
    ("例会", "regulations/KF-03/"),
    ("巡查", "regulations/KF-07/"),
]
TOP = 3


@pytest.fixture(scope="module")
def base_url():
    with serve(built_site()[0]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    outside: list[str] = []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.outside_requests = outside
    yield page
    context.close()


def search(page, base_url: str, query: str) -> list[str]:
    page.goto(base_url + "/")
    box = page.locator("input.md-search__input")
    box.click()
    box.fill(query)
    box.press("End")  # Material reacts to key events, not to fill() alone
    page.locator(".md-search-result__item").first.wait_for(timeout=10_000)
    links = page.locator(".md-search-result__item > a").evaluate_all("els => els.map(e => e.href)")
    pages = [urlparse(href).path.lstrip("/") for href in links]
    return list(dict.fromkeys(pages))  # one entry per page, in rank order


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_chinese_search_finds_the_right_regulation(page, base_url, query, expected):
    results = search(page, base_url, query)
    assert expected in results[:TOP], f"{query}: {results[:5]}"


def test_search_result_screenshot(page, base_url):
    search(page, base_url, "交接班")
    page.screenshot(path=output_dir() / "search-交接班.png")
    assert not page.outside_requests


def test_site_works_with_no_internet(page, base_url):
    for path in ("/", "/regulations/KF-11/", "/penalties/", "/roles/duty/", "/forms/patrol/"):
        page.goto(base_url + path)
        page.wait_for_load_state("networkidle")
    assert page.outside_requests == []


def test_clause_link_is_copied_and_targets_the_clause(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.goto(base_url + "/regulations/KF-11/")
    page.locator('a.clause-id[href="#KF-11.11"]').click()
    page.locator('a.clause-id.copied[href="#KF-11.11"]').wait_for(timeout=5_000)  # the write has resolved
    assert page.evaluate("location.hash") == "#KF-11.11"
    assert page.evaluate("navigator.clipboard.readText()").endswith("/regulations/KF-11/#KF-11.11")
    assert page.locator("#KF-11\\.11").is_visible()
    context.close()


def test_regulation_prints_cleanly_on_a4(page, base_url, tmp_path):
    page.goto(base_url + "/regulations/KF-11/")
    page.emulate_media(media="print")
    page.screenshot(path=output_dir() / "print-KF-11.png", full_page=False)
    pdf = tmp_path / "KF-11.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "KF-11 交接班制度" in text
    assert "KF-11.11" in text
    assert "按岗位" not in text  # navigation is hidden in print
    assert "引用本条" not in text
