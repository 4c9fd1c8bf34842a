"""Offline filling on a phone, end to end (headless Chromium at 390×844, the real server, the real service
worker): a patrol opened once opens again without a connection, is filled with a failed item and a photo,
submitted into the phone's outbox, survives a reload, and is sent exactly once when the connection returns;
a submission the server refuses after reconnecting is shown to the person with the form."""

from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import func, select

from tests.formserver.app import test_e2e
from tests.formserver.app.test_e2e import NOTE, Server, fill_patrol_except, log_in, png, served, shot, tap_option
from tests.formserver.records.test_signature_e2e import SIGNATURE, draw
from tests.sitebuild import output_dir

browser, phones = test_e2e.browser, test_e2e.phones  # the phone tests' fixtures

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cheap_passwords")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real app as deployed: a required signature must be drawn."""
    with served(tmp_path_factory.mktemp("offline-e2e"), {"zhang": {"display_name": "张三"}},
                SIGNATURE_DRAWING_REQUIRED=True) as server:
        yield server


def sign(page, expected: str) -> None:
    pad = page.locator('.signature-pad[data-signature-for="inspector_sign"]')
    canvas = pad.locator("canvas")
    canvas.scroll_into_view_if_needed()
    draw(page, canvas, SIGNATURE)
    pad.locator(".signature-status", has_text=expected).wait_for()
FINDING = "地下车库 B2 信号差,离线补记:消防通道有纸箱"


def worker_ready(page) -> None:
    """The service worker controls the page (the first page of a visit registers it; it then claims it)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def records(server: Server, uid: str) -> list:
    from formserver.db.models import Submission

    with server.app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(Submission).where(Submission.uid == uid)))


def cases_of(server: Server, uid: str) -> int:
    from formserver.db.models import Case, Submission

    with server.app.extensions["db_sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Case)
                              .join(Submission, Case.submission_id == Submission.id).where(Submission.uid == uid))


def offline_patrol(server: Server, phones):
    """(context, page, watch) of a phone that opened the patrol form and the home page once online, now without
    a connection and showing the patrol again (from the worker's cache), ready to fill."""
    context, page, watch = phones()
    log_in(page, server, "zhang")
    worker_ready(page)
    page.goto(server.url + "/forms/patrol")  # opened once online: the worker keeps it
    page.locator("form.record-form").wait_for()
    page.goto(server.url + "/")  # and the home page, as it is now
    worker_ready(page)
    watch.offline = True
    context.set_offline(True)
    page.goto(server.url + "/forms/patrol")
    page.locator("form.record-form[data-ready]").wait_for()
    return context, page, watch


def test_a_patrol_filled_offline_is_sent_once_when_the_connection_returns(server, phones):
    from playwright.sync_api import expect

    context, page, watch = offline_patrol(server, phones)  # in the basement car park: no signal
    form = page.locator("form.record-form")
    expect(page.locator("#offline-banner")).to_be_visible()
    fill_patrol_except(page, server, skip="fire_exit")
    tap_option(page, "fire_exit", "fault")
    item = page.locator("#item-fire_exit")
    item.locator("[name=fire_exit_note]").fill(NOTE)
    item.locator("input[type=file]").set_input_files(
        files=[{"name": "exit.png", "mimeType": "image/png", "buffer": png()}])
    expect(item.locator(".photo-status")).to_have_text("照片已保存在本机,联网后随表提交")
    thumb = item.locator(".thumb img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    page.locator("textarea[name=findings]").fill(FINDING)
    sign(page, "签名已保存在本机,联网后随表提交")
    uid = form.get_attribute("data-uid")
    shot(page, "offline-1-filled")
    page.locator("button[type=submit]").tap()

    # Kept on the phone, and listed as waiting.
    page.wait_for_url(re.compile(r"/\?queued="))
    expect(page.locator("#outbox-notice")).to_have_text("已保存在本机,联网后自动提交")
    expect(page.locator("#outbox li")).to_have_count(1)
    expect(page.locator("#outbox li")).to_contain_text("巡查检查表")
    expect(page.locator("#outbox li")).to_contain_text("待发送")
    shot(page, "offline-2-queued")
    assert records(server, uid) == []
    page.reload()  # still offline: nothing is lost
    expect(page.locator("#outbox li")).to_have_count(1)
    # A cached form page reopened offline starts a new patrol, not the queued one again.
    page.goto(server.url + "/forms/patrol")
    page.locator("form.record-form[data-ready]").wait_for()
    assert page.locator("form.record-form").get_attribute("data-uid") != uid

    # Back in signal: sent by itself, exactly once.
    page.goto(server.url + "/")
    context.set_offline(False)
    watch.offline = False
    expect(page.locator("#outbox")).to_be_hidden(timeout=15_000)
    expect(page.locator(".flash", has_text="已自动提交本机保存的 1 份表")).to_be_visible()
    page.reload()
    stored = records(server, uid)
    assert len(stored) == 1
    assert stored[0].client_filled_at is not None and stored[0].client_filled_at <= stored[0].created_at
    assert cases_of(server, uid) == 1  # the failed item's corrective action

    page.goto(server.url + f"/records/{uid}")
    expect(page.locator(".form-head")).to_contain_text("本机填写于")
    fault = page.locator(".view-item.is-fault")
    expect(fault).to_contain_text(NOTE)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=fault.locator("img").element_handle())
    expect(page.locator(".view-item", has_text="发现的问题")).to_contain_text(FINDING)
    drawn = page.locator(".view-item.signature img.signature-image")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=drawn.element_handle())
    shot(page, "offline-3-record")
    pdf = page.request.get(server.url + f"/records/{uid}.pdf")
    assert pdf.ok
    path = output_dir() / "server-offline-record.pdf"
    path.write_bytes(pdf.body())
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert [line for line in listed.splitlines()[2:] if " png " in f" {line} " or "image" in line], listed
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                             check=True).stdout)
    assert "巡查人签名" in text and re.search(r"签于\d{4}-\d\d-\d\d\d\d:\d\d", text), text[-400:]


def test_a_refused_offline_submission_is_shown_with_the_form(server, phones):
    """Queued offline, refused after reconnecting (here: the shift it names was withdrawn meanwhile — the
    test edits the queued answers to an option the server rejects), and never dropped."""
    from playwright.sync_api import expect

    context, page, watch = offline_patrol(server, phones)
    fill_patrol_except(page, server)
    sign(page, "签名已保存在本机,联网后随表提交")
    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/\?queued="))
    uid = page.url.rsplit("=", 1)[1]
    page.evaluate("""async (uid) => {
        const entry = await Outbox.get(uid);
        entry.fields = entry.fields.map(([n, v]) => [n, n === "shift" ? "夜宵班" : v]);
        await Outbox.put(entry);
    }""", uid)
    context.set_offline(False)
    watch.offline = False
    row = page.locator("#outbox li")
    expect(row).to_contain_text("未被接受,请修改", timeout=15_000)
    # The page's console shows the 400 when the page sent it, not when the worker's background sync did.
    watch.errors = [e for e in watch.errors if not ("status of 400" in e and "/forms/patrol/queued" in e)]
    assert records(server, uid) == []
    shot(page, "offline-4-refused")

    # Opened from the list: the form with its answers and the server's reasons.
    row.locator("a").tap()
    page.wait_for_url(f"**/forms/patrol?queued={uid}")
    expect(page.locator(".error-box")).to_contain_text("班次")
    assert page.locator("form.record-form").get_attribute("data-uid") == uid
    assert page.locator("input[name=corridor][value=ok]").is_checked()
    tap_option(page, "shift", page.locator("input[name=shift]").first.get_attribute("value"))
    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/records/{uid}\?submitted=1$"))
    assert len(records(server, uid)) == 1
    page.goto(server.url + "/")
    expect(page.locator("#outbox")).to_be_hidden()


def test_logging_out_with_unsent_forms_asks_first(server, phones):
    from playwright.sync_api import expect

    context, page, watch = offline_patrol(server, phones)
    fill_patrol_except(page, server)
    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/\?queued="))
    # The server is reachable again, but this phone's outbox is not sent yet (a sender is stuck holding it).
    page.evaluate("() => { navigator.locks.request('outbox', () => new Promise(() => {})); }")
    context.set_offline(False)
    watch.offline = False
    messages = []

    def dismiss(dialog):
        messages.append(dialog.message)
        dialog.dismiss()
    page.once("dialog", dismiss)
    page.locator("details.account summary").tap()
    page.locator("form[data-logout] button").tap()
    expect(page.locator("details.account")).to_be_visible()
    page.wait_for_timeout(300)
    assert messages and "还有 1 份表保存在本机" in messages[0]
    assert "/login" not in page.url  # stayed logged in
