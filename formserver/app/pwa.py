"""The form server as an installable web app: its manifest, its service worker (served from the root so it
controls every page, versioned by the static files it caches) and the page shown offline for a page never
opened before. What the worker does is in templates/sw.js; the outbox it replays in static/outbox.js."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, url_for

from formserver.accounts.access import public

bp = Blueprint("pwa", __name__)


@lru_cache(maxsize=1)
def _static_files(folder: str) -> tuple[tuple[str, ...], str]:
    """Every static file (the app's CSS, scripts, icons: 100 KB or so) and a digest of their contents: a
    changed file makes a new worker, which caches them afresh and drops the old copies."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return tuple(p.relative_to(root).as_posix() for p in files), digest.hexdigest()[:16]


def assets() -> tuple[list[str], str]:
    files, version = _static_files(current_app.static_folder)
    return [url_for("static", filename=name) for name in files], version


@bp.get("/sw.js")
@public
def service_worker():
    urls, version = assets()
    body = render_template("sw.js", assets=urls, version=version, offline_url=url_for("pwa.offline"))
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # the browser checks for a new worker on each visit
    return response


@bp.get("/manifest.webmanifest")
@public
def manifest():
    org = current_app.extensions["catalogue"].handbook.organisation
    icon = lambda size, purpose="any": {  # noqa: E731
        "src": url_for("static", filename=f"icons/icon-{size}{'-maskable' if purpose == 'maskable' else ''}.png"),
        "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
    body = {"name": f"{org.short_name or org.name} · 表单", "short_name": "客服表单", "lang": "zh-CN",
            "start_url": url_for("fill.home"), "scope": "/", "display": "standalone",
            "background_color": "#f4f6f8", "theme_color": "#102a43",
            "description": "填写巡查、交接班、投诉等表单;没有网络时也能填写,联网后自动提交。",
            "icons": [icon(192), icon(512), icon(512, "maskable")]}
    response = current_app.response_class(current_app.json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/offline")
@public
def offline():
    """Cached when the worker installs: shown for a page opened offline that was never opened online."""
    return render_template("offline.html")
