"""Issue 21 item 9: names longer than the file system allows are a 404 or a clear error, never a 500."""

from __future__ import annotations

import logging

import requests
from PIL import Image

LONG = "a" * 300 + ".png"
# Each part fits and the URL is within the protocol's 4,096 characters, but under any output folder
# (of 16 bytes or more) the whole path reaches PATH_MAX.
TOO_DEEP = "/".join(["b" * 200] * 20) + "/" + "x" * 56 + ".png"  # 4,080 characters


def test_long_names_under_outputs_and_thumbnails_are_404(server_factory) -> None:
    server = server_factory(load_model_at_start=False)
    base = f"http://127.0.0.1:{server.port}"
    for path in [f"/outputs/{LONG}", f"/outputs/init-images/{LONG}", f"/outputs/{TOO_DEEP}",
                 f"/outputs/{LONG}?thumbnail=1", f"/thumbnails/{LONG}.webp", f"/thumbnails/{TOO_DEEP}.webp"]:
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 404, (path[:60], r.status_code, r.text[:200])


def test_delete_image_with_a_long_name_answers_a_clear_error(server_factory, connect, caplog) -> None:
    server = server_factory(load_model_at_start=False)
    client = connect(f"http://127.0.0.1:{server.port}")
    for url in [f"outputs/{LONG}", f"outputs/{TOO_DEEP}"]:
        mark = client.mark()
        client.emit("deleteImage", url, "uuid-1", "result")
        error = client.wait_for("error", after=mark, timeout=10)[0]
        assert error["message"] == "That file name is too long to exist in the output folder.", error
    assert not client.of("imageDeleted")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "a traceback was logged"


def test_an_image_with_the_longest_allowed_name_gets_its_thumbnail(server_factory) -> None:
    server = server_factory(load_model_at_start=False)
    name = "c" * 251 + ".png"  # 255 bytes: the longest name the disk allows; its thumbnail's would be longer
    Image.new("RGB", (40, 30), (10, 200, 10)).save(server.studio.outdir / name)
    r = requests.get(f"http://127.0.0.1:{server.port}/thumbnails/{name}.webp", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/webp"
    assert requests.get(f"http://127.0.0.1:{server.port}/outputs/{name}", timeout=10).status_code == 200
