"""What Flask does not do by default: CSRF on every POST (Flask-WTF), security headers with a strict CSP
(our pages load no inline script or style), no caching of pages that show records, and compressed scripts
and styles (Flask-Compress, see COMPRESS_MIMETYPES)."""

from __future__ import annotations

from flask import Flask, request
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
compress = Compress()

APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
           "connect-src 'self'; font-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The handbook is MkDocs Material's static output, which needs its own inline bootstrap script and styles;
# it is our own build, served read-only, with everything else as strict as the app.
HANDBOOK_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
                "base-uri 'self'; frame-ancestors 'self'")


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    compress.init_app(app)

    @app.after_request  # runs before Flask-Compress's (registered earlier, so run later)
    def static_in_memory(response):
        # A static file is streamed from disk, and Flask-Compress leaves a compressed stream's file open:
        # read the (small) file in, so it is compressed whole and closed at once.
        if request.endpoint == "static" and response.direct_passthrough and response.status_code == 200:
            response.direct_passthrough = False
            response.make_sequence()
        return response

    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", HANDBOOK_CSP if request.path.startswith("/handbook/") else APP_CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "SAMEORIGIN" if request.path.startswith("/handbook/") else "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "geolocation=(), microphone=(), camera=(self)")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static" and not request.path.startswith("/handbook/"):
            h.setdefault("Cache-Control", "no-store")
        return response
