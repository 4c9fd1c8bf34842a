"""Benchmark: a form on a phone with a poor connection, in headless Chromium (390×844) throttled through the
DevTools protocol to a slow-3G profile (400 ms round trip, 400 kbit/s down and up: WebPageTest's "3G Slow").

    .venv/bin/python -m tests.bench_offline [--rounds 5] [--queued 20]

- first load: the patrol form opened by a logged-in phone with nothing cached (no HTTP cache, no service
  worker): bytes transferred by the page (navigation + resources, as the browser counts them) and the time
  until the form is usable (its script has settled the submission id: `form[data-ready]`); targets ≤ 150 KB
  and ≤ 2 s, median of the rounds. The service worker then caches the app's static files in the background;
  their total is printed too, as it is not part of the page's load;
- cached reopen offline: the same form opened again with the connection off (from the worker's cache), time
  until usable; target ≤ 300 ms;
- outbox: `--queued` patrols in a phone's outbox, each with its own photo (a 640×480 JPEG of about 30 KB, what a
  phone sends after its camera app's "small" setting), sent by the page when it loads with the connection
  back, under the same throttling; the time from that load until the server has every one; target ≤ 30 s.
Targets are reported as MET/MISSED; the exit status is 0 either way. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from tests.browser import launch
from tests.formserver.app.test_e2e import PHONE, fill_patrol_except, served
from tests.server_support import PASSWORD

SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
TARGET_KB, TARGET_LOAD_S, TARGET_REOPEN_MS, TARGET_SEND_S = 150, 2.0, 300, 30.0
READY = "form.record-form[data-ready]"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def photo(seed: int) -> bytes:
    """A 640×480 JPEG with some texture, about 30 KB."""
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    image = Image.effect_noise((640, 480), 40).convert("RGB").filter(ImageFilter.GaussianBlur(2))
    image.paste((rng.randrange(256), 90, 160), (0, 0, 320, 240))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def throttle(context, page):
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    return cdp


def log_in(context, url: str):
    page = context.new_page()
    page.goto(url + "/login")
    page.locator("input[name=username]").fill("zhang")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button.primary").click()
    page.wait_for_url(url + "/")
    return page


def first_load(browser, url: str, state: dict) -> tuple[float, float]:
    """(KB transferred, seconds until usable) of the form on a phone that has nothing cached."""
    context = browser.new_context(**PHONE, storage_state=state)
    page = context.new_page()
    throttle(context, page)
    page.goto(url + "/forms/patrol", wait_until="commit")
    page.locator(READY).wait_for(timeout=30_000)
    usable = page.evaluate("performance.now()") / 1000
    page.wait_for_load_state("load")
    transferred = page.evaluate("""() => performance.getEntriesByType("navigation").concat(
        performance.getEntriesByType("resource")).reduce((n, e) => n + e.transferSize, 0)""")
    context.close()
    return transferred / 1024, usable


def reopen_offline(context, page, url: str) -> float:
    """Milliseconds until the cached form is usable with the connection off."""
    context.set_offline(True)
    page.goto(url + "/forms/patrol", wait_until="commit")
    page.locator(READY).wait_for()
    elapsed = page.evaluate("performance.now()")
    context.set_offline(False)
    return elapsed


def installed_phone(browser, url: str):
    """A logged-in phone whose service worker runs and has kept the home page and the patrol form."""
    context = browser.new_context(**PHONE)
    page = log_in(context, url)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.goto(url + "/forms/patrol")
    page.locator(READY).wait_for()
    page.goto(url + "/")
    return context, page


def queue_patrols(browser, server, state: dict, count: int):
    """A phone with `count` patrols in its outbox, each with its own submission id and photo, as offline.js
    keeps them (the answers of one patrol filled on the page). This phone runs no service worker, so the
    page sends them, throttled: a worker's background sync would send them outside the throttled page."""
    context = browser.new_context(**PHONE, storage_state=state, service_workers="block")
    page = context.new_page()
    page.goto(server.url + "/forms/patrol")
    page.locator(READY).wait_for()
    fill_patrol_except(page, server, skip="cctv")
    page.locator("label.opt:has(input[name=cctv][value='fault'])").click()
    page.locator("[name=cctv_note]").fill("B2 监控黑屏,已报工程部")
    for n in range(count):
        page.evaluate("""async ([n, bytes]) => {
            const form = document.querySelector("form.record-form");
            const uid = Outbox.newId();
            const file = new File([new Uint8Array(bytes)], "cctv-" + n + ".jpg", { type: "image/jpeg" });
            const fields = [...new FormData(form)].filter(([k, v]) => typeof v === "string"
                && !["csrf_token", "submission_id"].includes(k));
            fields.push(["cctv_photos", await Outbox.keepPhoto(file, uid, "cctv_photos")]);
            await Outbox.put({ uid, form: "patrol", title: "巡查检查表", fields, filledAt: Date.now(),
                user: document.querySelector('meta[name="user-id"]').content, status: "queued", error: "",
                link: "", problems: [] });
        }""", [n, list(photo(n))])
    return context, page


def send_after_reconnect(context, page, server, count: int) -> float:
    """Seconds from the page's next load (the connection is back) until the server has all `count`."""
    from formserver.db.models import Submission

    throttle(context, page)
    started = time.perf_counter()
    page.goto(server.url + "/", wait_until="commit")  # the outbox is sent on load
    engine = server.app.extensions["db_engine"]
    while True:
        with engine.connect() as c:
            if c.scalar(select(func.count()).select_from(Submission).where(Submission.form_id == "patrol")) >= count:
                return time.perf_counter() - started
        if time.perf_counter() - started > 300:
            raise SystemExit("the outbox was not sent within 300 s")
        time.sleep(0.1)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queued", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request would bury the figures
    from formserver import create_app  # noqa: F401  (imported before timing: the app's own start-up)

    with tempfile.TemporaryDirectory() as tmp, served(Path(tmp), {"zhang": {"display_name": "张三"}}) as server, \
            sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(**PHONE)
        log_in(context, server.url)
        state = context.storage_state()
        context.close()

        loads = [first_load(browser, server.url, state) for _ in range(args.rounds)]
        kb = statistics.median(k for k, _ in loads)
        seconds = statistics.median(s for _, s in loads)
        static = sum(f.stat().st_size for f in Path(server.app.static_folder).rglob("*") if f.is_file()) / 1024
        print(f"first load (slow-3G, nothing cached), median of {args.rounds}: {kb:.1f} KB transferred "
              f"[{verdict(kb <= TARGET_KB)} ≤ {TARGET_KB} KB], usable in {seconds:.2f} s "
              f"[{verdict(seconds <= TARGET_LOAD_S)} ≤ {TARGET_LOAD_S:g} s]; runs: "
              + ", ".join(f"{k:.0f} KB/{s:.2f} s" for k, s in loads))
        print(f"  then cached by the service worker in the background: {static:.0f} KB of static files")

        context, page = installed_phone(browser, server.url)
        reopens = [reopen_offline(context, page, server.url) for _ in range(args.rounds)]
        median = statistics.median(reopens)
        print(f"cached reopen offline, median of {args.rounds}: {median:.0f} ms "
              f"[{verdict(median <= TARGET_REOPEN_MS)} ≤ {TARGET_REOPEN_MS} ms]; runs: "
              + ", ".join(f"{r:.0f}" for r in reopens))

        context.close()
        context, page = queue_patrols(browser, server, state, args.queued)
        sent = send_after_reconnect(context, page, server, args.queued)
        print(f"{args.queued} patrols queued offline with a photo each ({len(photo(1)) / 1024:.0f} KB), sent after "
              f"reconnecting (slow-3G): {sent:.1f} s [{verdict(sent <= TARGET_SEND_S)} ≤ {TARGET_SEND_S:g} s]")
        context.close()
        browser.close()


if __name__ == "__main__":
    main()
