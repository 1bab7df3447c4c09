"""The HTTP APIs' OpenAPI document (built by spectree from the same pydantic bodies the handlers parse)
and the /docs page, whose Swagger UI files the studio serves itself."""

from __future__ import annotations

import re

import pytest
import requests
from openapi_spec_validator import validate

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def idle_server(module_server_factory):
    return module_server_factory(load_model_at_start=False)


def resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def body_schema(doc: dict, path: str, kind: str = "application/json") -> dict:
    return resolve(doc, doc["paths"][path]["post"]["requestBody"]["content"][kind]["schema"])


def test_openapi_json_is_valid_and_lists_both_apis_with_their_bodies(idle_server):
    doc = requests.get(f"{idle_server.url}openapi.json", timeout=30).json()
    validate(doc)  # raises on anything OpenAPI 3 does not allow
    assert doc["openapi"].startswith("3.")
    txt2img = body_schema(doc, "/sdapi/v1/txt2img")["properties"]
    for field in ("prompt", "negative_prompt", "batch_size", "n_iter", "enable_hr", "hr_scale", "override_settings",
                  "save_images", "send_images"):
        assert field in txt2img, field
    assert txt2img["steps"]["default"] == 50 and txt2img["sampler_name"]
    assert "init_images" in body_schema(doc, "/sdapi/v1/img2img")["properties"]
    generations = body_schema(doc, "/v1/images/generations")
    assert generations["required"] == ["prompt"]
    assert {"n", "size", "response_format", "seed", "steps", "negative_prompt"} <= set(generations["properties"])
    assert "multipart/form-data" in doc["paths"]["/v1/images/edits"]["post"]["requestBody"]["content"]
    errors = doc["paths"]["/v1/images/generations"]["post"]["responses"]
    assert "error" in resolve(doc, errors["400"]["content"]["application/json"]["schema"])["properties"]
    assert "422" in doc["paths"]["/sdapi/v1/txt2img"]["post"]["responses"]
    assert {"/sdapi/v1/progress", "/sdapi/v1/sd-models", "/v1/models", "/sdapi/v1/refresh-loras"} <= set(doc["paths"])
    assert not any(p.startswith(("/outputs", "/docs", "/healthz", "/socket.io")) for p in doc["paths"]), "ours only"


def test_docs_page_loads_its_assets_from_this_server_within_the_csp(idle_server):
    page = requests.get(f"{idle_server.url}docs", timeout=30)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert not re.search(r"(src|href)=\"https?://", page.text), "no asset from another host (fails offline)"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    for asset in re.findall(r"(?:src|href)=\"(/docs/assets/[^\"]+)\"", page.text):
        assert requests.get(idle_server.url + asset.lstrip("/"), timeout=30).status_code == 200, asset
    assert requests.get(f"{idle_server.url}docs/assets/..%2Fplugins.py", timeout=30).status_code == 404
