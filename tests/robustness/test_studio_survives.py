"""What an adversarial run broke in the studio's own code, kept fixed: event order per client, corrupt
databases, an unloadable default model, and a postprocessing failure that used to lose the image."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import sqlite3
import threading
import time
from io import BytesIO, StringIO
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from invokeai_gui.server.jobs import JOBS_TABLE
from tests.conftest import private_root
from tests.test_server_walkthrough import params, results_of, wait_status


def png(size=(64, 64), color=(30, 60, 90)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def bare_root(test_root: Path, where: Path, models: dict) -> Path:
    """A root with the test root's demo model and no postprocessor weights."""
    (where / "models").mkdir(parents=True)
    (where / "models" / "demo").symlink_to(test_root / "models" / "demo")
    (where / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    return where


DEMO = {"format": "demo", "path": "models/demo", "seed": 0, "width": 512, "height": 512}


# -- one client's events keep their order ----------------------------------------------------------


def test_one_clients_generate_requests_are_queued_in_the_order_it_sent_them(server_factory, connect):
    server = server_factory(load_model_at_start=False)
    client = connect(server.url)
    for n in range(10):  # back to back, no waiting for acknowledgements
        client.emit("generateImage", params(prompt=f"job {n}", steps=50), False, False)
    jobs = client.wait_for("queueUpdate", lambda d: len([j for j in d["jobs"] if j["kind"] == "generate"]) == 10,
                           timeout=60)[0]["jobs"]
    order = [j["summary"].split("“")[1].split("”")[0] for j in jobs if j["kind"] == "generate"]
    assert order == [f"job {n}" for n in range(10)]
    for job in jobs:
        server.studio.jobs.cancel(job["id"])


def test_a_slow_handler_of_one_client_does_not_hold_up_another(server_factory, connect):
    server = server_factory(load_model_at_start=False)
    slow, quick = connect(server.url), connect(server.url)
    arr = np.random.default_rng(0).integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    big = BytesIO()
    Image.fromarray(arr).save(big, format="PNG", compress_level=1)  # a big upload takes a while to check
    order: list[str] = []
    done = threading.Event()
    slow.client.on("imageUploaded", lambda *a: (order.append("upload"), done.set()))
    quick.client.on("systemConfig", lambda *a: order.append("config"))
    slow.emit("uploadImage", big.getvalue(), "big.png", "img2img")
    quick.emit("requestSystemConfig")
    assert done.wait(60)
    assert order[0] == "config", order


# -- a server going down ----------------------------------------------------------------------------


def test_a_server_going_down_drops_its_connections_before_it_closes_the_gallery(server_factory, connect):
    """A page still open when the server stops sees it disconnect; before, its open WebSocket went on
    serving, and a gallery request on it answered with "Cannot operate on a closed database"."""
    server = server_factory(load_model_at_start=False)
    client = connect(server.url)
    client.wait_for("workersUpdate")
    server.shutdown()
    if client.client.connected:  # the drop may not have reached the client's reader thread yet
        try:
            client.emit("requestImages", "result")
        except Exception:  # noqa: BLE001 — the connection went away under the emit, as it should
            pass
    deadline = time.monotonic() + 10
    while client.client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.client.connected, "the stopped server left the client connected"
    assert client.of("error") == []


# -- corrupt databases -----------------------------------------------------------------------------


def test_random_bytes_over_the_queue_database_are_moved_aside_and_the_server_starts(server_factory, test_root,
                                                                                    tmp_path, connect, caplog):
    root = private_root(test_root, tmp_path / "root")
    (root / "databases").mkdir()
    (root / "databases" / "queue.sqlite3").write_bytes(os.urandom(64 * 1024))
    with caplog.at_level(logging.WARNING):
        server = server_factory(root=root)
    client = connect(server.url)
    job = client.call("generateImage", params(steps=2), False, False)["jobId"]
    results_of(client, job, 1)
    aside = list((root / "databases").glob("queue.sqlite3.corrupt-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == 64 * 1024
    warnings = [r.getMessage() for r in caplog.records if "queue database" in r.getMessage()]
    assert len(warnings) == 1 and "moved to" in warnings[0]


def test_an_unreadable_queue_row_is_skipped_by_name_and_the_rest_come_back(server_factory, test_root, tmp_path,
                                                                           connect, caplog):
    root = private_root(test_root, tmp_path / "root")
    (root / "databases").mkdir()
    db = sqlite3.connect(root / "databases" / "queue.sqlite3", isolation_level=None)
    db.execute(JOBS_TABLE)
    db.execute("INSERT INTO jobs VALUES ('bad', 1, 'generate', '{not json', 'the broken one', 'queued', 0)")
    db.execute("INSERT INTO jobs VALUES ('odd', 2, 'teleport', '{}', 'an unknown kind', 'queued', 0)")
    db.execute("INSERT INTO jobs VALUES ('fine', 3, 'load_model', '{}', 'a fine one', 'queued', 0)")
    db.close()
    with caplog.at_level(logging.WARNING):
        server = server_factory(root=root)
    client = connect(server.url)
    client.emit("requestQueue")
    jobs = client.wait_for("queueUpdate")[0]["jobs"]
    assert [(j["id"], j["status"]) for j in jobs if j["id"] in ("bad", "odd", "fine")] == [("fine", "paused")]
    skipped = " ".join(r.getMessage() for r in caplog.records if "Skipped the saved job" in r.getMessage())
    assert "the broken one" in skipped and "an unknown kind" in skipped


def test_a_corrupt_gallery_database_is_rebuilt_from_the_disk(server_factory, test_root, tmp_path, connect):
    from invokeai_gui.server.gallery import folder_digest

    root = private_root(test_root, tmp_path / "root")
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "000001.5.png").write_bytes(png())
    (root / "databases").mkdir()
    (root / "databases" / f"gallery-{folder_digest(outdir)}.sqlite3").write_bytes(os.urandom(8192))
    server = server_factory(root=root, outdir=outdir, load_model_at_start=False)
    client = connect(server.url)
    client.emit("requestImages", "result")
    page = client.wait_for("galleryImages")[0]
    assert [i["url"] for i in page["images"]] == ["outputs/000001.5.png"]


# -- an unloadable default model ---------------------------------------------------------------------


def test_an_unloadable_default_model_leaves_the_studio_usable(server_factory, test_root, tmp_path, connect):
    root = bare_root(test_root, tmp_path / "root", {
        "moved-away": {"format": "diffusers", "path": "models/not-there-any-more", "default": True},
        "demo": DEMO,
    })
    server = server_factory(root=root)
    client = connect(server.url)
    assert server.studio.jobs.wait_idle(120)  # the start-up load has failed by now
    client.emit("requestSystemConfig")
    config = client.wait_for("systemConfig")[0]
    assert "moved-away" in config["model_error"] and not config["model_loaded"]
    doomed = client.call("generateImage", params(steps=2), False, False)["jobId"]
    error = client.wait_for("error", lambda d: d.get("jobId") == doomed, timeout=120)[0]
    assert "moved-away" in error["message"] and "does not exist" in error["message"]

    client.emit("requestModelChange", "demo")
    changed = client.wait_for("modelChanged", timeout=120)[0]
    assert changed["model_name"] == "demo" and changed["model_list"]["demo"]["status"] == "active"
    job = client.call("generateImage", params(steps=2), False, False)["jobId"]
    [result] = results_of(client, job, 1)
    assert result["metadata"]["model_id"] == "demo"


# -- a failed postprocess after generation keeps the image ---------------------------------------------


def test_a_face_restoration_without_weights_keeps_the_generated_image_and_says_so(server_factory, test_root,
                                                                                tmp_path, connect):
    root = bare_root(test_root, tmp_path / "root", {"demo": {**DEMO, "default": True}})
    server = server_factory(root=root)
    client = connect(server.url)
    job = client.call("generateImage", params(steps=2), False,
                      {"type": "gfpgan", "strength": 0.8, "codeformer_fidelity": 0.75})["jobId"]
    result = client.wait_for("generationResult", lambda d: d.get("jobId") == job, timeout=120)[0]
    assert (server.studio.outdir / result["url"].removeprefix("outputs/")).is_file()
    error = client.wait_for("error", lambda d: d.get("jobId") == job)[0]
    name = result["url"].rpartition("/")[2]
    assert name in error["message"] and "Missing weights" in error["message"]
    assert wait_status(client, job, "done")


def test_the_cli_keeps_the_image_when_face_weights_are_missing(test_root, tmp_path):
    from ldm.invoke.cli import InvokeCLI
    from ldm.invoke.generate import Generate

    root = bare_root(test_root, tmp_path / "root", {"demo": {**DEMO, "default": True}})
    out = StringIO()
    cli = InvokeCLI(Generate(root=root), tmp_path / "out", out=out)
    error = cli.execute('"a face" -s 2 -W 64 -H 64 -S 3 -G 0.8')
    assert error is None, out.getvalue()
    saved = list((tmp_path / "out").glob("*.png"))
    assert len(saved) == 1
    assert f"Error: {saved[0].name} was saved without its postprocessing: Missing weights" in out.getvalue()


def test_an_uploaded_mask_travels_by_content(server_factory, connect):
    """A painted mask is stored under mask-images and named in the recipe with its hash."""
    server = server_factory()
    client = connect(server.url)
    client.emit("uploadImage", png(), "init.png", "img2img")
    init = client.wait_for("imageUploaded")[0]["url"]
    mask = np.zeros((64, 64), np.uint8)
    mask[8:24, 8:24] = 255
    buffer = BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    job = client.call("generateImage", params(steps=2, init_img=init, strength=0.8,
                                              init_mask="data:image/png;base64," + base64.b64encode(buffer.getvalue())
                                              .decode()), False, False)["jobId"]
    [result] = results_of(client, job, 1)
    image = result["metadata"]["image"]
    assert image["type"] == "inpaint" and image["mask_image_path"].startswith("outputs/mask-images/")
    stored = server.studio.outdir / image["mask_image_path"].removeprefix("outputs/")
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == image["mask_image_hash"]


def test_temp_files_left_by_a_kill_are_removed_by_the_start_up_scan(server_factory, tmp_path):
    outdir = tmp_path / "out"
    (outdir / "init-images").mkdir(parents=True)
    left = [outdir / ".000007.42.png.k3j2h1.tmp", outdir / "init-images" / ".photo.1a2b3c4d.png.x9y8.tmp"]
    for path in left:
        path.write_bytes(b"\x89PNG half a picture")
        os.utime(path, (1_600_000_000, 1_600_000_000))  # written before this start
    mine = outdir / ".000008.43.png.z1z2.tmp"  # as if being written right now
    mine.write_bytes(b"")
    os.utime(mine, (2_000_000_000, 2_000_000_000))
    server = server_factory(outdir=outdir, load_model_at_start=False)
    assert server.studio.gallery.wait_ready(30)
    assert not any(path.exists() for path in left)
    assert mine.exists()
