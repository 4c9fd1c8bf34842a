"""Drawn signatures: the PNG a signature pad makes, checked by decoding it (not by its name or first bytes),
kept in the photos table (who drew it, when, for which item: `<signature id>_image`), and how a record's
values point at it: the signature item's value stays the signer's typed name, `<id>_image` holds the
drawing's photo id (as a check item's `<id>_photos` hold its photos).

A drawing arrives as soon as the stroke ends, through POST /photos with item `<id>_image` (see photos.upload),
or within an API submission as a data URI (`{"name": …, "image": "data:image/png;base64,…"}`, `api_values`).
On the web form a required signature needs its drawing (`SIGNATURE_DRAWING_REQUIRED`); the API may send
the name alone, since a system posting for someone has no pad to draw on."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from formserver import db
from formserver.db.models import Photo, User
from formserver.forms.catalogue import catalogue
from handbook.formmodel import Form

bp = Blueprint("signatures", __name__)
SUFFIX = "_image"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: a PNG cut short after its pixels still lacks it
DATA_URI = "data:image/png;base64,"
MAX_BYTES = 200 * 1024  # a pad's stroke on a transparent canvas is 5–30 KB even at three device pixels per point
MAX_SIZE = (2000, 1000)  # pixels: a pad 660 CSS px wide at dpr 3, with room; bounds the decode too
# uuid5 of (submission, item, content): a retried API post stores no second copy and keeps its content digest
NAMESPACE = uuid.UUID("1b0e7d4c-6f0a-4d5e-9a51-3f1c2b7e8d90")


class SignatureError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_png(data: bytes) -> tuple[int, int]:
    """(width, height) of `data` when it is a whole PNG within the limits; SignatureError (in Chinese) if not."""
    if not data:
        raise SignatureError(400, "签名图片是空的,请重新签名")
    if len(data) > MAX_BYTES:
        raise SignatureError(413, f"签名图片超过 {MAX_BYTES // 1024} KB,请清除后重新签名")
    if not data.startswith(PNG_MAGIC):
        raise SignatureError(415, "签名图片须为 PNG 格式,这个文件不是 PNG 图片")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "PNG":
                    raise SignatureError(415, "签名图片须为 PNG 格式,这个文件不是 PNG 图片")
                width, height = image.size
                if width > MAX_SIZE[0] or height > MAX_SIZE[1]:
                    raise SignatureError(413, f"签名图片 {width}×{height} 像素,超过 {MAX_SIZE[0]}×{MAX_SIZE[1]},"
                                              "请清除后重新签名")
                image.load()  # decodes every row: a truncated or corrupt file fails here, not in the PDF
            with Image.open(io.BytesIO(data)) as again:
                again.verify()  # every chunk's CRC
        if not data.endswith(PNG_END):
            raise SignatureError(415, "签名图片已损坏或不完整,请清除后重新签名")
    except SignatureError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise SignatureError(415, "签名图片已损坏或不完整,请清除后重新签名") from None
    return width, height


def is_image_name(name: str) -> bool:
    return name.endswith(SUFFIX) and len(name) > len(SUFFIX)


def save(data: bytes, submission_uid: str, item: str, user_id: int, uid: str | None = None) -> Photo:
    """Check and store one drawing for `item` (`<signature id>_image`); with `uid`, one already stored under it
    is returned as it is (a retry)."""
    check_png(data)
    with db.write() as w:
        if uid is not None and (found := w.scalar(select(Photo).where(Photo.uid == uid))) is not None:
            return found
        photo = Photo(uid=uid or str(uuid.uuid4()), submission_uid=submission_uid, user_id=user_id, item_id=item,
                      content_type="image/png", size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data)
        w.add(photo)
    return photo


def _decode(text: Any) -> bytes:
    if not isinstance(text, str) or not text.startswith(DATA_URI):
        raise SignatureError(422, f"image 须为 PNG 的 data URI:{DATA_URI}…")
    body = text[len(DATA_URI):]
    if len(body) > MAX_BYTES * 4 // 3 + 4:
        raise SignatureError(413, f"签名图片超过 {MAX_BYTES // 1024} KB")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(422, "image 不是有效的 base64 编码") from None


def api_values(form: Form, posted: dict[str, Any], submission_uid: str,
               user_id: int) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The API's values with each signature sent as {"name": …, "image": "data:image/png;base64,…"} turned into
    the stored shape (name under the item, the stored drawing's id under `<id>_image`); errors by field."""
    values, errors = dict(posted), {}
    for item in form.all_items():
        value = posted.get(item.id)
        if item.kind != "signature" or not isinstance(value, Mapping):
            continue
        if set(value) - {"name", "image"} or not isinstance(value.get("name", ""), str):
            errors[item.id] = ["签名应为 {\"name\": 姓名, \"image\": PNG 的 data URI}"]
            continue
        try:
            data = _decode(value["image"]) if value.get("image") is not None else None
            if data is not None:
                digest = hashlib.sha256(data).hexdigest()
                uid = str(uuid.uuid5(NAMESPACE, f"{submission_uid}:{item.id}:{digest}"))
                values[item.id + SUFFIX] = save(data, submission_uid, item.id + SUFFIX, user_id, uid).uid
        except SignatureError as error:
            errors[item.id] = [error.message]
            continue
        values[item.id] = value.get("name")
    return values, errors


@dataclass(frozen=True)
class Drawn:
    uid: str
    signer: str  # the display name of the account that drew it
    at: str  # when, on the centre's clock: 2026-11-23 09:30


@bp.app_template_global()
def drawn(uid: Any) -> Drawn | None:
    """Who drew the signature image `uid`, and when (the record page prints both beside it)."""
    if not isinstance(uid, str):
        return None
    row = db.session().execute(select(Photo.uid, User.display_name, Photo.created_at)
                               .join(User, User.id == Photo.user_id).where(Photo.uid == uid)).first()
    return Drawn(row[0], row[1], _local(row[2])) if row else None


def data_uri(uid: Any) -> tuple[str, Drawn] | None:
    """The stored drawing `uid` as a data URI for the print HTML (the print fetcher fetches nothing else), with
    who drew it and when; None for an id that is not a stored PNG."""
    if not isinstance(uid, str):
        return None
    row = db.session().execute(select(Photo.data, Photo.content_type, User.display_name, Photo.created_at)
                               .join(User, User.id == Photo.user_id).where(Photo.uid == uid)).first()
    if row is None or row.content_type != "image/png":
        return None
    return (DATA_URI + base64.b64encode(row.data).decode("ascii"),
            Drawn(uid, row.display_name, _local(row.created_at)))


def _local(at: Any) -> str:
    return catalogue().local(at).strftime("%Y-%m-%d %H:%M")


def drawing_required(item_required: bool) -> bool:
    """Whether the web form wants a drawing for a signature item (deferred ones aside, see fill)."""
    return item_required and bool(current_app.config.get("SIGNATURE_DRAWING_REQUIRED", True))
