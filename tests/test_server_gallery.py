"""The gallery over Socket.IO and HTTP: paging, images that come and go outside the app, thumbnails, switching folders."""

from __future__ import annotations

import os
import shutil
import time
from io import BytesIO
from pathlib import Path

import pytest
import requests
from PIL import Image

pytestmark = pytest.mark.timeout(120)


def fill(outdir: Path, count: int) -> list[str]:
    """``count`` small PNGs, several sharing each mtime; returns their names newest first."""
    outdir.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    Image.new("RGB", (96, 64), (5, 6, 7)).save(buffer, format="PNG")
    names = []
    for n in range(count):
        name = f"{n:06d}.{n}.png"
        (outdir / name).write_bytes(buffer.getvalue())
        stamp = 1_700_000_000 + n // 3
        os.utime(outdir / name, (stamp, stamp))
        names.append(name)
    return sorted(names, key=lambda s: (int(s[:6]) // 3, s), reverse=True)


@pytest.fixture
def gallery_server(server_factory, tmp_path):
    outdir = tmp_path / "gallery"
    expected = fill(outdir, 130)
    return server_factory(load_model_at_start=False, outdir=outdir), expected


def page_through(client, category: str, exact: bool) -> list[str]:
    seen: list[str] = []
    args: tuple = (category,)
    while True:
        mark = client.mark()
        client.emit("requestImages", *args)
        page = client.wait_for("galleryImages", after=mark)[0]
        seen += [i["url"].removeprefix("outputs/") for i in page["images"]]
        if not page["areMoreImagesAvailable"]:
            return seen
        last = page["images"][-1]
        args = (category, last["mtime"], last["url"]) if exact else (category, last["mtime"])


def test_paging_through_the_gallery(gallery_server, connect):
    server, expected = gallery_server
    client = connect(server.url)
    assert page_through(client, "result", exact=True) == expected
    # An InvokeAI 2.1 client sends only the mtime: it may see an image twice at a tie, never miss one.
    seen = page_through(client, "result", exact=False)
    assert list(dict.fromkeys(seen)) == expected
    first = client.of("galleryImages")[0]
    assert len(first["images"]) == 50 and first["category"] == "result"
    assert first["images"][0]["width"] == 96 and first["images"][0]["metadata"] == {}


def test_images_added_or_deleted_by_other_programs(gallery_server, connect):
    server, expected = gallery_server
    client = connect(server.url)
    newest = server.studio.outdir / expected[0]
    client.emit("requestImages", "result")
    latest_mtime = client.wait_for("galleryImages")[0]["images"][0]["mtime"]

    copied = server.studio.outdir / "copied-by-hand.png"
    shutil.copy(newest, copied)
    os.utime(copied, (latest_mtime + 10, latest_mtime + 10))
    (server.studio.outdir / expected[5]).unlink()
    mark = client.mark()
    client.emit("requestLatestImages", "result", latest_mtime)
    latest = client.wait_for("galleryImages", after=mark)[0]
    assert latest["images"][0]["url"] == "outputs/copied-by-hand.png"
    assert latest["images"][0]["mtime"] == latest_mtime + 10

    mark = client.mark()
    client.emit("requestImages", "result")
    urls = [i["url"] for i in client.wait_for("galleryImages", after=mark)[0]["images"]]
    assert "outputs/copied-by-hand.png" in urls and f"outputs/{expected[5]}" not in urls

    # The very next first-page request sees a file copied in a moment ago (no waiting for a poll).
    second = server.studio.outdir / "copied-again.png"
    shutil.copy(newest, second)
    os.utime(second, (latest_mtime + 20, latest_mtime + 20))
    mark = client.mark()
    client.emit("requestImages", "result")
    assert client.wait_for("galleryImages", after=mark)[0]["images"][0]["url"] == "outputs/copied-again.png"

    # Without any request, the keeper thread notices a deletion within a poll or two.
    (server.studio.outdir / expected[1]).unlink()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and expected[1] in [i["url"][8:] for i in server.studio.gallery.page("result")[0]]:
        time.sleep(0.1)
    assert expected[1] not in [i["url"][8:] for i in server.studio.gallery.page("result")[0]]


def test_thumbnails_are_webp_no_larger_than_256_px(server_factory, tmp_path, connect):
    outdir = tmp_path / "big"
    outdir.mkdir()
    Image.new("RGB", (640, 320), (200, 10, 10)).save(outdir / "wide.png")
    server = server_factory(load_model_at_start=False, outdir=outdir)
    client = connect(server.url)
    client.emit("requestImages", "result")
    image = client.wait_for("galleryImages")[0]["images"][0]
    for url in (image["thumbnail"], image["url"] + "?thumbnail=1"):
        response = requests.get(server.url + url, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/webp"
        with Image.open(BytesIO(response.content)) as thumb:
            assert thumb.format == "WEBP" and max(thumb.size) <= 256 and thumb.size == (256, 128)
    assert requests.get(server.url + "thumbnails/missing.png.webp", timeout=10).status_code == 404


def test_switching_the_output_folder(gallery_server, tmp_path, connect):
    server, expected = gallery_server
    first, second = connect(server.url), connect(server.url)
    other = tmp_path / "elsewhere"
    fill(other, 3)
    server.studio.set_outdir(other)
    for client in (first, second):
        assert client.wait_for("outputFolderChanged")[0] == {"outdir": str(other.resolve())}
    first.emit("requestImages", "result")
    page = first.wait_for("galleryImages")[0]
    assert len(page["images"]) == 3 and page["areMoreImagesAvailable"] is False
    assert requests.get(server.url + "outputs/" + expected[0], timeout=10).status_code == 404
    assert requests.get(server.url + page["images"][0]["url"], timeout=10).status_code == 200
