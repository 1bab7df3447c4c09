"""The HTTP APIs described: an OpenAPI 3 document at ``/openapi.json`` that spectree builds from the
routes' own pydantic bodies, and a Swagger UI page at ``/docs`` whose files we serve (no CDN)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, send_from_directory
from spectree import Response as Responses
from spectree import SpecTree

from ldm.invoke import __version__

from ..routes import html_page

DOCS_PATH = "docs"  # spectree leaves routes under /docs out of the document
SPEC_URL = "/openapi.json"
ASSETS = "docs/assets"
DESCRIPTION = ("AUTOMATIC1111's web API and OpenAI's images API, served by InvokeAI Desktop from its own queue. "
               "Off loopback, send the studio's access token as 'Authorization: Bearer TOKEN'.")
# Swagger UI's files, as the flask-openapi3-swagger package ships them.
_ASSET_FILES = ("css/swagger-ui.css", "js/swagger-ui-bundle.js", "js/swagger-ui-standalone-preset.js")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>InvokeAI Desktop: HTTP APIs</title>
<link rel="stylesheet" href="/{assets}/css/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/{assets}/js/swagger-ui-bundle.js"></script>
<script src="/{assets}/js/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"}});
</script></body></html>
"""


def swagger_ui_folder() -> Path:
    """Where the installed flask-openapi3-swagger package keeps Swagger UI (found without importing it)."""
    spec = importlib.util.find_spec("flask_openapi3_swagger")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The flask-openapi3-swagger package is missing: pip install flask-openapi3-swagger")
    return Path(list(spec.submodule_search_locations)[0]) / "templates" / "swagger"


@dataclass(frozen=True)
class ApiFamily:
    """One API as the document groups it: its tag, and the status and body of its refusals."""

    tag: str
    error_status: int
    error_model: type


class ApiDocs:
    """One per app: the API blueprints mark their routes with ``operation``; ``register`` serves the
    document and the page."""

    def __init__(self) -> None:
        self.spectree = SpecTree("flask", mode="strict", annotations=False, path=DOCS_PATH,
                                 title="InvokeAI Desktop HTTP APIs", version=__version__, description=DESCRIPTION)

    def operation(self, api: ApiFamily, json: Any = None, form: Any = None, answer: Any = None
                  ) -> Callable[[Callable[..., Any]], Any]:
        """Documents a route: its request body model, its answer's model and its API's error body. The
        handler still parses the body itself (so the errors are the API's own, A1111's or OpenAI's)."""
        responses = Responses(HTTP_200=answer, **{f"HTTP_{api.error_status}": api.error_model})
        return self.spectree.validate(json=json, form=form, resp=responses, tags=[api.tag], skip_validation=True,
                                      validation_error_status=api.error_status)

    def register(self, app: Flask) -> None:
        folder = swagger_ui_folder()
        page = PAGE.format(assets=ASSETS, spec=SPEC_URL)

        @app.get(SPEC_URL)
        def openapi_document() -> Response:
            return jsonify(self.spectree.spec)

        @app.get(f"/{DOCS_PATH}")
        def docs_page() -> Response:
            return html_page(page)

        @app.get(f"/{ASSETS}/<path:name>")
        def docs_asset(name: str) -> Response:
            if name not in _ASSET_FILES:
                abort(404)
            return send_from_directory(folder, name, max_age=3600)


__all__ = ["SPEC_URL", "ApiDocs", "ApiFamily"]
