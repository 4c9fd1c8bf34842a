"""Drawn signatures: the pad's PNG is checked by decoding it (Chinese reasons when it is not a whole PNG, too big
or too large), uploaded as the stroke ends and kept with who drew it and when; a required signature on the web
form needs it (the API may send the name alone, or the name and the PNG as a data URI); the record page, its
PDF and the exports show it; the paper form keeps its blank signature lines."""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import subprocess
import uuid
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from formserver.db.models import Photo, User
from formserver.forms.webforms import DRAWING_REQUIRED
from formserver.records import signatures
from formserver.records.signatures import SignatureError, check_png
from tests.formserver.api.test_api import Api, make_token
from tests.server_support import csrf_of, new_form, patrol_values, person
from tests.server_values import submit, submitted

pytestmark = pytest.mark.usefixtures("cheap_passwords")


def png(size: tuple[int, int] = (600, 200), strokes: bool = True) -> bytes:
    """A signature as the pad makes it: dark strokes on a transparent canvas."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if strokes:
        for x in range(20, size[0] - 20):
            image.putpixel((x, size[1] // 2 + (x // 7) % 20 - 10), (17, 17, 17, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG of a large size yet small in bytes (every row blank compresses to almost nothing)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    rows = zlib.compress(b"\x00" * ((width + 7) // 8 + 1) * height, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 20), (255, 255, 255)).save(out, "JPEG")
    return out.getvalue()


def noisy_png(size: tuple[int, int]) -> bytes:
    """Random pixels do not compress: over 200 KB within the allowed dimensions."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# -- the PNG check ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "status", "message"), [
    (b"", 400, "签名图片是空的"),
    (b"just text, not an image", 415, "须为 PNG 格式"),
    (jpeg(), 415, "须为 PNG 格式"),
    (png()[:300], 415, "已损坏或不完整"),  # truncated: the header reads, the rows do not
    (png()[:-20], 415, "已损坏或不完整"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 415, "已损坏或不完整"),
    (huge_png(2001, 400), 413, "2001×400 像素,超过 2000×1000"),
    (huge_png(800, 1001), 413, "超过 2000×1000"),
    (noisy_png((300, 250)), 413, "超过 200 KB"),
], ids=["empty", "text", "jpeg", "truncated-header", "truncated-end", "garbage", "too-wide", "too-tall", "too-big"])
def test_a_drawing_must_be_a_whole_png_within_the_limits(data, status, message):
    with pytest.raises(SignatureError) as refused:
        check_png(data)
    assert refused.value.status == status and message in refused.value.message


def test_a_pads_png_passes():
    assert check_png(png()) == (600, 200)
    assert check_png(huge_png(2000, 1000)) == (2000, 1000)


# -- the web form ---------------------------------------------------------------------------------


@pytest.fixture
def drawn(app, monkeypatch):
    """The web form as configured by default: a required signature must be drawn."""
    monkeypatch.setitem(app.config, "SIGNATURE_DRAWING_REQUIRED", True)
    return app


@pytest.fixture
def staff(app):
    return person(app, "zhang", name="张三")


def upload(client, uid: str, item: str = "inspector_sign_image", data: bytes | None = None, mimetype="image/png"):
    token = csrf_of(client.get("/").get_data(as_text=True))
    return client.post("/photos", headers={"X-CSRFToken": token}, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(png() if data is None else data), "signature.png", mimetype),
                             "submission_id": uid, "item": item})


def sign_patrol(app, client, **changes) -> tuple[str, str]:
    """A patrol submitted with its inspector's drawn signature: (record id, drawing id)."""
    _html, csrf, uid = new_form(client, "patrol")
    drawing = upload(client, uid).json["id"]
    data = {"csrf_token": csrf, "submission_id": uid, **patrol_values(app, inspector_sign_image=drawing, **changes)}
    response = client.post("/forms/patrol", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return uid, drawing


def values_of(app, uid: str) -> dict:
    from formserver.db.models import Revision, Submission

    with app.extensions["db_sessions"]() as session:
        return session.scalars(select(Revision.values).join(Submission).where(Submission.uid == uid)
                               .order_by(Revision.number.desc())).first()


def test_the_form_page_has_the_pad_and_the_typed_name(drawn, staff):
    html = new_form(staff, "patrol")[0]
    assert 'data-signature-for="inspector_sign"' in html
    assert re.search(r'<input type="hidden" name="inspector_sign_image" value=""', html)
    assert "signature.js" in html and "<canvas" in html and ">清除</button>" in html
    assert 'id="inspector_sign"' in html  # the signer's name is still typed
    assert "<noscript>" in html and "无法手写签名" in html


def test_a_required_signature_needs_its_drawing_on_the_web_form(drawn, staff):
    response, uid = submit(staff, "patrol", patrol_values(drawn))
    assert response.status_code == 400
    assert DRAWING_REQUIRED in response.get_data(as_text=True)
    assert values_of(drawn, uid) is None


def test_a_drawn_signature_is_stored_with_who_and_when_and_shown_on_the_record(drawn, staff):
    uid, drawing = sign_patrol(drawn, staff)
    values = values_of(drawn, uid)
    assert values["inspector_sign"] == "张三" and values["inspector_sign_image"] == drawing
    with drawn.extensions["db_sessions"]() as session:
        photo = session.scalars(select(Photo).where(Photo.uid == drawing)).one()
        assert (photo.item_id, photo.content_type, photo.submission_uid) == ("inspector_sign_image", "image/png", uid)
        signer = session.scalars(select(User.display_name).where(User.id == photo.user_id)).one()
        assert signer == "张三" and photo.created_at is not None
    page = staff.get(f"/records/{uid}").get_data(as_text=True)
    assert f'<img class="signature-image" src="/photos/{drawing}"' in page
    assert re.search(r"张三 <span class=\"muted small\">· 手写签名于 \d{4}-\d\d-\d\d \d\d:\d\d", page)
    assert staff.get(f"/photos/{drawing}").data.startswith(b"\x89PNG")


@pytest.mark.parametrize(("data", "mimetype", "status", "message"), [
    (jpeg(), "image/jpeg", 415, "须为 PNG 格式"),
    (png()[:300], "image/png", 415, "已损坏或不完整"),
    (huge_png(2400, 300), "image/png", 413, "超过 2000×1000"),
])
def test_the_upload_refuses_what_is_not_a_pads_png(drawn, staff, data, mimetype, status, message):
    response = upload(staff, new_form(staff, "patrol")[2], data=data, mimetype=mimetype)
    assert response.status_code == status and message in response.json["error"]


def test_a_photo_or_someone_elses_drawing_cannot_pass_for_ones_signature(drawn, staff):
    _html, _csrf, uid = new_form(staff, "patrol")
    photo = upload(staff, uid, item="cctv_photos", data=jpeg(), mimetype="image/jpeg").json["id"]
    response, _ = submit(staff, "patrol", patrol_values(drawn, inspector_sign_image=photo))
    assert response.status_code == 400 and "不是为这个签名项上传的" in response.get_data(as_text=True)
    colleague = person(drawn, "wu", name="吴六")
    theirs = upload(colleague, new_form(colleague, "patrol")[2]).json["id"]
    response, _ = submit(staff, "patrol", patrol_values(drawn, inspector_sign_image=theirs))
    assert response.status_code == 400 and "不属于您" in response.get_data(as_text=True)


def test_typed_signatures_only_when_drawing_is_not_required(app, staff):
    uid = submitted(staff, "patrol", patrol_values(app))  # the tests' default: SIGNATURE_DRAWING_REQUIRED off
    assert values_of(app, uid)["inspector_sign"] == "张三" and "inspector_sign_image" not in values_of(app, uid)


def test_a_correction_keeps_the_signers_drawing(drawn, staff):
    uid, drawing = sign_patrol(drawn, staff)
    boss = person(drawn, "li", role="supervisor", name="李主管")
    page = boss.get(f"/records/{uid}/correct").get_data(as_text=True)
    assert f'name="inspector_sign_image" value="{drawing}"' in page
    data = {"csrf_token": csrf_of(page), "base_revision": "1", "reason": "补填",
            **patrol_values(drawn, inspector_sign_image=drawing, patrol_time="10:00")}
    assert boss.post(f"/records/{uid}/correct", data=data).status_code == 303
    assert values_of(drawn, uid)["inspector_sign_image"] == drawing


# -- the record's PDF, exports ----------------------------------------------------------------------------


def test_the_records_pdf_prints_the_drawing_at_the_signature_line(drawn, staff, tmp_path):
    uid, drawing = sign_patrol(drawn, staff)
    response = staff.get(f"/records/{uid}.pdf")
    assert response.status_code == 200
    path = tmp_path / "record.pdf"
    path.write_bytes(response.data)
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    images = [line.split() for line in listed.splitlines()[2:] if line.strip()]
    assert any(row[3:5] == ["600", "200"] for row in images), listed  # the pad's PNG, at its own size
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                             check=True).stdout)
    with drawn.extensions["db_sessions"]() as session:
        at = session.scalars(select(Photo.created_at).where(Photo.uid == drawing)).one()
    local = drawn.extensions["catalogue"].local(at).strftime("%Y-%m-%d%H:%M")
    assert "巡查人签名" in text and "张三" in text and f"签于{local}" in text


def test_the_blank_form_keeps_its_signature_lines(drawn, staff):
    from handbook.pdf.html import form_html

    html = form_html(drawn.extensions["catalogue"].handbook, "patrol")
    assert html.count('<span class="sign-line filled"></span>') == 2 and '<img class="sign-image"' not in html


def test_exports_say_the_signature_was_drawn(drawn, staff):
    uid, _drawing = sign_patrol(drawn, staff)
    boss = person(drawn, "li", role="supervisor", name="李主管")
    response = boss.get("/records/export.csv?form=patrol")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    record = dict(zip(rows[0], next(r for r in rows if r[0] == uid), strict=True))
    assert record["巡查人签名"] == "张三(已手写签名)"


# -- the JSON API ---------------------------------------------------------------------------------------


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_the_api_takes_a_signature_with_its_drawing_once_per_submission(drawn):
    api = Api(drawn, make_token(drawn))
    uid = str(uuid.uuid4())
    values = patrol_values(drawn, inspector_sign={"name": "张三", "image": data_uri(png())})
    first = api.submit("patrol", values, uid)
    assert first.status_code == 201, first.json
    stored = first.json["values"]
    assert stored["inspector_sign"] == "张三" and uuid.UUID(stored["inspector_sign_image"])
    again = api.submit("patrol", values, uid)  # a retry: the same drawing id, so the same content
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["values"]["inspector_sign_image"] == stored["inspector_sign_image"]
    with drawn.extensions["db_sessions"]() as session:
        photos = session.scalars(select(Photo).where(Photo.item_id == "inspector_sign_image")).all()
        assert [(p.uid, p.submission_uid) for p in photos] == [(stored["inspector_sign_image"], uid)]


def test_the_api_takes_the_name_alone(drawn):
    api = Api(drawn, make_token(drawn))
    response = api.submit("patrol", patrol_values(drawn))
    assert response.status_code == 201 and "inspector_sign_image" not in response.json["values"]


@pytest.mark.parametrize(("signature", "message"), [
    ({"name": "张三", "image": "data:image/png;base64,!!!"}, "不是有效的 base64"),
    ({"name": "张三", "image": "data:image/jpeg;base64,AAAA"}, "PNG 的 data URI"),
    ({"name": "张三", "image": data_uri(png()[:300])}, "已损坏或不完整"),
    ({"name": "张三", "image": data_uri(huge_png(3000, 200))}, "超过 2000×1000"),
    ({"name": "张三", "image": data_uri(b"GIF89a" + b"\x00" * 30)}, "须为 PNG 格式"),
    ({"name": "张三", "picture": "x"}, "签名应为"),
], ids=["base64", "jpeg-uri", "truncated", "too-large", "gif", "unknown-key"])
def test_the_api_refuses_a_bad_drawing_in_chinese(drawn, signature, message):
    api = Api(drawn, make_token(drawn))
    response = api.submit("patrol", patrol_values(drawn, inspector_sign=signature))
    assert response.status_code == 422
    assert any(message in m for m in response.json["error"]["fields"]["inspector_sign"]), response.json


def test_the_openapi_document_describes_the_drawing(drawn):
    api = Api(drawn, make_token(drawn))
    schema = api.get("/openapi.json").json["components"]["schemas"]["values-patrol"]["properties"]
    assert schema["inspector_sign_image"]["format"] == "uuid"
    shapes = schema["inspector_sign"]["anyOf"]
    assert shapes[0]["type"] == "string" and shapes[1]["properties"]["image"]["pattern"].startswith("^data:image/png")
    assert signatures.MAX_BYTES == 200 * 1024
