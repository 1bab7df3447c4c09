"""The HTTP routes beside Socket.IO: the UI bundle, images of the output tree, thumbnails, health."""

from __future__ import annotations

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


def register_routes(app: Flask, studio: Studio) -> None:
    config = studio.config

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
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
        if page.is_file():
            response = send_file(page, max_age=0)
            response.headers["Cache-Control"] = "no-cache"
            return response
        return Response(MISSING_UI.format(path=config.frontend_dir), mimetype="text/html")

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
        except UnsafePathError:
            abort(404)
        if not path.is_file():
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
        return send_from_directory(config.frontend_dir, name)
