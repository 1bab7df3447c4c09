"""The HTTP routes beside Socket.IO: the UI bundle, images of the output tree, thumbnails, health."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

from flask import Flask, Response, abort, jsonify, redirect, request, send_file, send_from_directory

from ldm.invoke import __version__

from .config import VITE_DEV_ORIGIN
from .gallery import is_image_name
from .security import UnsafePathError, relative_inside

if TYPE_CHECKING:
    from .studio import Studio

MISSING_UI = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>InvokeAI: UI bundle missing</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The InvokeAI web UI has not been built</h1>
<p>The server is running, but the browser UI bundle is missing from <code>{path}</code>.</p>
<p>Build it from the source checkout with <code>make web</code> (needs Node.js 20 and npm), then reload this page.</p>
</body></html>
"""

YEAR = 365 * 24 * 3600

# Anti-framing, for every response: no other page may put the studio (or one of its images) in a frame.
FRAME_HEADERS = {"X-Frame-Options": "DENY"}
NO_FRAMING = "frame-ancestors 'none'"
_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$")


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (``'sha256-...'``) for each inline ``<script>`` of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def content_security_policy(html: bytes, host: str = "", allow_eval: bool = False) -> str:
    """The policy for one HTML page the studio serves (the UI, the missing-UI page, a future /docs).

    Scripts: the page's own files plus exactly its inline scripts (by hash), so an injected inline
    script never runs. ``allow_eval`` adds ``'unsafe-eval'`` for the desktop window, whose pywebview
    bridge evaluates strings in the page (its API stubs and every call's return value).
    Styles may be inline (React's style attributes); images, fetches and workers may be data: and
    blob: URLs, which the canvas and the outpainting composer make. The WebSocket's own origin is
    named explicitly for WebKit versions whose ``'self'`` does not cover ws:.
    """
    script = ["'self'", *inline_script_hashes(html)] + (["'unsafe-eval'"] if allow_eval else [])
    connect = ["'self'", "data:", "blob:"]
    if host and _HOST.match(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(script),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src " + " ".join(connect),
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        NO_FRAMING,
    ])


def html_page(html: str | bytes, allow_eval: bool = False) -> Response:
    """An HTML response carrying the page's own Content-Security-Policy (see content_security_policy)."""
    body = html.encode() if isinstance(html, str) else html
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy(body, request.host, allow_eval)
    response.headers["Cache-Control"] = "no-cache"
    return response


def register_routes(app: Flask, studio: Studio) -> None:
    config = studio.config

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        for name, value in FRAME_HEADERS.items():
            response.headers.setdefault(name, value)
        # Pages get their full policy from html_page; anything else at least refuses to be framed.
        response.headers.setdefault("Content-Security-Policy", NO_FRAMING)
        origin = request.headers.get("Origin")
        if origin and origin in config.cors:  # only origins the user named with --cors
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.vary.add("Origin")
        return response

    @app.get("/")
    def index() -> Response:
        if config.web_develop:
            return redirect(VITE_DEV_ORIGIN + "/")  # type: ignore[return-value]
        page = config.frontend_dir / "index.html"
        try:
            html = page.read_bytes()
        except OSError:
            return html_page(MISSING_UI.format(path=config.frontend_dir))
        return html_page(html, allow_eval=config.allow_eval)

    @app.get("/assets/<path:name>")
    def assets(name: str) -> Response:
        # Vite names assets by content hash, so they never change under one URL.
        return send_from_directory(config.frontend_dir / "assets", name, max_age=YEAR)

    @app.get("/outputs/<path:name>")
    def outputs(name: str) -> Response:
        if request.args.get("thumbnail"):
            return thumbnail_response(name)
        try:
            path = relative_inside(studio.outdir, name)
            if not path.is_file():
                abort(404)
        except (UnsafePathError, OSError):  # outside the folder, or a name the disk cannot hold
            abort(404)
        return send_file(path, max_age=0, conditional=True)

    @app.get("/thumbnails/<path:name>")
    def thumbnails(name: str) -> Response:
        if not name.endswith(".webp"):
            abort(404)
        return thumbnail_response(name[: -len(".webp")])

    def thumbnail_response(relative: str) -> Response:
        if not is_image_name(relative.rpartition("/")[2]):
            abort(404)
        try:
            path = studio.gallery.thumbnail(relative)
        except (UnsafePathError, FileNotFoundError, OSError):
            abort(404)
        return send_file(path, mimetype="image/webp", max_age=0, conditional=True)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(
            status="ok",
            version=__version__,
            model_loaded=studio.worker.loaded.is_set(),
            queue=studio.jobs.counts(),
        )

    @app.get("/<path:name>")
    def bundle_file(name: str) -> Response:
        """Files at the bundle's top level (favicon, locales, ...)."""
        if name == "index.html":
            return index()
        return send_from_directory(config.frontend_dir, name)
