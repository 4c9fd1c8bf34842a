"""Photos for failed check items and photo items: uploaded as soon as they are chosen (so a locked phone
loses nothing), checked by their bytes, not their name, and kept in the database."""

from __future__ import annotations

import hashlib
import uuid

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.base.inputs import canonical_uid
from formserver.db.models import Photo, Submission
from formserver.records import signatures, store
from handbook.formmodel import Form

bp = Blueprint("photos", __name__)
KINDS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
FILE_PREFIX = "__file__"  # form-data name of a file input posted without JavaScript: __file__<field name>


class PhotoError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_photo(upload: FileStorage) -> tuple[bytes, str]:
    limit = current_app.config["PHOTO_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if not data:
        raise PhotoError(400, "照片是空文件")
    if len(data) > limit:
        size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"
        raise PhotoError(413, f"照片超过 {size},请压缩后再上传")
    actual = sniff(data[:16])
    if actual is None:
        raise PhotoError(415, "只接受 JPEG、PNG 或 WebP 格式的照片,这个文件不是图片")
    declared = (upload.mimetype or "").lower()
    declared = "image/jpeg" if declared in ("image/jpg", "image/pjpeg") else declared
    if declared.startswith("image/") and declared != actual:
        raise PhotoError(415, f"文件声明为 {declared},实际内容是 {KINDS[actual]} 图片:文件类型与内容不符")
    return data, actual


def _photo_items(form: Form) -> set[str]:
    names = set()
    for item in form.all_items():
        if item.kind == "photo":
            names.add(item.id)
        elif item.kind == "check":
            names.add(f"{item.id}_photos")
        elif item.kind == "table":
            names.update(f"{c.id}_photos" for c in item.columns if c.kind == "check")
    return names


def save(upload: FileStorage, submission_uid: str, item_id: str, uid: str | None = None) -> Photo:
    data, content_type = read_photo(upload)
    photo = Photo(uid=uid or str(uuid.uuid4()), submission_uid=submission_uid, user_id=current_user.id, item_id=item_id,
                  content_type=content_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data)
    with db.write() as w:
        w.add(photo)
    return photo


def store_uploads(form: Form, formdata: MultiDict, submission_uid: str) -> str:
    """Photos posted with the form itself (no JavaScript): stored, and their ids added to the form data.
    Returns an error message, or '' when all were fine."""
    allowed = _photo_items(form)
    for key in request.files:
        if not key.startswith(FILE_PREFIX):
            continue
        name = key[len(FILE_PREFIX):]
        if name.split("-")[-1] not in allowed:
            continue
        for upload in request.files.getlist(key):
            if not upload.filename:
                continue
            try:
                photo = save(upload, submission_uid, name)
            except PhotoError as error:
                return error.message
            formdata.add(name, photo.uid)
    return ""


@bp.post("/photos")
@requires("staff")
def upload():
    upload = request.files.get("file")
    uid = canonical_uid(request.form.get("submission_id"))
    item = request.form.get("item", "")[:64]
    if upload is None or uid is None or not item:
        return jsonify({"error": "缺少照片或表单信息"}), 400
    # A photo taken offline comes with the id the phone gave it: sending it again (a lost answer) is no
    # second photo.
    client_id = canonical_uid(request.form.get("id")) if request.form.get("id") else None
    if request.form.get("id") and client_id is None:
        return jsonify({"error": "照片编号格式不正确"}), 400
    if client_id:
        known = db.session().scalar(select(Photo).where(Photo.uid == client_id))
        if known is not None:
            if known.user_id != current_user.id or known.submission_uid != uid:
                return jsonify({"error": "照片编号已被占用"}), 409
            return jsonify({"id": known.uid, "url": f"/photos/{known.uid}", "size": known.size}), 200
    try:
        if signatures.is_image_name(item):  # a signature pad's drawing: a PNG, checked by decoding it
            photo = signatures.save(upload.stream.read(signatures.MAX_BYTES + 1), uid, item, current_user.id,
                                    client_id)
        else:
            photo = save(upload, uid, item, client_id)
    except (PhotoError, signatures.SignatureError) as error:
        return jsonify({"error": error.message}), error.status
    return jsonify({"id": photo.uid, "url": f"/photos/{photo.uid}", "size": photo.size}), 201


@bp.get("/photos/<uid:uid>")
@requires("staff")
def show(uid: str):
    session = db.session()
    photo = session.scalar(select(Photo).where(Photo.uid == uid))
    if photo is None:
        zh_abort(404, "照片不存在")
    if photo.user_id != current_user.id:
        submission = session.scalar(select(Submission).where(Submission.uid == photo.submission_uid))
        if submission is None or not store.may_see(current_user.user, submission):
            zh_abort(404, "照片不存在")
    response = Response(photo.data, mimetype=photo.content_type)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["Content-Disposition"] = "inline"
    return response
