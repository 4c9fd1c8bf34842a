"""A signature drawn on a phone (390×844, headless Chromium): strokes on the pad's canvas upload the PNG when they
end, 清除 empties it, the form is submitted, and the drawing is on the record page and in the record's PDF."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.browser import have_chromium
from tests.formserver.app import test_e2e as e2e
from tests.formserver.app.test_e2e import WAIT, fill_patrol_except, log_in, served, shot
from tests.sitebuild import output_dir

browser, phones = e2e.browser, e2e.phones  # the phone fixtures of the form-server e2e tests

pytestmark = [
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
    pytest.mark.usefixtures("cheap_passwords"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    users = {"zhang": {"display_name": "张三"}}
    with served(tmp_path_factory.mktemp("signature-e2e"), users, SIGNATURE_DRAWING_REQUIRED=True) as server:
        yield server


def draw(page, canvas, strokes: list[list[tuple[float, float]]]) -> None:
    """Mouse strokes on the canvas, in fractions of its box."""
    box = canvas.bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
        page.mouse.up()


SIGNATURE = [[(0.1, 0.6), (0.2, 0.3), (0.3, 0.7), (0.4, 0.35), (0.5, 0.65)], [(0.55, 0.5), (0.9, 0.45)]]


def test_a_signature_drawn_on_a_phone_reaches_the_record_and_its_pdf(server, phones):
    from playwright.sync_api import expect

    _context, page, _watch = phones()
    log_in(page, server, "zhang")
    page.goto(server.url + "/forms/patrol")
    fill_patrol_except(page, server)
    pad = page.locator('.signature-pad[data-signature-for="inspector_sign"]')
    expect(pad).to_be_visible()
    canvas = pad.locator("canvas")
    canvas.scroll_into_view_if_needed()
    hidden = pad.locator("input[name=inspector_sign_image]")

    draw(page, canvas, [[(0.2, 0.2), (0.8, 0.8)]])
    expect(pad.locator(".signature-status")).to_have_text("已手写签名", timeout=WAIT)
    first = hidden.input_value()
    pad.locator(".signature-clear").tap()
    assert hidden.input_value() == ""

    draw(page, canvas, SIGNATURE)
    expect(pad.locator(".signature-status")).to_have_text("已手写签名", timeout=WAIT)
    drawing = hidden.input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}", drawing) and drawing != first
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form is {width}px wide on a 390px phone"
    page.locator("#item-inspector_sign").scroll_into_view_if_needed()
    shot(page, "signature-1-pad")

    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/records/[0-9a-f-]{36}\?submitted=1$"))
    image = page.locator(f'img.signature-image[src="/photos/{drawing}"]')
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.locator(".view-item.signature", has=image)).to_contain_text("张三 · 手写签名于")
    image.scroll_into_view_if_needed()
    shot(page, "signature-2-record")

    pdf = page.request.get(page.url.split("?")[0] + ".pdf")
    assert pdf.ok
    path = output_dir() / "server-signature-3-record.pdf"
    path.write_bytes(pdf.body())
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert len([line for line in listed.splitlines()[2:] if line.strip()]) >= 1, listed
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                             check=True).stdout)
    assert "巡查人签名" in text and "张三" in text and re.search(r"签于\d{4}-\d\d-\d\d\d\d:\d\d", text)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path),
                    str(output_dir() / "server-signature-3-record")], check=True)
