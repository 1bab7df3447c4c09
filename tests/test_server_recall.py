"""Recall is exact: a web result's recipe, fetched in the CLI, regenerates the same pixels in every mode;
queue rows written before requests existed resume translated, or are reported by name."""

from __future__ import annotations

import base64
import json
import sqlite3
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from invokeai_gui.server.jobs import JOBS_TABLE
from tests.conftest import private_root
from tests.test_server_walkthrough import params, results_of, wait_status


def encoded(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noise_picture(size=(64, 64), seed=0, alpha_hole: bool = False) -> Image.Image:
    arr = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    image = Image.fromarray(arr)
    if alpha_hole:  # an outpainting frame: the right third is transparent, to be filled
        image = image.convert("RGBA")
        alpha = np.full((size[1], size[0]), 255, np.uint8)
        alpha[:, size[0] * 2 // 3:] = 0
        image.putalpha(Image.fromarray(alpha))
    return image


@pytest.fixture(scope="module")
def cli(server):
    from ldm.invoke.generate import Generate
    from tests.support.cli_session import CliSession

    gen = Generate(root=server.config.root, model="demo")
    gen.load_model()
    return CliSession(gen, server.studio.outdir)


def upload(client, image: Image.Image, destination: str) -> str:
    client.emit("uploadImage", encoded(image), "in.png", destination)
    return client.wait_for("imageUploaded", lambda d: d.get("destination") == destination)[-1]["url"]


def painted_mask() -> str:
    mask = np.zeros((64, 64), np.uint8)
    mask[16:40, 20:48] = 255
    return "data:image/png;base64," + base64.b64encode(encoded(Image.fromarray(mask))).decode()


MODES = ["txt2img", "img2img", "painted-mask inpaint", "outpaint", "variations", "hires fix", "canvas region"]


@pytest.mark.parametrize("mode", MODES)
def test_fetch_in_the_cli_reproduces_a_web_result_pixel_for_pixel(server, connect, cli, mode):
    client = connect(server.url)
    request = params(seed=77, progress_latents=False)
    count = 1
    if mode == "img2img":
        request.update(init_img=upload(client, noise_picture(seed=1), "img2img"), strength=0.6)
    elif mode == "painted-mask inpaint":
        request.update(init_img=upload(client, noise_picture(seed=2), "inpainting"), init_mask=painted_mask(),
                       bounding_box={"x": 0, "y": 0, "width": 64, "height": 64}, inpaint_replace=0.3, seam_size=4,
                       strength=0.9)
    elif mode == "outpaint":
        request.update(init_img=upload(client, noise_picture((96, 64), seed=3, alpha_hole=True), "outpainting"),
                       strength=1.0, seam_size=8, width=96, height=64)
    elif mode == "canvas region":
        request.update(init_img=upload(client, noise_picture(seed=4), "canvas-region"), init_mask=painted_mask(),
                       bounding_box={"x": 8, "y": 8, "width": 48, "height": 40}, strength=0.75)
    elif mode == "variations":
        request.update(variation_amount=0.4, iterations=2, sampler_name="k_euler_a")
        count = 2
    elif mode == "hires fix":
        request.update(hires_fix=True, width=576, height=576, steps=2, hires_strength=0.6)
    job_id = client.call("generateImage", request, False, False)["jobId"]
    results = results_of(client, job_id, count, timeout=240)

    for result in results:
        name = result["url"].removeprefix("outputs/")
        command = cli.say(f"!fetch {name}")
        made = cli.made(command)
        original = np.asarray(Image.open(server.studio.outdir / name).convert("RGB"))
        again = np.asarray(Image.open(made).convert("RGB"))
        assert np.array_equal(original, again), f"{mode}: `{command}` did not reproduce {name}"


def test_a_recipe_naming_a_file_outside_the_output_tree_is_refused_by_fetch(server, cli, tmp_path):
    from ldm.invoke import metadata as md

    secret = server.studio.outdir.parent / "secret.png"
    secret.write_bytes(encoded(noise_picture()))
    for recorded in ("../secret.png", str(secret), "outputs/../secret.png"):
        meta = md.build_metadata({}, {"type": "img2img", "prompt": "x", "seed": 1, "init_image_path": recorded})
        path = server.studio.outdir / "hostile.png"
        path.write_bytes(md.png_bytes(md.attach_metadata(Image.new("RGB", (8, 8)), meta)))
        error = cli.cli.execute("!fetch hostile.png")
        assert error is not None and ("outputs/" in error or "'..'" in error or "outside" in error), error
        path.unlink()


# -- queue rows from before requests existed ----------------------------------------------------------


def old_row(db: sqlite3.Connection, job_id: str, seq: int, kind: str, payload: dict, summary: str) -> None:
    db.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, 'queued', 0)", (job_id, seq, kind, json.dumps(payload), summary))


def test_queue_rows_from_the_previous_version_resume_translated_or_are_reported_by_name(server_factory, test_root,
                                                                                         tmp_path, connect):
    root = private_root(test_root, tmp_path / "root")
    (root / "databases").mkdir()
    db = sqlite3.connect(root / "databases" / "queue.sqlite3", isolation_level=None)
    db.execute(JOBS_TABLE)
    generate = {"generation_parameters": {**params(seed=9, progress_latents=False), "generation_mode": None},
                "esrgan_parameters": None, "facetool_parameters": None}
    generate["generation_parameters"].pop("generation_mode")
    old_row(db, "old-txt2img", 1, "generate", {"request": generate, "mask_url": None}, "txt2img: “old one”")
    gone = {**generate, "generation_parameters": {**generate["generation_parameters"],
                                                  "init_img": "outputs/init-images/gone.png"}}
    old_row(db, "old-img2img", 2, "generate", {"request": gone, "mask_url": None}, "img2img: “its init is gone”")
    old_row(db, "old-upscale", 3, "postprocess",
            {"request": {"original_image": {"url": "outputs/000001.1.png"},
                         "postprocessing_parameters": {"type": "esrgan", "upscale": [2, 0.5]}}}, "esrgan: 000001.1.png")
    old_row(db, "old-junk", 4, "generate", {"something": "else"}, "txt2img: “junk”")
    db.close()

    server = server_factory(root=root)
    client = connect(server.url)
    client.emit("requestQueue")
    queue = client.wait_for("queueUpdate")[0]["jobs"]
    assert [(j["id"], j["status"]) for j in queue if j["id"].startswith("old-")] == [
        ("old-txt2img", "paused"), ("old-img2img", "paused"), ("old-upscale", "paused"), ("old-junk", "paused")]
    assert [j for j in queue if "requestId" in j] == []  # rows of a version without request ids load without one
    client.emit("resumeQueue")
    [result] = results_of(client, "old-txt2img", 1, timeout=180)
    assert result["metadata"]["image"]["seed"] == 9
    for job_id, summary in (("old-img2img", "its init is gone"), ("old-upscale", "000001.1.png"),
                            ("old-junk", "junk")):
        failed = wait_status(client, job_id, "failed", timeout=120)
        assert summary in failed["message"] and "earlier version" in failed["message"], failed
        assert "Traceback" not in failed["message"]
