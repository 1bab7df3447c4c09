"""Who may drive the HTTP APIs: no web page of another origin, no non-JSON body, and off loopback only
a client with the access token (Bearer) or, with --api-auth, the Basic credentials."""

from __future__ import annotations

import openai
import pytest
import requests
import webuiapi

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def idle_server(module_server_factory):
    return module_server_factory(load_model_at_start=False)


def base(server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize("path", ["/sdapi/v1/txt2img", "/v1/images/generations", "/sdapi/v1/interrupt"])
def test_a_page_of_another_origin_cannot_start_a_job(idle_server, path):
    response = requests.post(base(idle_server) + path, json={"prompt": "x"},
                             headers={"Origin": "http://evil.example"}, timeout=10)
    assert response.status_code == 403
    assert idle_server.studio.jobs.snapshot() == [] or all(
        not j["summary"].startswith("API") for j in idle_server.studio.jobs.snapshot())


@pytest.mark.parametrize("path", ["/sdapi/v1/txt2img", "/v1/images/generations", "/sdapi/v1/options"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_must_be_json(idle_server, path, content_type):
    response = requests.post(base(idle_server) + path, data=b'{"prompt": "x"}',
                             headers={"Content-Type": content_type}, timeout=10)
    assert response.status_code == 415, response.text
    assert "application/json" in response.text


def test_bodiless_posts_are_accepted_and_a_same_origin_request_is_not_refused(idle_server):
    assert requests.post(base(idle_server) + "/sdapi/v1/interrupt", timeout=10).status_code == 200
    own = base(idle_server)
    assert requests.post(own + "/sdapi/v1/skip", headers={"Origin": own}, timeout=10).status_code == 200


def test_a_bad_json_body_never_crashes(idle_server):
    for path in ("/sdapi/v1/txt2img", "/sdapi/v1/options", "/sdapi/v1/png-info"):
        response = requests.post(base(idle_server) + path, data=b"[1, 2", headers={"Content-Type": "application/json"},
                                 timeout=10)
        assert response.status_code == 422, (path, response.text)
    response = requests.post(base(idle_server) + "/v1/images/generations", json={"n": 1}, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["param"] == "prompt"


def test_off_loopback_the_bearer_token_is_required(server_factory):
    lan = server_factory(host="0.0.0.0")
    assert lan.studio.wait_until_loaded(180)
    url, token = base(lan), lan.config.token
    assert requests.get(url + "/sdapi/v1/sd-models", timeout=10).status_code == 401
    assert requests.get(url + "/v1/models", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="dummy", max_retries=0).models.list()

    client = openai.OpenAI(base_url=url + "/v1", api_key=token, max_retries=0, timeout=120)
    result = client.images.generate(prompt="a fox", size="64x64", extra_body={"steps": 2})
    image_url = result.data[0].url
    assert image_url.startswith(url + "/outputs/")
    assert requests.get(image_url, timeout=10).status_code == 401
    assert requests.get(image_url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200

    titles = requests.get(url + "/sdapi/v1/sd-models", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert titles.status_code == 200 and titles.json()[0]["title"] == "demo"


def test_api_auth_asks_for_basic_credentials_on_loopback_too(server_factory):
    guarded = server_factory(load_model_at_start=False, api_auth="alice:s3cret:x,bob:pw")
    url = base(guarded)
    refused = requests.get(url + "/sdapi/v1/scripts", timeout=10)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(url + "/sdapi/v1/scripts", auth=("alice", "wrong"), timeout=10).status_code == 401
    assert requests.get(url + "/sdapi/v1/scripts", auth=("alice", "s3cret:x"), timeout=10).status_code == 200
    api = webuiapi.WebUIApi(host="127.0.0.1", port=guarded.port, username="bob", password="pw")
    assert api.get_scripts() == {"txt2img": ["controlnet"], "img2img": ["controlnet"]}
    # The studio's own page is not behind --api-auth.
    assert requests.get(url + "/healthz", timeout=10).status_code == 200


@pytest.fixture(scope="module")
def small_uploads(module_server_factory):
    """A studio whose uploads may be at most 200 KB, so the body limits are quick to reach."""
    return module_server_factory(load_model_at_start=False, max_upload_bytes=200_000)


def api_jobs(server) -> list:
    return [j for j in server.studio.jobs.snapshot() if j["summary"].startswith("API")]


def test_an_oversized_body_is_413_in_each_apis_envelope_and_the_server_lives_on(small_uploads):
    url = base(small_uploads)
    # txt2img may carry one control image per ControlNet unit: 8 × base64(200 KB) + 1 MiB
    refused = requests.post(url + "/sdapi/v1/txt2img", json={"prompt": "a" * 3_300_000}, timeout=30)
    assert refused.status_code == 413 and "too large" in refused.json()["detail"]
    assert "/sdapi/v1/txt2img takes at most" in refused.json()["detail"]
    assert "room for 8 images of at most" in refused.json()["detail"]
    huge = "a" * (1024 * 1024)  # generations carries no image: the limit is 1 MiB
    with pytest.raises(openai.APIStatusError) as caught:
        openai.OpenAI(base_url=url + "/v1", api_key="dummy", max_retries=0, timeout=30).images.generate(prompt=huge)
    assert caught.value.status_code == 413
    error = caught.value.body
    assert set(error) == {"message", "type", "param", "code"} and "too large" in error["message"]
    assert api_jobs(small_uploads) == []
    assert requests.get(url + "/sdapi/v1/samplers", timeout=10).status_code == 200


def test_a_body_may_carry_its_images_base64_plus_one_mib(small_uploads):
    url = base(small_uploads)
    # img2img may carry init, mask and a control image per ControlNet unit: 10 × base64(200 KB) + 1 MiB
    padded = {"init_images": [], "some_extension_field": "a" * 3_600_000}
    answered = requests.post(url + "/sdapi/v1/img2img", json=padded, timeout=30)
    assert answered.status_code == 422 and "init_images" in answered.text, answered.text
    padded["some_extension_field"] = "a" * 3_800_000
    assert requests.post(url + "/sdapi/v1/img2img", json=padded, timeout=30).status_code == 413
    # a chunked body has no length to check first: it is stopped as it is read
    chunks = (b'{"prompt": "' if i == 0 else b"a" * 65536 for i in range(20))
    chunked = requests.post(url + "/v1/images/generations", data=chunks,
                            headers={"Content-Type": "application/json"}, timeout=30)
    assert chunked.status_code == 413 and "too large" in chunked.json()["error"]["message"], chunked.text
    assert api_jobs(small_uploads) == []
