"""The handover's two drawn signatures: the outgoing person draws 交班人签名 when submitting the form (the form has
no pad for 接班人签名, which the rules leave to the incoming person: `incoming_sign`); the incoming person draws
theirs when confirming, which writes it into the record as a new revision; without a drawing the confirmation
is refused with the reason; a supervisor taking over does not inherit the outgoing person's drawing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from formserver.db.models import Revision
from tests.formserver.operations.test_handover import handover_row, handover_values, one, person, post
from tests.formserver.records.test_signatures import upload
from tests.server_support import csrf_of, new_form

pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def drawn(app, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNATURE_DRAWING_REQUIRED", True)
    return app


def revisions(app, submission_id: int) -> list[dict]:
    with app.extensions["db_sessions"]() as session:
        return list(session.scalars(select(Revision.values).where(Revision.submission_id == submission_id)
                                    .order_by(Revision.number)))


def hand_over_drawn(app, client, **changes):
    """The outgoing person's handover, 交班人签名 drawn: (Handover row, drawing id, the form page's html)."""
    from formserver.db.models import Handover

    html, csrf, uid = new_form(client, "handover")
    drawing = upload(client, uid, item="handing_over_sign_image").json["id"]
    data = handover_values(**changes)
    data.update({"csrf_token": csrf, "submission_id": uid, "handing_over_sign_image": drawing})
    response = client.post("/forms/handover", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return one(app, select(Handover).where(Handover.submission.has(uid=uid))), drawing, html


def test_outgoing_draws_on_the_form_incoming_on_confirming(drawn):
    zhang, li = person(drawn, "zhang", "张三"), person(drawn, "li", "李四")
    handover, outgoing_drawing, html = hand_over_drawn(drawn, zhang)
    assert 'data-signature-for="handing_over_sign"' in html
    assert 'data-signature-for="taking_over_sign"' not in html and "由本人在确认时手写签名" in html
    detail = f"/handover/{handover.id}"

    page = li.get(detail).get_data(as_text=True)
    assert 'data-signature-for="taking_over_sign"' in page and f'data-uid="{handover.submission.uid}"' in page
    refused = post(li, f"{detail}/confirm", detail)
    assert refused.status_code == 400 and "请先在签名框内手写接班人签名" in refused.get_data(as_text=True)
    assert handover_row(drawn, handover.id).state == "awaiting"

    others = upload(zhang, handover.submission.uid, item="taking_over_sign_image").json["id"]
    assert post(li, f"{detail}/confirm", detail, taking_over_sign_image=others).status_code == 400  # not theirs
    mine = upload(li, handover.submission.uid, item="taking_over_sign_image").json["id"]
    assert post(li, f"{detail}/confirm", detail, taking_over_sign_image=mine).status_code == 303
    row = handover_row(drawn, handover.id)
    assert row.state == "completed" and row.taken_at is not None

    first, second = revisions(drawn, handover.submission_id)
    assert "taking_over_sign_image" not in first and first["handing_over_sign_image"] == outgoing_drawing
    assert second["taking_over_sign"] == "李四" and second["taking_over_sign_image"] == mine
    assert second["handing_over_sign_image"] == outgoing_drawing  # the outgoing person's drawing stays
    record = zhang.get(f"/records/{handover.submission.uid}").get_data(as_text=True)
    assert f'src="/photos/{outgoing_drawing}"' in record and f'src="/photos/{mine}"' in record
    assert re.search(r"李四 <span class=\"muted small\">· 手写签名于", record)
    assert "接班人确认接班并手写签名" in record  # the revision's reason


def test_a_supervisor_taking_over_does_not_sign_with_the_outgoing_drawing(drawn):
    zhang = person(drawn, "zhang", "张三")
    boss = person(drawn, "wang", "王主管", role="supervisor")
    handover, _drawing, _html = hand_over_drawn(drawn, zhang, event_unresolved="yes")
    detail = f"/handover/{handover.id}"
    response = post(boss, f"{detail}/takeover", detail, note="接手处理未解决的漏水事件")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    latest = revisions(drawn, handover.submission_id)[-1]
    assert latest["handing_over_sign"] == "王主管" and "handing_over_sign_image" not in latest


def test_confirming_without_a_drawing_when_drawings_are_off(app):
    zhang, li = person(app, "zhang", "张三"), person(app, "li", "李四")
    handover, _drawing, _html = hand_over_drawn(app, zhang)
    detail = f"/handover/{handover.id}"
    token = csrf_of(li.get(detail).get_data(as_text=True))
    assert li.post(f"{detail}/confirm", data={"csrf_token": token}).status_code == 303
    assert len(revisions(app, handover.submission_id)) == 1  # nothing drawn: the record stays as it was
