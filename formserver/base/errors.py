"""Every error as a Chinese page (or JSON under /api/), never a traceback. A database that cannot be
reached answers 503: the browser keeps the typed form (the page stores drafts locally as well)."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("请求有误", "提交的内容无法处理,请返回上一页检查后重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("没有权限", "您的账号没有查看此页面的权限。如需访问,请联系主管或管理员。"),
    404: ("页面不存在", "您要找的页面或记录不存在,可能链接有误或已被删除。"),
    405: ("不支持的操作", "此页面不支持这种请求方式。"),
    409: ("内容冲突", "记录已被修改,请刷新后重试。"),
    413: ("文件太大", "上传的内容超过了大小限制,请压缩照片后重试。"),
    415: ("文件类型不支持", "只接受 JPEG、PNG 或 WebP 格式的照片。"),
    429: ("操作太频繁", "请稍后再试。"),
    500: ("服务器出错", "服务器处理时出错,已记录下来。您填写的内容保存在本机的草稿中,请稍后再提交。"),
    503: ("暂时无法服务", "数据库暂时不可用。您填写的内容仍保存在本机的草稿中,请稍后再提交。"),
}
CSRF_MESSAGE = "页面已过期或来源无法验证,请刷新页面后重试(已填写的内容保存在草稿中)。"


def wants_json() -> bool:
    # The API, and the page's own JSON calls (draft autosave): their script reads the message, not a page.
    return request.path.startswith("/api/") or request.is_json


def error_response(status: int, detail: str | None = None):
    title, text = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    if status == 413 and request.path == "/photos" and request.method == "POST":
        # A photo over MAX_CONTENT_LENGTH is refused before photos.py runs: answer as it does, {"error": text},
        # which the page's upload script shows.
        return jsonify({"error": f"{title}:{detail or text}"}), status
    if wants_json():
        return jsonify({"error": {"status": status, "title": title, "message": detail or text}}), status
    return render_template("error.html", status=status, title=title, message=detail or text), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        detail = error.description if getattr(error, "zh", False) else None
        response = error_response(error.code, detail)
        if error.code == 401 and wants_json():
            response[0].headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError):
        return error_response(400, CSRF_MESSAGE)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(error: Exception):
        app.logger.error("database error: %s", error)
        _no_user_lookup()
        return error_response(503)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error")
        _no_user_lookup()
        return error_response(500)


def _no_user_lookup() -> None:
    """If loading the logged-in user is what failed, the error page must not try again (base.html asks for
    `current_user`), or the error would escape as Flask's English 500. Flask-Login keeps it in g._login_user."""
    if "_login_user" not in g:
        g._login_user = AnonymousUserMixin()


def zh_abort(status: int, message: str):
    """abort() with a Chinese message shown to the user."""
    from werkzeug.exceptions import default_exceptions

    error = default_exceptions[status](message)
    error.zh = True
    raise error
