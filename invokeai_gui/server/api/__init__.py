"""The HTTP APIs other tools already speak: AUTOMATIC1111's ``/sdapi/v1`` and OpenAI's ``/v1``
images API. Both translate into a ``GenerationRequest`` and go through the studio's queue, so
their jobs show in the queue panel ("API ...") with their progress."""

from __future__ import annotations

from flask import Flask

from ..studio import Studio
from .a1111 import register_a1111
from .access import ApiAccess
from .controlnet import register_controlnet
from .openai import register_openai
from .runs import ApiRuns


def register_apis(app: Flask, studio: Studio) -> ApiRuns:
    """Adds the API routes and puts ``ApiAccess`` in front of the app's (already guarded) WSGI app."""
    runs = ApiRuns(studio)
    register_a1111(app, studio, runs)
    register_openai(app, studio, runs)
    register_controlnet(app, studio.system_config, studio.limits, studio.config.root)
    guarded = app.wsgi_app
    inner = getattr(guarded, "app", guarded)  # the Flask app behind the AccessGuard
    app.wsgi_app = ApiAccess(guarded, inner, studio.config)  # type: ignore[method-assign]
    return runs


__all__ = ["register_apis"]
