"""The built handbook (site/) served by the same process at /handbook/, behind the same login."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, send_from_directory
from werkzeug.exceptions import NotFound

from formserver.accounts.access import requires

bp = Blueprint("handbook_site", __name__)


@bp.get("/handbook")
@requires("staff")
def root_redirect():
    return redirect("/handbook/", code=301)


@bp.get("/handbook/", defaults={"path": ""})
@bp.get("/handbook/<path:path>")
@requires("staff")
def page(path: str):
    site = Path(current_app.config["HANDBOOK_SITE"])
    if not (site / "index.html").is_file():
        return render_template("error.html", status=503, title="手册尚未生成",
                               message="服务器上还没有生成手册网站:在项目目录运行 make site 后刷新本页。"), 503
    if path == "" or path.endswith("/"):
        path += "index.html"
    elif (site / path).is_dir():
        return redirect(f"/handbook/{path}/", code=301)
    try:
        return send_from_directory(site, path, max_age=300)
    except NotFound:
        return send_from_directory(site, "404.html"), 404
