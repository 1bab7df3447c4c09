"""The HTTP APIs other tools already speak: AUTOMATIC1111's ``/sdapi/v1`` and OpenAI's ``/v1``
images API. Both translate into a ``GenerationRequest`` and go through the studio's queue, so
their jobs show in the queue panel ("API ...") with their progress. ``/openapi.json`` and ``/docs``
describe them."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..studio import Studio
from .a1111 import register_a1111
from .access import ApiAccess, is_api_path
from .controlnet import register_controlnet
from .docs import ApiDocs
from .limits import body_limit
from .openai import register_openai
from .runs import ApiRuns


def register_apis(app: Flask, studio: Studio) -> ApiRuns:
    """Adds the API routes and puts ``ApiAccess`` in front of the app's (already guarded) WSGI app."""
    runs = ApiRuns(studio)
    docs = ApiDocs()
    register_a1111(app, studio, runs, docs)
    register_openai(app, studio, runs, docs)
    register_controlnet(app, studio.system_config, studio.limits, studio.worker.control_map)
    docs.register(app)  # /openapi.json and /docs (not API paths: the studio's own AccessGuard covers them)

    @app.before_request
    def api_body_limit() -> None:
        """The app's own limit is one upload; an API body may carry several, in base64 (limits.py).
        ApiAccess refused a longer Content-Length; a chunked body is read here, one byte past the limit."""
        if not is_api_path(request.path):
            return
        limit = body_limit(request.path, studio.limits)
        request.max_content_length = limit + 1  # werkzeug stops reading there (it does not raise)
        if request.content_length is None and len(request.get_data(cache=True)) > limit:
            raise RequestEntityTooLarge()

    guarded = app.wsgi_app
    inner = getattr(guarded, "app", guarded)  # the Flask app behind the AccessGuard
    app.wsgi_app = ApiAccess(guarded, inner, studio.config, studio.limits)  # type: ignore[method-assign]
    return runs


__all__ = ["register_apis"]
