"""Bad input found by probing the running server (issue 16), each a regression test through the API and the web
form, on SQLite and PostgreSQL: deep JSON, lone surrogates, submission ids in upper case, absurd dates, control
and bidi characters, error amplification, full-width digits. None may answer 500 or store a wrong record."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from formserver.base.inputs import MAX_JSON_DEPTH, bounded_json, canonical_uid, clean_text, number_text
from formserver.db.models import Photo, Revision, Submission
from tests.formserver.api.test_api import Api, make_token
from tests.server_support import form_post, new_form, patrol_values, person

pytestmark = pytest.mark.usefixtures("cheap_passwords")


class _Window(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("日期须在")

    __hash__ = str.__hash__


ANY_WINDOW = _Window("日期须在 … 之间")


@pytest.fixture
def api(app) -> Api:
    return Api(app, make_token(app))


def stored(app: Flask) -> list[tuple[str, dict]]:
    with app.extensions["db_sessions"]() as db:
        return [(s.uid, r.values) for s, r in db.execute(
            select(Submission, Revision).join(Revision, Revision.submission_id == Submission.id))]


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and {"status", "message"} <= set(body["error"]), body
    assert body["error"]["status"] == response.status_code
    return body["error"]


# -- units: the rules of formserver.base.inputs --------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "clean"), [
    ("\u202egnp.exe", "gnp.exe"), ("a\x00b\x9fc", "abc"), ("\u2066x\u2069\u200e\u200f", "x"), ("a\ufeffb", "ab"),
    ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"), ("❤\ufe0f", "❤\ufe0f"), ("第一行\n\t第二行", "第一行\n\t第二行"),
    ("张三", "张三"),
])
def test_clean_text_strips_controls_and_bidi_but_keeps_zwj_and_emoji(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize(("raw", "number"), [
    ("５", "5"), ("１２．５", "12.5"), ("－３", "-3"), (" 7 ", " 7 "), ("1e2", "1e2"),
    ("1_000", None), ("٣", None), ("1,000", None), ("NaN", None), ("Infinity", None), ("", None),
])
def test_numbers_take_full_width_digits_and_refuse_underscores_and_other_scripts(raw, number):
    assert number_text(raw) == number


def test_canonical_uid():
    uid = uuid.uuid4()
    assert canonical_uid(str(uid).upper()) == str(uid) == canonical_uid(str(uid))
    for bad in (str(uid.hex), "{" + str(uid) + "}", "urn:uuid:" + str(uid), "x" * 36, 36, None):
        assert canonical_uid(bad) is None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deep_json_is_refused_without_recursing(depth):
    with pytest.raises(ValueError, match="嵌套过深"):
        bounded_json("[" * depth + "]" * depth)
    assert bounded_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)


# -- through the API and the web form ------------------------------------------------------------------------

@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_values_answer_400_in_chinese(app, api, opener):
    closer = "]" if opener == "[" else "}"
    for depth in (50, 50_000, 100_000):
        nested = opener * depth + "1" + closer * depth
        body = json.dumps({"form": "patrol", "submission_id": str(uuid.uuid4()), "values": {"inspector": 0}})
        body = body.replace('"inspector": 0', f'"inspector": {nested}')
        response = api.client.post("/api/v1/submissions", headers=api.headers, data=body,
                                   content_type="application/json")
        assert response.status_code == 400, depth
        assert "嵌套过深" in error_of(response)["message"]
    assert stored(app) == []


def test_a_body_that_is_not_json_answers_400(api):
    response = api.client.post("/api/v1/submissions", headers=api.headers, data=b"{\"form\": ",
                               content_type="application/json")
    assert response.status_code == 400 and "JSON" in error_of(response)["message"]


def test_a_lone_surrogate_is_refused_naming_the_field(app, api):
    for bad in ("\\ud800", "张\\udfff三"):  # JSON escapes: Python's json reads them as lone surrogates
        body = json.dumps({"form": "patrol", "submission_id": str(uuid.uuid4()),
                           "values": patrol_values(app, inspector="HERE")}).replace("HERE", bad)
        response = api.client.post("/api/v1/submissions", headers=api.headers, data=body,
                                   content_type="application/json")
        assert response.status_code == 422, response.get_data(as_text=True)
        assert list(error_of(response)["fields"]) == ["inspector"]
    assert stored(app) == []


def test_a_lone_surrogate_in_a_draft_is_refused(app):
    staff = person(app, "li")
    _html, csrf, uid = new_form(staff, "patrol")
    response = staff.put(f"/drafts/{uid}", data='{"form": "patrol", "fields": [["inspector", "\\ud800"]]}',
                         headers={"X-CSRFToken": csrf}, content_type="application/json")
    assert response.status_code == 400


def test_the_web_form_cannot_post_a_surrogate(app):
    # A browser encodes what it is given as UTF-8; an escape of bytes that are not UTF-8 stays as typed.
    staff = person(app, "li")
    _html, csrf, uid = new_form(staff, "patrol")
    body = "&".join(f"{k}={v}" for k, v in form_post(patrol_values(app, inspector="X"), csrf, uid).items()
                    if k != "inspector")
    response = staff.post("/forms/patrol", data=(body + "&inspector=%ED%A0%80").encode(),
                          content_type="application/x-www-form-urlencoded")
    assert response.status_code == 303
    [(_, values)] = stored(app)
    assert values["inspector"] == "%ED%A0%80"


def test_a_submission_id_in_upper_case_is_the_same_submission(app, api):
    uid = str(uuid.uuid4())
    values = patrol_values(app)
    first = api.submit("patrol", values, uid.upper())
    assert first.status_code == 201 and first.get_json()["submission_id"] == uid
    again = api.submit("patrol", values, uid)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert api.submit("patrol", values, uid.upper()).headers.get("Idempotent-Replayed") == "true"
    assert api.get(f"/submissions/{uid.upper()}").status_code == 200
    assert [u for u, _ in stored(app)] == [uid]


def test_the_web_form_canonicalises_the_id_of_record_draft_and_photo(app, api):
    staff = person(app, "li")
    _html, csrf, uid = new_form(staff, "patrol")
    upper = uid.upper()
    assert staff.put(f"/drafts/{upper}", json={"form": "patrol", "fields": [["inspector", "李"]]},
                     headers={"X-CSRFToken": csrf}).status_code == 200
    assert staff.get(f"/forms/patrol?draft={upper}").status_code == 200
    photo = staff.post("/photos", data={"submission_id": upper, "item": "cctv_photos", "csrf_token": csrf,
                                        "file": (open_png(), "p.png")}, content_type="multipart/form-data")
    assert photo.status_code == 201, photo.get_data(as_text=True)
    values = patrol_values(app, cctv="fault", cctv_note="黑屏", cctv_photos=[photo.get_json()["id"]])
    response = staff.post("/forms/patrol", data=form_post(values, csrf, upper))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert staff.post("/forms/patrol", data=form_post(values, csrf, uid)).status_code == 303  # a replay
    assert [u for u, _ in stored(app)] == [uid]
    assert staff.get(f"/records/{upper}").status_code == 200
    with app.extensions["db_sessions"]() as db:
        assert db.scalar(select(Photo.submission_uid)) == uid
    # the same id in upper case from another user is refused as theirs, not stored twice
    assert api.submit("patrol", patrol_values(app), upper).status_code == 409


def open_png():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    out.seek(0)
    return out


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"])
def test_absurd_dates_are_refused_both_ways(app, api, day):
    response = api.submit("patrol", patrol_values(app, date=day))
    assert response.status_code == 422
    assert "日期须在" in error_of(response)["fields"]["date"][0]
    staff = person(app, f"li{day[:4]}")
    _html, csrf, uid = new_form(staff, "patrol")
    page = staff.post("/forms/patrol", data=form_post(patrol_values(app, date=day), csrf, uid))
    assert page.status_code == 400 and "日期须在" in page.get_data(as_text=True)
    assert day in page.get_data(as_text=True)  # what was typed is kept
    assert stored(app) == []


def test_a_date_in_a_register_row_has_the_window_too(app, api):
    from tests.server_payloads import valid_values

    form, register, column = next((f, i, c) for f in app.extensions["catalogue"].forms.values()
                                  for i in f.all_items() if i.kind == "table"
                                  for c in i.columns if c.kind in ("date", "datetime"))
    values = valid_values(form, fault_notes=True)
    values[register.id][0][column.id] = "0001-01-01" if column.kind == "date" else "0001-01-01T00:00"
    response = api.submit(form.id, values)
    assert response.status_code == 422
    assert error_of(response)["fields"] == {f"{register.id}-0-{column.id}": [ANY_WINDOW]}


def test_a_date_item_may_set_its_own_window(app, monkeypatch):
    import datetime as dt

    from formserver.forms.webforms import date_window
    from handbook.datebounds import resolve
    from handbook.formmodel import Item

    today = app.extensions["catalogue"].now().date()
    with app.test_request_context():
        assert date_window(Item("d", "date", "日期", 1)) == (resolve("-2y", today), resolve("+1y", today))
        own = Item("d", "date", "日期", 1, earliest="-7d", latest="today")
        assert date_window(own) == (today - dt.timedelta(days=7), today)
        fixed = Item("d", "date", "日期", 1, earliest="2026-01-01", latest="+30d")
        assert date_window(fixed) == (dt.date(2026, 1, 1), today + dt.timedelta(days=30))
        monkeypatch.setitem(app.config, "DATE_EARLIEST", "-6m")  # FORMSERVER_DATE_EARLIEST=-6m
        assert date_window(Item("d", "date", "日期", 1))[0] == resolve("-6m", today)


@pytest.mark.parametrize(("text", "day"), [
    ("today", "2026-12-06"), ("-2y", "2024-12-06"), ("+1y", "2027-12-06"), ("-1m", "2026-11-06"),
    ("+30d", "2027-01-05"), ("2026-01-01", "2026-01-01"), ("-9999y", "0001-01-01"), ("两年前", None),
    ("2026-13-01", None), ("-2w", None),
])
def test_date_bounds(text, day):
    import datetime as dt

    from handbook.datebounds import resolve

    found = resolve(text, dt.date(2026, 12, 6))
    assert (found.isoformat() if found else None) == day


def test_a_date_bound_at_month_end_keeps_within_the_month():
    import datetime as dt

    from handbook.datebounds import resolve

    assert resolve("-1m", dt.date(2026, 3, 31)) == dt.date(2026, 2, 28)
    assert resolve("+1y", dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


def test_control_and_bidi_characters_are_stripped_everywhere(app, api):
    values = patrol_values(app, inspector="\u202egnp.exe", cctv="fault", cctv_note="黑\x00屏\x9f 👨\u200d🔧")
    response = api.submit("patrol", values)
    assert response.status_code == 201
    assert response.get_json()["values"]["inspector"] == "gnp.exe"
    staff = person(app, "li")
    _html, csrf, uid = new_form(staff, "patrol")
    assert staff.post("/forms/patrol", data=form_post(values, csrf, uid)).status_code == 303
    for _uid, stored_values in stored(app):
        assert stored_values["inspector"] == "gnp.exe"
        assert stored_values["cctv_note"] == "黑屏 👨\u200d🔧"


def test_a_required_text_of_only_invisible_characters_is_missing(app, api):
    for blank in ("\u202e", "   ", "\x00"):
        response = api.submit("patrol", patrol_values(app, inspector=blank))
        assert response.status_code == 422 and "inspector" in error_of(response)["fields"]
    assert stored(app) == []


def test_a_user_name_with_control_characters_is_refused(app):
    result = app.test_cli_runner().invoke(args=["create-user", "bad\u202eman", "--role", "staff"],
                                          input="correct horse battery\n")
    assert result.exit_code != 0 and "控制字符" in result.output


def test_many_unknown_keys_answer_a_short_422(app, api):
    values = {**patrol_values(app), **{f"k{n}": "x" for n in range(200_000)}}
    response = api.submit("patrol", values)
    assert response.status_code in (400, 413, 422)
    assert len(response.get_data()) < 2_000
    few = {**patrol_values(app), **{f"k{n}": "x" for n in range(80)}}
    response = api.submit("patrol", few)
    error = error_of(response)
    assert response.status_code == 422 and len(error["fields"]) <= 50 and "共 80 项有误" in error["message"]
    assert len(response.get_data()) < 10_000
    assert stored(app) == []


def test_full_width_digits_are_numbers_and_dates_both_ways(app, api):
    form = app.extensions["catalogue"].forms["monthly-support-stats"]
    number = next(i for i in form.all_items() if i.id == "install_days")
    from tests.server_payloads import valid_values

    values = valid_values(form)
    values[number.id] = "１２"
    response = api.submit(form.id, values)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["values"][number.id] == 12
    for bad in ("1_000", "٣", "1,000"):
        values[number.id] = bad
        assert api.submit(form.id, values).status_code == 422, bad
    today = app.extensions["catalogue"].now().date().isoformat()
    wide = today.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    response = api.submit("patrol", patrol_values(app, date=wide, patrol_time="０９:３０"))
    assert response.status_code == 201
    assert response.get_json()["values"]["date"] == today
    assert response.get_json()["values"]["patrol_time"] == "09:30"


def test_migration_0005_lower_cases_ids_and_reports_case_duplicates(app):
    """The old schema let `ABC…` and `abc…` both in: the migration lower-cases the lone ones and reports pairs."""
    from alembic import command

    from formserver.db.migrate import alembic_config

    engine = app.extensions["db_engine"]
    api_values = patrol_values(app)
    api = Api(app, make_token(app))
    lone, twin = str(uuid.uuid4()), str(uuid.uuid4())
    for uid in (lone, twin, str(uuid.uuid4())):
        assert api.submit("patrol", api_values, uid).status_code == 201
    with engine.begin() as connection:  # what clients made before ids were canonical
        connection.execute(text("UPDATE submissions SET uid = upper(uid) WHERE uid IN (:a, :b)"),
                           {"a": lone, "b": twin})
    assert api.submit("patrol", api_values, twin).status_code == 201  # stored twice (as before the fix)
    with engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0004")
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    with engine.connect() as connection:
        uids = connection.execute(select(Submission.uid)).scalars().all()
    assert lone in uids and lone.upper() not in uids
    assert twin in uids and twin.upper() in uids  # left for a person to decide
    result = app.test_cli_runner().invoke(args=["status"])
    assert f"提交编号 {twin} 仅大小写不同" in result.output
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Submission)).scalar() == 4


def test_exports_drop_invisible_characters_of_older_records():
    from formserver.records.exports import neutralise

    assert neutralise("\u202e=1+1") == "'=1+1"  # the override hid a formula
    assert neutralise("\u202egnp.exe") == "gnp.exe"
    assert neutralise(5) == 5
