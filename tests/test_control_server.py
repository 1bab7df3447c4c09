"""The control contract's server side over a real Socket.IO client: control uploads kept apart from
the gallery, systemConfig's control lists, map previews made where jobs run (beside a running
generation, reused when asked again, bad input named by field), maps sent to the Uploads, and the
map each result used saved beside it and named in its recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke.control.canny import canny_edges
from ldm.invoke.control.preprocess import fit_to
from ldm.invoke.metadata import read_metadata
from tests.support.tiny_control import build_control_root
from tests.test_server_walkthrough import params, results_of

LINCOLN = Path(__file__).parent / "assets" / "Lincoln-and-Parrot-512.png"


@pytest.fixture(scope="module")
def control_server(module_server_factory, tmp_path_factory):
    root = build_control_root(tmp_path_factory.mktemp("control-root"))
    srv = module_server_factory(root=root, precision="float32")
    assert srv.studio.wait_until_loaded(180), "the tiny model did not load"
    return srv


def upload_control(client) -> dict:
    return client.call("uploadImage", LINCOLN.read_bytes(), "lincoln.png", "control")


def on_disk(server, url: str) -> Path:
    return server.studio.outdir / url.removeprefix("outputs/")


def test_a_control_upload_is_kept_under_control_images_outside_the_gallery(control_server, connect):
    client = connect(control_server.url)
    mark = client.mark()
    info = upload_control(client)
    assert info["url"].startswith("outputs/control-images/lincoln.") and info["destination"] == "control"
    assert (info["width"], info["height"]) == (512, 512)
    told = client.wait_for("imageUploaded", after=mark)[0]
    assert told["url"] == info["url"] and told["destination"] == "control"
    assert on_disk(control_server, info["url"]).read_bytes() == LINCOLN.read_bytes()
    client.emit("requestImages", "user")
    shown = client.wait_for("galleryImages", lambda d: d.get("category") == "user", after=mark)[0]["images"]
    assert info["url"] not in [image["url"] for image in shown]


def test_system_config_lists_the_preprocessors_their_weights_and_the_modes(control_server, connect):
    from ldm.invoke.control.table import PREPROCESSORS

    client = connect(control_server.url)
    client.emit("requestSystemConfig")
    config = client.wait_for("systemConfig")[0]
    listed = config["control_preprocessors"]
    assert [p["id"] for p in listed] == list(PREPROCESSORS)
    canny = next(p for p in listed if p["id"] == "canny")
    assert canny["a1111"] == "canny" and canny["weights"] == [] and canny["missing"] == []
    assert canny["settings"]["low_threshold"] == {"min": 1, "max": 255, "integer": True, "default": 100}
    hed = next(p for p in listed if p["id"] == "softedge_hed")
    assert hed["weights"] == ["ControlNetHED.pth"] and hed["missing"] == ["ControlNetHED.pth"]
    assert [m["id"] for m in config["control_modes"]] == ["balanced", "prompt", "control"]
    assert {"id": "fit", "name": "Resize and Fill"} in config["resize_modes"]


def test_a_map_preview_is_the_preprocessor_s_map_saved_under_control_images_and_reused(control_server, connect):
    client = connect(control_server.url)
    url = upload_control(client)["url"]
    ask = {"image": url, "preprocessor": "canny", "settings": {"low_threshold": 50, "high_threshold": 150},
           "resize_mode": "fit", "width": 128, "height": 64}
    answer = client.call("requestControlMap", ask)
    assert answer["url"].startswith("outputs/control-images/map.") and answer["preprocessor"] == "canny"
    assert (answer["width"], answer["height"]) == (128, 64)
    made = on_disk(control_server, answer["url"])
    expected = fit_to(canny_edges(Image.open(LINCOLN), 50, 150), 128, 64, "fit")
    assert np.array_equal(np.asarray(Image.open(made).convert("RGB")), np.asarray(expected))
    stamp = made.stat().st_mtime_ns
    assert client.call("requestControlMap", ask) == answer and made.stat().st_mtime_ns == stamp  # reused
    other = client.call("requestControlMap", {**ask, "settings": {"low_threshold": 200}}, "preview-2")
    assert other["url"] != answer["url"]
    # Without a size the map has the picture's.
    whole = client.call("requestControlMap", {"image": url, "preprocessor": "canny"})
    assert (whole["width"], whole["height"]) == (512, 512)


def test_a_map_preview_is_answered_while_a_generation_runs(control_server, connect):
    client = connect(control_server.url)
    url = upload_control(client)["url"]
    job_id = client.call("generateImage", params(steps=1000), False, False)["jobId"]
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id and d.get("currentStep", 0) >= 2,
                    timeout=120)
    answer = client.call("requestControlMap", {"image": url, "preprocessor": "tile_resample",
                                               "settings": {"down_sampling_rate": 4}}, timeout=60)
    assert (answer["width"], answer["height"]) == (128, 128)
    job = control_server.studio.jobs.get(job_id)
    assert job.status == "running", "the preview waited for the generation"
    client.emit("cancel", job_id)
    client.wait_for("processingCanceled", lambda d: d.get("jobId") == job_id, timeout=60)


@pytest.mark.parametrize("ask, field, words", [
    ({"preprocessor": "depth_leres"}, "control.preprocessor", "unknown preprocessor 'depth_leres'"),
    ({"preprocessor": "softedge_hed"}, "control.preprocessor", "needs its weights file ControlNetHED.pth"),
    ({"preprocessor": "canny", "settings": {"low_threshold": 999}}, "control.settings.low_threshold", "255"),
    ({"image": "outputs/control-images/gone.png"}, "control.image", "gone.png"),
    ({"image": "outputs/control-images/broken.png"}, "control.image", "not a readable image"),
    ({"preprocessor": 5}, "control.preprocessor", "valid string"),
])
def test_a_bad_map_request_is_refused_naming_the_field(control_server, connect, ask, field, words):
    client = connect(control_server.url)
    url = upload_control(client)["url"]
    (control_server.studio.outdir / "control-images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    mark = client.mark()
    answer = client.call("requestControlMap", {"image": url, "preprocessor": "canny", **ask})
    assert answer["field"] == field and words in answer["error"], answer
    error = client.wait_for("error", after=mark)[0]
    assert error["field"] == field and error["message"] == answer["error"]
    assert "url" in client.call("requestControlMap", {"image": url, "preprocessor": "none"})  # it lives on


def test_a_map_sent_to_the_gallery_is_an_upload_of_it(control_server, connect):
    client = connect(control_server.url)
    other = connect(control_server.url)
    url = upload_control(client)["url"]
    made = client.call("requestControlMap", {"image": url, "preprocessor": "canny"})
    mark, other_mark = client.mark(), other.mark()
    saved = client.call("saveControlMap", {"url": made["url"]})
    assert saved["url"].startswith("outputs/init-images/map.") and (saved["width"], saved["height"]) == (512, 512)
    assert on_disk(control_server, saved["url"]).read_bytes() == on_disk(control_server, made["url"]).read_bytes()
    told = client.wait_for("imageUploaded", after=mark)[0]
    assert told["url"] == saved["url"] and told["destination"] is None
    news = other.wait_for("galleryImages", lambda d: d.get("category") == "user", after=other_mark)[0]
    assert [image["url"] for image in news["images"]] == [saved["url"]]
    refused = client.call("saveControlMap", {"url": saved["url"]})  # not a map
    assert refused["field"] == "url" and "is not a control map" in refused["error"]


def test_a_result_records_the_map_it_used_saved_beside_it(control_server, connect):
    client = connect(control_server.url)
    url = upload_control(client)["url"]
    unit = {"model": "tiny-canny", "image": url, "preprocessor": "canny", "resize_mode": "crop"}
    job_id = client.call("generateImage", params(steps=2, control=[unit, {**unit, "preprocessor": "none"}]),
                         False, False)["jobId"]
    result = results_of(client, job_id, 1, timeout=240)[0]
    made = on_disk(control_server, result["url"])
    recorded = read_metadata(made)["image"]["control"]
    stem = made.name.removesuffix(".png")
    assert [u["map_path"] for u in recorded] == [f"outputs/control-images/{stem}.control-{i}.png" for i in (0, 1)]
    edges = np.asarray(Image.open(on_disk(control_server, recorded[0]["map_path"])).convert("RGB"))
    assert np.array_equal(edges, np.asarray(fit_to(canny_edges(Image.open(LINCOLN)), 64, 64, "crop")))
    picture = np.asarray(Image.open(on_disk(control_server, recorded[1]["map_path"])).convert("RGB"))
    assert np.array_equal(picture, np.asarray(fit_to(Image.open(LINCOLN).convert("RGB"), 64, 64, "crop")))
