"""Patrol checkpoints: a scan of a checkpoint's QR code is recorded by the server's clock and opens the patrol
form for its area, scans of one patrol share its submission id, the record lists what was scanned and missed,
and the board shows each route as 完成 / 部分 / 未巡; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from formserver.db.models import CheckpointScan
from tests.formserver.operations.board_clock import DAY, at
from tests.server_support import PASSWORD, create_user, csrf_of, form_post, patrol_values, person

pytestmark = pytest.mark.usefixtures("cheap_passwords")
F1 = "一层大堂及总服务台"


def scan(client, checkpoint_id: str) -> str:
    """Scan a checkpoint; the patrol's submission id it redirects to (a new form, or the patrol's draft)."""
    response = client.get(f"/qr/{checkpoint_id}")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    location = urlsplit(response.headers["Location"])
    assert location.path == "/forms/patrol"
    query = parse_qs(location.query)
    return (query.get("patrol") or query["draft"])[0]


def scans(app) -> list[CheckpointScan]:
    with app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(CheckpointScan).order_by(CheckpointScan.id)))


def text(response) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_a_scan_opens_the_patrol_form_for_its_area_and_the_record_shows_the_scans(app, clock):
    staff = person(app, "zhang", name="张三")
    clock(at(DAY, "09:41"))
    uid = scan(staff, "f1-desk")
    [row] = scans(app)
    cat = app.extensions["catalogue"]
    assert (row.checkpoint_id, row.area_id, row.shift, row.day, row.patrol_uid) == ("f1-desk", "f1", "early", DAY, uid)
    assert row.scanned_at == cat.utc(at(DAY, "09:41"))  # the server's clock, not the phone's
    page = staff.get(f"/forms/patrol?patrol={uid}")
    html = page.get_data(as_text=True)
    assert re.search(rf'value="{F1}"[^>]*checked|checked[^>]*value="{F1}"|<option[^>]*selected[^>]*>{F1}'
                     rf'|<option[^>]*value="{F1}"[^>]*selected', html), "the scan's area is selected"
    assert re.search(rf'name="submission_id"[^>]*value="{uid}"|value="{uid}"[^>]*name="submission_id"', html)
    assert "已记录到达 总服务台 09:41(本次巡查已扫 1/3 个点)" in text(page)
    # a second checkpoint of the area, a few minutes on: the same patrol
    clock(at(DAY, "09:48"))
    assert scan(staff, "f1-east-gate") == uid
    shown = text(staff.get(f"/forms/patrol?patrol={uid}"))
    assert "本次巡查的巡更点 部分 2/3" in shown and "已扫 总服务台" in shown and "未扫 电梯厅" in shown
    csrf = csrf_of(html)
    response = staff.post("/forms/patrol", data=form_post(patrol_values(app, date=DAY.isoformat(), area=F1),
                                                          csrf, uid))
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/records/{uid}")
    record = text(staff.get(f"/records/{uid}"))
    assert "巡更点 部分 2/3" in record
    assert "已扫 总服务台 09:41:00" in record and "已扫 东门入口 09:48:00" in record
    assert "未扫 电梯厅 一层电梯厅监控探头下方" in record
    # once that patrol is submitted, the next scan starts another one
    assert scan(staff, "f1-desk") != uid


def test_scans_of_another_area_shift_or_person_are_another_patrol(app, clock):
    zhang, li = person(app, "zhang", name="张三"), person(app, "li", name="李四")
    clock(at(DAY, "09:40"))
    first = scan(zhang, "f1-desk")
    assert scan(zhang, "garden-plaza") != first  # another area
    assert scan(li, "f1-east-gate") != first  # another person
    clock(at(DAY, "16:10"))  # the late shift
    assert scan(zhang, "f1-east-gate") != first
    clock(at(DAY + dt.timedelta(days=1), "02:10"))  # the night shift, begun on DAY
    night = scan(zhang, "f1-desk")
    assert scans(app)[-1].day == DAY and scans(app)[-1].shift == "night"
    clock(at(DAY + dt.timedelta(days=1), "02:30"))
    assert scan(zhang, "f1-lift-hall") == night


def test_a_scan_comes_back_to_the_patrols_draft(app, clock):
    staff = person(app, "zhang", name="张三")
    uid = scan(staff, "f1-desk")
    page = staff.get(f"/forms/patrol?patrol={uid}").get_data(as_text=True)
    saved = staff.put(f"/drafts/{uid}", json={"form": "patrol", "fields": [["area", F1], ["findings", "东门地面湿滑"]]},
                      headers={"X-CSRFToken": csrf_of(page)})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    response = staff.get("/qr/f1-east-gate")
    assert response.headers["Location"] == f"/forms/patrol?draft={uid}"
    resumed = staff.get(response.headers["Location"])
    assert "东门地面湿滑" in resumed.get_data(as_text=True) and "部分 2/3" in text(resumed)


def test_an_unknown_checkpoint_is_a_chinese_404(app, clock):
    staff = person(app, "zhang")
    for bad in ("nowhere", "F1-DESK", "x" * 300, "%E2%80%AE", "f1-desk.pdf"):
        response = staff.get(f"/qr/{bad}")
        assert response.status_code == 404, bad
        body = text(response)
        assert "没有编号为" in body and "巡更点" in body and "客服主管" in body, body[:500]
    assert scans(app) == []


def test_a_scan_before_login_comes_back_to_the_scan_after_it(app, clock):
    create_user(app, "zhang", display_name="张三")
    client = app.test_client()
    response = client.get("/qr/f1-desk")
    assert response.status_code == 302 and "/login?next=/qr/f1-desk" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="/qr/f1-desk"' in page
    back = client.post("/login", data={"username": "zhang", "password": PASSWORD, "next": "/qr/f1-desk",
                                       "csrf_token": csrf_of(page)})
    assert back.headers["Location"] == "/qr/f1-desk"
    assert scan(client, "f1-desk")


def route_rows(html: str) -> dict[str, str]:
    section = re.search(r'id="patrol-routes"(.*?)</section>', html, re.S).group(1)
    return {htmllib.unescape(area): f"{status} {count}" for area, status, count in re.findall(
        r'class="route-area">([^<]+)</span>\s*<span class="badge[^"]*">([^<]+)</span>\s*'
        r'<span class="route-count">([^<]+)</span>', section)}


def test_the_board_shows_each_route_done_partial_or_not_patrolled(app, clock):
    staff = person(app, "zhang", name="张三")
    clock(at(DAY, "09:40"))
    for checkpoint in ("f1-desk", "f1-east-gate", "f1-lift-hall", "f2-stairs"):
        scan(staff, checkpoint)
    scan(staff, "f1-desk")  # scanned twice: still one of three
    boss = person(app, "wang", role="supervisor", name="王主管")
    html = boss.get("/board/").get_data(as_text=True)
    rows = route_rows(html)
    assert rows[F1] == "完成 3/3"
    assert rows["二至四层商铺区"] == "部分 1/3"
    assert rows["样板间及销售中心"] == "未巡 0/2" and rows["地下停车场"] == "未巡 0/3"
    assert "完成 1 · 部分 1 · 未巡 4" in text(boss.get("/board/"))
    assert "张三 · 最后 09:40" in text(boss.get("/board/"))
    other_day = route_rows(boss.get(f"/board/?date={(DAY + dt.timedelta(days=1)).isoformat()}").get_data(as_text=True))
    assert set(other_day.values()) == {"未巡 0/3", "未巡 0/2"}
    # another team's supervisor sees only their team's patrols
    other = person(app, "zhao", role="supervisor", team="hotline")
    assert route_rows(other.get("/board/").get_data(as_text=True))[F1] == "未巡 0/3"
