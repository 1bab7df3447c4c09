"""The user guide's walkthrough, over a real Socket.IO connection to a real server running the demo model."""

from __future__ import annotations

import base64
import hashlib
import json
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

pytestmark = pytest.mark.timeout(300)


def params(**overrides: object) -> dict:
    """What the 2.1 UI sends for a small txt2img request."""
    base = {
        "prompt": "strawberry sushi", "iterations": 1, "steps": 3, "cfg_scale": 7.5, "threshold": 0, "perlin": 0,
        "height": 64, "width": 64, "sampler_name": "k_euler", "seed": 1234, "progress_images": False,
        "progress_latents": True, "save_intermediates": 5, "seamless": False, "hires_fix": False,
        "variation_amount": 0, "generation_mode": "txt2img",  # a 2.2 field: ignored
    }
    base.update(overrides)
    return base


def png_bytes(size: tuple[int, int] = (64, 64), color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def client(server, connect):
    return connect(server.url)


def base_url(server) -> str:
    return server.url.rstrip("/")


def results_of(client, job_id: str, count: int, event: str = "generationResult", timeout: float = 120) -> list[dict]:
    """The job's results, once its final progressUpdate came; fails at once if the job reports an error."""
    def finished(d: dict) -> bool:
        return d.get("jobId") == job_id and not d["isProcessing"]

    client.wait_for("progressUpdate", finished, timeout=timeout)
    errors = [e["message"] for e in client.of("error") if e.get("jobId") == job_id]
    assert not errors, errors
    found = [d for d in client.of(event) if d.get("jobId") == job_id]
    assert len(found) == count, f"{len(found)} × {event} for job {job_id}, expected {count}"
    return found


def wait_status(client, job_id: str, status: str, timeout: float = 60) -> dict:
    """The job's entry in the first queueUpdate that shows it with ``status``."""
    def has(d: dict) -> bool:
        return any(j["id"] == job_id and j["status"] == status for j in d["jobs"])

    update = client.wait_for("queueUpdate", has, timeout=timeout)[0]
    return next(j for j in update["jobs"] if j["id"] == job_id)


def test_text_to_image_walkthrough(server, client):
    client.emit("requestSystemConfig")
    config = client.wait_for("systemConfig")[0]
    assert config["model"] == "stable diffusion"
    assert config["model_id"] == "demo" and config["model_hash"]
    assert config["app_id"] == "invoke-ai/InvokeAI" and config["app_version"]
    assert config["model_list"]["demo"]["status"] == "active"
    assert config["model_list"]["demo-alt"]["status"] in ("cached", "not loaded")

    job_id = client.call("generateImage", params(iterations=3), False, False)["jobId"]
    results = results_of(client, job_id, 3)

    steps = [d for d in client.of("progressUpdate") if d.get("jobId") == job_id and d["currentStatusHasSteps"]]
    assert [(d["currentIteration"], d["currentStep"]) for d in steps] == [(i, s) for i in (1, 2, 3) for s in (1, 2, 3)]
    assert all(d["totalSteps"] == 3 and d["totalIterations"] == 3 and d["isProcessing"] for d in steps)
    assert steps[-1]["itPerSec"] > 0 and steps[-1]["eta"] is not None
    final = client.of("progressUpdate")[-1]
    assert final["isProcessing"] is False and final["currentStatus"] == "Processing Complete"

    previews = [d for d in client.of("intermediateResult") if d.get("jobId") == job_id]
    assert len(previews) == 9
    assert previews[0]["isBase64"] is True and previews[0]["width"] == 64 and previews[0]["mtime"] == 0
    header, data = previews[0]["url"].split(",", 1)
    assert header == "data:image/png;base64"
    assert Image.open(BytesIO(base64.b64decode(data))).format == "PNG"

    for result in results:
        assert result["url"].startswith("outputs/") and result["category"] == "result"
        assert (result["width"], result["height"]) == (64, 64)
        response = requests.get(f"{base_url(server)}/{result['url']}", timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
        image = Image.open(BytesIO(response.content))
        assert json.loads(image.info["sd-metadata"]) == result["metadata"]
        assert image.info["Dream"].startswith("'strawberry sushi'") or image.info["Dream"].startswith('"strawberry')
        assert result["metadata"]["image"]["steps"] == 3 and result["metadata"]["image"]["sampler"] == "k_euler"
    assert results[0]["metadata"]["image"]["seed"] == 1234
    assert results[0]["url"].endswith(".1234.png")
    # The thread count the worker computes with, as the image records it (Use All compares the two).
    assert config["threads"] >= 1 and results[0]["metadata"]["image"]["threads"] == config["threads"]
    # So are the attention and --compile (they change pixels too; the UI warns when a recipe differs).
    assert config["attention"] in ("sdpa", "sliced") and config["compiled"] is False
    assert results[0]["metadata"]["image"]["attention"] == config["attention"]

    client.emit("requestImages", "result")
    page = client.wait_for("galleryImages", lambda d: d["category"] == "result")[-1]
    assert [i["url"] for i in page["images"][:3]] == [r["url"] for r in reversed(results)]
    assert page["areMoreImagesAvailable"] is False


def test_two_clients_both_see_every_job_event_and_five_requests_run_in_order(server, connect):
    first, second = connect(server.url), connect(server.url)
    job_ids = [first.call("generateImage", params(prompt=f"job {n}", steps=2, seed=n), False, False)["jobId"]
               for n in range(5)]
    for client in (first, second):
        results = client.wait_for("generationResult", lambda d: d.get("jobId") in job_ids, count=5, timeout=180)
        assert [r["jobId"] for r in results] == job_ids
        assert [r["metadata"]["image"]["prompt"][0]["prompt"] for r in results] == [f"job {n}" for n in range(5)]
    queue = second.wait_for("queueUpdate", lambda d: all(
        any(j["id"] == i and j["status"] == "done" for j in d["jobs"]) for i in job_ids))[-1]
    assert [j["id"] for j in queue["jobs"] if j["id"] in job_ids] == job_ids
    # A request's answer goes to the requester only.
    second.emit("requestSystemConfig")
    second.wait_for("systemConfig")
    assert first.of("systemConfig") == []


def test_cancel_stops_a_long_job_within_two_steps_and_the_next_job_runs(server, client):
    # 256 px, so that a step takes longer than the cancel's trip to the server on a busy machine (at 64 px
    # the demo model's steps take a few ms, and "within two steps" measured the socket, not the engine).
    long_job = client.call("generateImage", params(steps=50, width=256, height=256, progress_latents=False),
                           False, False)["jobId"]
    next_job = client.call("generateImage", params(steps=2, seed=7), False, False)["jobId"]
    seen = client.wait_for("progressUpdate", lambda d: d.get("jobId") == long_job and d["currentStep"] >= 3)
    last_seen = max(d["currentStep"] for d in client.of("progressUpdate") if d.get("jobId") == long_job)
    client.emit("cancel")
    client.wait_for("processingCanceled", lambda d: d.get("jobId") == long_job, timeout=60)
    steps = [d["currentStep"] for d in client.of("progressUpdate") if d.get("jobId") == long_job]
    assert seen and max(steps) <= last_seen + 2, f"canceled after step {last_seen}, still ran to {max(steps)}"
    assert not [d for d in client.of("generationResult") if d.get("jobId") == long_job]
    results_of(client, next_job, 1)
    wait_status(client, long_job, "canceled")
    wait_status(client, next_job, "done")


def test_cancel_by_job_id_drops_a_waiting_job(server, client):
    running = client.call("generateImage", params(steps=12), False, False)["jobId"]
    waiting = client.call("generateImage", params(steps=2), False, False)["jobId"]
    client.emit("cancel", {"jobId": waiting})
    results_of(client, running, 1)
    wait_status(client, waiting, "canceled")
    wait_status(client, running, "done")
    assert not [d for d in client.of("generationResult") if d.get("jobId") == waiting]


def test_upload_then_image_to_image(server, client):
    client.emit("uploadImage", png_bytes(), "my sketch.png", "img2img")
    uploaded = client.wait_for("imageUploaded")[0]
    assert uploaded["url"].startswith("outputs/init-images/my_sketch.") and uploaded["url"].endswith(".png")
    assert uploaded["category"] == "user" and uploaded["destination"] == "img2img"
    assert (uploaded["width"], uploaded["height"]) == (64, 64)
    assert (server.studio.outdir / "init-images").joinpath(uploaded["url"].rpartition("/")[2]).is_file()

    job_id = client.call(
        "generateImage", params(init_img=uploaded["url"], strength=0.5, steps=6, fit=False), False, False
    )["jobId"]
    result = results_of(client, job_id, 1)[0]
    steps = [d for d in client.of("progressUpdate") if d.get("jobId") == job_id and d["currentStatusHasSteps"]]
    assert {d["totalSteps"] for d in steps} == {3}  # floor(strength × steps)
    image_meta = result["metadata"]["image"]
    assert image_meta["type"] == "img2img" and image_meta["strength"] == 0.5
    assert image_meta["init_image_path"] == uploaded["url"]

    client.emit("requestImages", "user")
    page = client.wait_for("galleryImages", lambda d: d["category"] == "user")[-1]
    assert uploaded["url"] in [i["url"] for i in page["images"]]


def test_inpainting_a_picture_whose_sides_are_off_the_8_px_grid(server, client):
    client.emit("uploadImage", png_bytes(size=(100, 75), color=(40, 90, 160)), "odd.png", "inpainting")
    init = client.wait_for("imageUploaded", lambda d: d["width"] == 100)[-1]
    mask = Image.new("L", (100, 75), 0)
    mask.paste(255, (10, 10, 40, 40))
    buffer = BytesIO()
    mask.save(buffer, format="PNG")
    job_id = client.call("generateImage", params(
        init_img=init["url"], init_mask=base64.b64encode(buffer.getvalue()).decode(), strength=0.9, steps=3,
        width=100, height=75, bounding_box={"x": 0, "y": 0, "width": 100, "height": 75}), False, False)["jobId"]
    result = results_of(client, job_id, 1)[0]
    assert (result["width"], result["height"]) == (100, 75)


def test_an_outpainting_frame_is_kept_outside_the_uploads_gallery(server, client):
    frame = Image.new("RGBA", (128, 64), (0, 0, 0, 0))
    frame.paste(Image.new("RGBA", (64, 64), (30, 60, 220, 255)), (0, 0))
    buffer = BytesIO()
    frame.save(buffer, format="PNG")
    client.emit("uploadImage", buffer.getvalue(), "frame.png", "outpainting")
    uploaded = client.wait_for("imageUploaded", lambda d: d["destination"] == "outpainting")[-1]
    assert uploaded["url"].startswith("outputs/canvas-images/")
    client.emit("requestImages", "user")
    page = client.wait_for("galleryImages", lambda d: d["category"] == "user")[-1]
    assert uploaded["url"] not in [i["url"] for i in page["images"]]
    job_id = client.call("generateImage", params(init_img=uploaded["url"], strength=1.0, steps=3, width=128),
                         False, False)["jobId"]
    result = results_of(client, job_id, 1)[0]
    assert (result["width"], result["height"]) == (128, 64)
    assert result["metadata"]["image"]["type"] == "inpaint"
    assert result["metadata"]["image"]["init_image_path"] == uploaded["url"]


def test_inpainting_with_a_mask_sent_inline(server, client):
    client.emit("uploadImage", png_bytes(color=(10, 200, 30)), "photo.png", "inpainting")
    init_url = client.wait_for("imageUploaded")[0]["url"]
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    buffer = BytesIO()
    mask.save(buffer, format="PNG")
    job_id = client.call("generateImage", params(
        init_img=init_url, init_mask=base64.b64encode(buffer.getvalue()).decode(), strength=0.9, steps=4,
        bounding_box={"x": 0, "y": 0, "width": 64, "height": 64}, inpaint_replace=0.0, seam_size=0,
    ), False, False)["jobId"]
    result = results_of(client, job_id, 1)[0]
    assert result["metadata"]["image"]["type"] == "inpaint"
    assert result["metadata"]["image"]["seam_size"] == 0
    painted = Image.open(BytesIO(requests.get(f"{base_url(server)}/{result['url']}", timeout=10).content))
    outside = np.asarray(mask) == 0  # a seam of 0: every unpainted pixel keeps its colour exactly
    assert (np.asarray(painted.convert("RGB"))[outside] == (10, 200, 30)).all()
    mask_url = result["metadata"]["image"]["mask_image_path"]
    assert mask_url.startswith("outputs/mask-images/mask.")
    assert requests.get(f"{base_url(server)}/{mask_url}", timeout=10).status_code == 200


def test_postprocessing_a_result(server, client):
    job_id = client.call("generateImage", params(seed=99, steps=2), False, False)["jobId"]
    original = results_of(client, job_id, 1)[0]

    job_id = client.call("runPostprocessing", original, {"type": "esrgan", "upscale": [2, 0.8]})["jobId"]
    upscaled = results_of(client, job_id, 1, event="postprocessingResult", timeout=180)[0]
    assert upscaled["url"].endswith(".99.postprocessed.png")
    assert (upscaled["width"], upscaled["height"]) == (128, 128)
    assert upscaled["metadata"]["image"]["postprocessing"] == [{"type": "esrgan", "scale": 2, "strength": 0.8}]
    assert any(d["currentStatus"] == "Upscaling" for d in client.of("progressUpdate") if d.get("jobId") == job_id)

    job_id = client.call("runPostprocessing", upscaled, {"type": "gfpgan", "facetool_strength": 0.8})["jobId"]
    restored = results_of(client, job_id, 1, event="postprocessingResult", timeout=180)[0]
    steps = restored["metadata"]["image"]["postprocessing"]
    assert [s["type"] for s in steps] == ["esrgan", "gfpgan"]
    response = requests.get(f"{base_url(server)}/{restored['url']}", timeout=10)
    assert response.status_code == 200 and Image.open(BytesIO(response.content)).size == (128, 128)


def test_upscale_then_face_restoration_in_one_job(server, client):
    job_id = client.call("generateImage", params(seed=7, steps=2), False, False)["jobId"]
    original = results_of(client, job_id, 1)[0]
    both = {"type": "esrgan", "upscale": [2, 0.9], "facetool": {"type": "codeformer", "strength": 0.6,
                                                                 "codeformer_fidelity": 0.4}}
    job_id = client.call("runPostprocessing", original, both)["jobId"]
    result = results_of(client, job_id, 1, event="postprocessingResult", timeout=180)[0]
    client.wait_for("queueUpdate", lambda d: any(j["id"] == job_id and j["status"] == "done" for j in d["jobs"]))
    assert len([r for r in client.of("postprocessingResult") if r.get("jobId") == job_id]) == 1
    assert (result["width"], result["height"]) == (128, 128)
    steps = result["metadata"]["image"]["postprocessing"]
    assert [s["type"] for s in steps] == ["esrgan", "codeformer"]
    assert steps[1]["strength"] == 0.6 and steps[1]["fidelity"] == 0.4
    statuses = [d["currentStatus"] for d in client.of("progressUpdate") if d.get("jobId") == job_id]
    assert statuses.index("Upscaling") < statuses.index("Restoring Faces") < statuses.index("Saving Image")


def test_a_large_upscale_reports_its_tiles_and_cancels_between_them(server, client):
    rng = np.random.default_rng(5)
    buffer = BytesIO()
    Image.fromarray((rng.random((1024, 1024, 3)) * 255).astype(np.uint8)).save(buffer, format="PNG")
    client.emit("uploadImage", buffer.getvalue(), "big.png", "postprocessing")
    big = client.wait_for("imageUploaded", lambda d: d["width"] == 1024)[-1]
    job_id = client.call("runPostprocessing", big, {"type": "esrgan", "upscale": [2, 1.0]})["jobId"]
    first = client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id and d["currentStatusHasSteps"],
                            timeout=120)[-1]
    assert first["currentStatus"] == "Upscaling" and first["totalSteps"] == 16  # 256 px tiles on the CPU
    client.emit("cancel", {"jobId": job_id})
    client.wait_for("processingCanceled", lambda d: d.get("jobId") == job_id, timeout=60)
    tiles = [d["currentStep"] for d in client.of("progressUpdate") if d.get("jobId") == job_id]
    assert max(tiles) < 16
    assert not [d for d in client.of("postprocessingResult") if d.get("jobId") == job_id]
    wait_status(client, job_id, "canceled")


def test_generation_with_upscaling_after_each_image(server, client):
    job_id = client.call("generateImage", params(steps=2), {"level": 2, "strength": 0.5}, False)["jobId"]
    result = results_of(client, job_id, 1, timeout=180)[0]
    assert (result["width"], result["height"]) == (128, 128)
    assert result["url"].endswith(".postprocessed.png")
    statuses = [d["currentStatus"] for d in client.of("progressUpdate") if d.get("jobId") == job_id]
    assert "Upscaling" in statuses and statuses.index("Upscaling") < statuses.index("Saving Image")


def test_saved_intermediates_every_n_steps(server, client):
    job_id = client.call("generateImage", params(
        steps=4, progress_images=True, progress_latents=False, save_intermediates=2), False, False)["jobId"]
    results_of(client, job_id, 1)
    saved = [d for d in client.of("intermediateResult") if d.get("jobId") == job_id]
    assert len(saved) == 2 and all(d["url"].startswith("outputs/intermediates/") for d in saved)
    assert not any(d.get("isBase64") for d in saved)
    response = requests.get(f"{base_url(server)}/{saved[0]['url']}", timeout=10)
    assert Image.open(BytesIO(response.content)).size == (64, 64)


def test_delete_image_moves_it_to_the_trash_and_tells_everyone(server, client, connect):
    other = connect(server.url)
    job_id = client.call("generateImage", params(steps=2), False, False)["jobId"]
    result = results_of(client, job_id, 1)[0]
    path = server.studio.outdir / result["url"].removeprefix("outputs/")
    assert path.is_file()
    client.emit("deleteImage", result["url"], "uuid-1", "result")
    for c in (client, other):
        assert c.wait_for("imageDeleted")[0] == {"url": result["url"], "uuid": "uuid-1", "category": "result"}
    assert not path.exists()
    assert requests.get(f"{base_url(server)}/{result['url']}", timeout=10).status_code == 404
    client.emit("requestImages", "result")
    page = client.wait_for("galleryImages")[-1]
    assert result["url"] not in [i["url"] for i in page["images"]]


def test_a_failing_job_reports_an_error_and_the_queue_goes_on(server, client):
    # Too wide to work on without fit: the upload is fine, the job fails when it runs.
    client.emit("uploadImage", png_bytes((2056, 64)), "doomed.png", "img2img")
    init_url = client.wait_for("imageUploaded")[0]["url"]
    blocker = client.call("generateImage", params(steps=25, progress_latents=False), False, False)["jobId"]
    doomed = client.call("generateImage", params(init_img=init_url, strength=0.5, steps=4), False, False)["jobId"]
    after = client.call("generateImage", params(steps=2), False, False)["jobId"]
    error = client.wait_for("error", lambda d: d.get("jobId") == doomed, timeout=120)[0]
    assert "init_img" in error["message"] and "2048" in error["message"]
    results_of(client, blocker, 1)
    results_of(client, after, 1)
    assert "init_img" in wait_status(client, doomed, "failed")["message"]
    assert requests.get(f"{base_url(server)}/healthz", timeout=10).json()["status"] == "ok"


def test_a_queued_job_keeps_its_init_image_when_the_file_is_deleted(server, client):
    """The request carries its images by content: deleting the upload later changes nothing."""
    client.emit("uploadImage", png_bytes(), "kept.png", "img2img")
    init_url = client.wait_for("imageUploaded")[0]["url"]
    blocker = client.call("generateImage", params(steps=20, progress_latents=False), False, False)["jobId"]
    job = client.call("generateImage", params(init_img=init_url, strength=0.5, steps=4), False, False)["jobId"]
    client.emit("deleteImage", init_url, "u", "user")
    client.wait_for("imageDeleted")
    results_of(client, blocker, 1)
    result = results_of(client, job, 1)[0]
    assert result["metadata"]["image"]["init_image_path"] == init_url
    assert result["metadata"]["image"]["init_image_hash"] == hashlib.sha256(png_bytes()).hexdigest()


def test_a_random_seed_and_a_client_with_no_images_yet(server, client):
    job_id = client.call("generateImage", params(seed=-1, steps=2), False, False)["jobId"]
    seed = results_of(client, job_id, 1)[0]["metadata"]["image"]["seed"]
    assert isinstance(seed, int) and 0 <= seed <= 4294967295
    client.emit("requestLatestImages", "result", None)  # what 2.1 sends before it has any image
    assert client.wait_for("galleryImages")[0]["images"]


def test_an_init_image_that_is_already_gone_is_refused_at_once(server, client):
    client.emit("generateImage", params(init_img="outputs/init-images/never-uploaded.png"), False, False)
    assert "does not exist" in client.wait_for("error")[0]["message"]


def test_switching_models(server, client, connect):
    other = connect(server.url)
    client.emit("requestModelChange", "demo-alt")
    changed = other.wait_for("modelChanged", timeout=120)[0]
    assert changed["model_name"] == "demo-alt" and changed["model_list"]["demo-alt"]["status"] == "active"
    client.emit("requestModelChange", "no-such-model")
    failed = client.wait_for("modelChangeFailed", timeout=60)[0]
    assert failed["model_name"] == "no-such-model"
    assert "no-such-model" in client.wait_for("error")[0]["message"]
    client.emit("requestModelChange", "demo")
    client.wait_for("modelChanged", lambda d: d["model_name"] == "demo", timeout=120)
    client.emit("requestSystemConfig")
    assert client.wait_for("systemConfig", lambda d: d["model_id"] == "demo")


def test_ui_and_health_routes(server):
    index = requests.get(base_url(server) + "/", timeout=10)
    assert index.status_code == 200 and "text/html" in index.headers["Content-Type"]
    health = requests.get(base_url(server) + "/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["model_loaded"] is True


def test_in_process_api_for_the_desktop_window(server, client, tmp_path: Path):
    picked = tmp_path / "dropped photo.jpg"
    Image.new("RGB", (80, 48), (1, 2, 3)).save(picked, format="JPEG")
    info = server.studio.upload_file(picked)
    assert info["url"].startswith("outputs/init-images/dropped_photo.") and info["url"].endswith(".jpg")
    assert client.wait_for("galleryImages", lambda d: d["category"] == "user" and d["images"][0]["url"] == info["url"])
    assert server.studio.resolve_output_url(info["url"]).read_bytes() == picked.read_bytes()
    from invokeai_gui.server.security import UnsafePathError

    with pytest.raises(UnsafePathError):
        server.studio.resolve_output_url("outputs/../../etc/passwd")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    from invokeai_gui.server.uploads import UploadError

    with pytest.raises(UploadError):
        server.studio.upload_file(text)
