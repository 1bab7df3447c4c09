"""Security against a real server: bad payloads, path escapes, hostile uploads, foreign origins, the LAN token."""

from __future__ import annotations

import base64
import http.client
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
import requests
import socketio
from PIL import Image

pytestmark = pytest.mark.timeout(180)

GOOD = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "sampler_name": "k_euler"}


def gen(**changes: object) -> dict:
    return {**GOOD, **changes}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring width×height pixels, with a few bytes of image data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + png_chunk(b"IEND", b""))


def real_png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (9, 99, 199)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory(load_model_at_start=False)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


MALFORMED: list[tuple[str, tuple, str]] = [
    ("generateImage", (), "generation_parameters"),
    ("generateImage", ("strawberry sushi", False, False), "generation_parameters"),
    ("generateImage", ({}, False, False), "prompt"),
    ("generateImage", (gen(prompt=123), False, False), "prompt"),
    ("generateImage", (gen(steps="4"), False, False), "steps"),
    ("generateImage", (gen(steps=0), False, False), "steps"),
    ("generateImage", (gen(steps=10**12), False, False), "steps"),
    ("generateImage", (gen(iterations=-1), False, False), "iterations"),
    ("generateImage", (gen(cfg_scale="high"), False, False), "cfg_scale"),
    ("generateImage", (gen(cfg_scale=1e308), False, False), "cfg_scale"),
    ("generateImage", (gen(width=65), False, False), "width"),
    ("generateImage", (gen(height=100000), False, False), "height"),
    ("generateImage", (gen(width=64.5), False, False), "width"),
    ("generateImage", (gen(sampler_name="k_nonsense"), False, False), "sampler_name"),
    ("generateImage", (gen(seed=2**40), False, False), "seed"),
    ("generateImage", (gen(seed="abc"), False, False), "seed"),
    ("generateImage", (gen(variation_amount=2), False, False), "variation_amount"),
    ("generateImage", (gen(with_variations="1:0.5"), False, False), "with_variations"),
    ("generateImage", (gen(with_variations=[[1]]), False, False), "with_variations"),
    ("generateImage", (gen(perlin=True), False, False), "perlin"),
    ("generateImage", (gen(prompt="x" * 30000), False, False), "prompt"),
    ("generateImage", (gen(init_img="/etc/passwd"), False, False), "outputs/"),
    ("generateImage", (gen(init_img="outputs/../../etc/passwd"), False, False), ".."),
    ("generateImage", (gen(init_mask="AAAA"), False, False), "init_img"),
    ("generateImage", (gen(seam_size=65), False, False), "seam_size"),
    ("generateImage", (gen(seam_size=2.5), False, False), "seam_size"),
    ("generateImage", (gen(), {"level": 3, "strength": 0.5}, False), "esrgan_parameters"),
    ("generateImage", (gen(), False, {"type": "magic", "strength": 0.5}), "facetool_parameters"),
    ("generateImage", (gen(), False, {"strength": 5}), "facetool_parameters.strength"),
    ("generateImage", (gen(), True, False), "esrgan_parameters"),
    ("runPostprocessing", ({}, {"type": "esrgan", "upscale": [2, 0.5]}), "original_image.url"),
    ("runPostprocessing", ({"url": "outputs/x.png"}, {"type": "esrgan"}), "upscale"),
    ("runPostprocessing", ({"url": "outputs/x.png"}, {"type": "pixelate", "facetool_strength": 1}), "type"),
    ("runPostprocessing", ({"url": "outputs/x.png"}, {"type": "gfpgan", "facetool_strength": 0.5,
                                                      "facetool": {"strength": 0.5}}), "facetool"),
    ("runPostprocessing", ({"url": "outputs/x.png"}, {"type": "esrgan", "upscale": [2, 0.5],
                                                      "facetool": {"type": "blur", "strength": 0.5}}), "facetool.type"),
    ("runPostprocessing", ({"url": "outputs/nothing-here.png"}, {"type": "gfpgan", "facetool_strength": 0.5}),
     "does not exist"),
    ("requestImages", ("everything",), "category"),
    ("requestImages", ("result", "yesterday"), "earliest_mtime"),
    ("requestLatestImages", ("user", -5), "latest_mtime"),
    ("deleteImage", (42, "uuid", "result"), "url"),
    ("deleteImage", ("outputs/../secret.png", "uuid", "result"), ".."),
    ("deleteImage", ("/etc/passwd", "uuid", "result"), "outputs/"),
    ("uploadImage", ("not bytes", "x.png", "img2img"), "bytes"),
    ("uploadMaskImage", (), "bytes"),
    ("requestModelChange", (None,), "model_name"),
    ("requestModelChange", ("",), "model_name"),
    ("cancel", (12345,), "job_id"),
]


def test_malformed_payloads_each_get_an_error_naming_the_field(server, connect):
    client = connect(server.url)
    outdir_before = files_under(server.studio.outdir)
    for event, args, mention in MALFORMED:
        mark = client.mark()
        client.emit(event, *args)
        error = client.wait_for("error", after=mark, timeout=20)[0]
        assert mention in error["message"], (event, args, error)
    assert len(MALFORMED) >= 30
    # Nothing was queued or written, and the server still answers.
    assert [j for j in server.studio.jobs.snapshot() if j["kind"] == "generate"] == []
    assert files_under(server.studio.outdir) == outdir_before
    client.emit("requestSystemConfig")
    assert client.wait_for("systemConfig")
    assert requests.get(server.url + "healthz", timeout=10).json()["status"] == "ok"


def test_unknown_fields_are_ignored(server, connect):
    client = connect(server.url)
    client.emit("requestImages", "result", None, None, "an extra argument")
    assert client.wait_for("galleryImages")[0]["category"] == "result"
    assert client.of("error") == []


def raw_get(server, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (requests and urllib3 would normalise the dots away)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


def test_outputs_route_serves_only_the_output_tree(server, tmp_path_factory):
    secret = server.studio.outdir.parent / "secret.txt"
    secret.write_text("TOP SECRET")
    outside = tmp_path_factory.mktemp("elsewhere") / "private.png"
    outside.write_bytes(real_png())
    (server.studio.outdir / "link.png").symlink_to(outside)
    (server.studio.outdir / "fine.png").write_bytes(real_png())

    assert raw_get(server, "/outputs/fine.png")[0] == 200
    for path in (
        "/outputs/../secret.txt",
        "/outputs/%2e%2e/secret.txt",
        "/outputs/%2E%2E%2Fsecret.txt",
        "/outputs/..%5Csecret.txt",
        "/outputs/%2Fetc%2Fpasswd",
        "/outputs//etc/passwd",
        f"/outputs/{secret}",
        "/outputs/link.png",
        "/outputs/link.png?thumbnail=1",
        "/thumbnails/link.png.webp",
        "/thumbnails/..%2F" + secret.name + ".webp",
    ):
        status, body = raw_get(server, path)
        assert status in (301, 302, 308, 400, 403, 404), (path, status)
        assert b"TOP SECRET" not in body and body[:4] != b"\x89PNG", path


def test_hostile_uploads_are_refused_and_nothing_is_written(server, connect):
    client = connect(server.url)
    before = files_under(server.studio.outdir)
    truncated = real_png((64, 64))[:-40]
    buffer = BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    cases = [
        (b"this is not an image, just text renamed", "notes.png", "not an image"),
        (truncated, "cut.png", "damaged or truncated"),
        (bomb_png(100_000, 100_000), "bomb.png", "pixels"),
        (bomb_png(9000, 9000), "bomb2.png", "megapixels"),
        (buffer.getvalue(), "anim.gif", "only PNG, JPEG and WebP"),
        (b"", "empty.png", "empty"),
    ]
    for event in ("uploadImage", "uploadMaskImage", "uploadInitialImage"):
        for data, name, mention in cases:
            mark = client.mark()
            client.emit(event, data, name, "img2img")
            error = client.wait_for("error", after=mark, timeout=20)[0]
            assert mention in error["message"], (event, name, error)
    assert files_under(server.studio.outdir) == before
    assert not [e for e in client.events if e[0] in ("imageUploaded", "maskImageUploaded", "initialImageUploaded")]

    # An inline mask is checked the same way before a job is queued.
    client.emit("uploadImage", real_png(), "ok.png", "img2img")
    url = client.wait_for("imageUploaded")[0]["url"]
    mark = client.mark()
    client.emit("generateImage", gen(init_img=url, init_mask=base64.b64encode(bomb_png(9000, 9000)).decode()),
                False, False)
    assert "megapixels" in client.wait_for("error", after=mark)[0]["message"]
    assert not (server.studio.outdir / "mask-images").exists() or not list((server.studio.outdir / "mask-images").iterdir())


def test_upload_names_are_sanitised_and_unique(server, connect):
    client = connect(server.url)
    for _ in range(2):
        client.emit("uploadImage", real_png(), "../../etc/evil name<>.png", "img2img")
    urls = [d["url"] for d in client.wait_for("imageUploaded", count=2)]
    assert len(set(urls)) == 2
    for url in urls:
        name = url.removeprefix("outputs/init-images/")
        assert "/" not in name and name.startswith("etc_evil_name.") and name.endswith(".png")
        assert (server.studio.outdir / "init-images" / name).is_file()


def test_a_foreign_origin_is_refused_and_cors_lets_it_in(server, server_factory, connect):
    base = server.url.rstrip("/")
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(base, headers={"Origin": "http://evil.example"}, wait_timeout=10)
    assert connect(base, headers={"Origin": base}).client.connected  # the same origin is fine

    widened = server_factory(load_model_at_start=False, cors=["http://evil.example"])
    assert connect(widened.url, headers={"Origin": "http://evil.example"}).client.connected
    page = requests.get(widened.url + "healthz", headers={"Origin": "http://evil.example"}, timeout=10)
    assert page.headers["Access-Control-Allow-Origin"] == "http://evil.example"
    assert "Access-Control-Allow-Origin" not in requests.get(
        server.url + "healthz", headers={"Origin": "http://evil.example"}, timeout=10).headers


def test_web_develop_allows_the_vite_dev_server(server_factory, connect):
    dev = server_factory(load_model_at_start=False, web_develop=True)
    assert connect(dev.url, headers={"Origin": "http://localhost:5173"}).client.connected
    response = requests.get(dev.url, allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost:5173/"


def test_loopback_server_refuses_foreign_host_names(server):
    """A page whose DNS name was rebound to 127.0.0.1 must not reach the server."""
    base = f"http://127.0.0.1:{server.port}"
    assert requests.get(base + "/healthz", headers={"Host": f"evil.example:{server.port}"}, timeout=10).status_code == 403
    assert requests.get(base + "/healthz", headers={"Host": f"localhost:{server.port}"}, timeout=10).status_code == 200


def test_lan_server_requires_the_token(server_factory, connect):
    lan = server_factory(load_model_at_start=False, host="0.0.0.0")
    token = lan.config.token
    assert f"?token={token}" in lan.url
    base = f"http://127.0.0.1:{lan.port}"

    assert requests.get(base + "/", timeout=10).status_code == 401
    assert requests.get(base + "/outputs/x.png", timeout=10).status_code == 401
    assert requests.get(base + "/?token=wrong", timeout=10).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(base, wait_timeout=10)
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(base, headers={"Cookie": "invokeai_token=wrong"}, wait_timeout=10)

    browser = requests.Session()
    first = browser.get(f"{base}/?token={token}", allow_redirects=False, timeout=10)
    assert first.status_code == 302 and first.headers["Location"] == "/"
    assert "HttpOnly" in first.headers["Set-Cookie"]
    assert browser.get(base + "/", timeout=10).status_code == 200
    assert connect(base, headers={"Cookie": f"invokeai_token={token}"}).client.connected
    assert requests.get(base + "/healthz", timeout=10).status_code == 200


def test_no_auth_opts_out_of_the_token(server_factory):
    open_server = server_factory(load_model_at_start=False, host="0.0.0.0", no_auth=True)
    assert "token" not in open_server.url
    assert requests.get(f"http://127.0.0.1:{open_server.port}/", timeout=10).status_code == 200
