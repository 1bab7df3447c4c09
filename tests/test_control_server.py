"""The control contract's server side over a real Socket.IO client: control uploads kept apart from
the gallery, systemConfig's control lists, map previews made where jobs run (beside a running
generation, reused when asked again, bad input named by field), maps sent to the Uploads, and the
map each result used saved beside it and named in its recipe."""

from __future__ import annotations

import base64
import io
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
    assert next(p for p in listed if p["id"] == "inpaint_only")["masks"] is True and canny["masks"] is False
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
    # A unit without a picture previews the map of the init image it will take...
    taken = client.call("requestControlMap", {**ask, "image": "", "init_img": url})
    assert np.array_equal(np.asarray(Image.open(on_disk(control_server, taken["url"]))), np.asarray(Image.open(made)))
    # ...and an Inpaint unit's, with the painted mask sent as generateImage sends it, fills the painted part.
    painted = Image.new("L", (512, 512))
    painted.paste(255, (64, 64, 192, 256))
    buffer = io.BytesIO()
    painted.save(buffer, format="PNG")
    hole = client.call("requestControlMap", {"image": "", "init_img": url, "preprocessor": "inpaint_only",
                                             "init_mask": base64.b64encode(buffer.getvalue()).decode()})
    alpha = np.asarray(Image.open(on_disk(control_server, hole["url"])).convert("RGBA"))[..., 3]
    assert np.array_equal(alpha == 0, np.asarray(painted) == 255)
    bad = client.call("requestControlMap", {"image": "", "init_img": url, "preprocessor": "inpaint_only",
                                            "init_mask": base64.b64encode(b"not a picture").decode()})
    assert bad["field"] == "control.init_mask" and "not an image" in bad["error"], bad


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
    ({"width": 64}, "control", "send width and height together"),
    ({"image": ""}, "control.image", "the request has no init image for it to take"),
    ({"image": "", "init_img": "outputs/init-images/gone.png"}, "control.init_img", "gone.png"),
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


# -- the A1111 API: kept pictures, recall, the extension's unit fields, detect -----------------------


def unit_of(module: str = "canny", **fields):
    import webuiapi

    values = {"threshold_a": 100, "threshold_b": 200, "resize_mode": "Crop and Resize", **fields}
    return webuiapi.ControlNetUnit(image=Image.open(LINCOLN), module=module, model="tiny-canny [0123abcd]", **values)


def txt2img(server, units, **fields):
    import webuiapi

    api = webuiapi.WebUIApi(host="127.0.0.1", port=server.port)
    values = {"prompt": "a parrot on a shoulder", "seed": 7, "steps": 2, "width": 64, "height": 64,
              "sampler_name": "Euler", "cfg_scale": 7.5, **fields}
    # A fresh alwayson_scripts: webuiapi's default dict is shared, and its units would ride on later calls.
    return api.txt2img(controlnet_units=units, alwayson_scripts={}, **values)


def recipe_of(result) -> dict:
    with Image.open(io.BytesIO(base64.b64decode(result.json["images"][0]))) as image:
        return read_metadata(image)


def test_an_api_unit_s_picture_is_kept_and_png_info_brings_the_unit_back_to_the_same_pixels(control_server):
    import json

    import requests
    import webuiapi

    from ldm.invoke.request import GenerationRequest

    first = txt2img(control_server, [unit_of()])
    reply = requests.post(f"{control_server.url}/sdapi/v1/png-info", json={"image": first.json["images"][0]},
                          timeout=30)
    unit = json.loads(reply.json()["items"]["sd-metadata"])["image"]["control"][0]
    assert unit["image_path"].startswith("outputs/control-images/api.") and unit["preprocessor"] == "canny"
    kept = requests.get(f"{control_server.url}/{unit['image_path']}", timeout=30)
    assert kept.status_code == 200 and np.array_equal(np.asarray(Image.open(LINCOLN).convert("RGB")),
                                                      np.asarray(Image.open(io.BytesIO(kept.content))
                                                                 .convert("RGB")))
    # Regenerated through the API with the picture png-info named: the same pixels.
    again = txt2img(control_server, [webuiapi.ControlNetUnit(
        image=Image.open(io.BytesIO(kept.content)), module=unit["preprocessor"],
        model=unit["model"], threshold_a=unit["settings"]["low_threshold"],
        threshold_b=unit["settings"]["high_threshold"], resize_mode="Crop and Resize")])
    assert np.array_equal(np.asarray(again.image), np.asarray(first.image))
    # And as Use All / !fetch do: the recipe itself, its unit read back from the output tree.
    studio = control_server.studio
    request = GenerationRequest.from_metadata(recipe_of(first), studio.outputs.read)
    job = studio.submit_generation(request, save=False)
    assert studio.jobs.wait_finished(job, 120) and job.status == "done", job.message
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(job.results[0]["png"])).convert("RGB")),
                          np.asarray(first.image.convert("RGB")))
    assert base64.b64decode(first.json["images"][0])  # the API's own answer is a PNG


def test_an_api_result_saved_on_the_server_has_its_maps_beside_it(control_server):
    recipe = recipe_of(txt2img(control_server, [unit_of()], save_images=True))
    map_path = recipe["image"]["control"][0]["map_path"]
    made = on_disk(control_server, map_path)
    assert made.name.endswith(".control-0.png") and (control_server.studio.outdir / made.name.replace(
        ".control-0.png", ".png")).is_file()
    expected = fit_to(canny_edges(Image.open(LINCOLN), 100, 200), 64, 64, "crop")
    assert np.array_equal(np.asarray(Image.open(made).convert("RGB")), np.asarray(expected))


def test_low_vram_changes_nothing_and_hr_option_is_moot_without_hires(control_server):
    plain = txt2img(control_server, [unit_of()])
    other = txt2img(control_server, [unit_of(low_vram=True, hr_option="High res only")])
    assert np.array_equal(np.asarray(plain.image), np.asarray(other.image))


@pytest.mark.parametrize("option", ["Medium res only", 3])
def test_an_unknown_hr_option_is_refused_naming_hr_option(control_server, option):
    import requests

    unit = unit_of(hr_option=option).to_dict()
    body = {"prompt": "x", "steps": 2, "width": 64, "height": 64, "enable_hr": True, "hr_scale": 2,
            "alwayson_scripts": {"ControlNet": {"args": [unit]}}}
    before = control_server.studio.jobs.snapshot()
    reply = requests.post(f"{control_server.url}/sdapi/v1/txt2img", json=body, timeout=60)
    assert reply.status_code == 422
    detail = reply.json()["detail"][0]
    assert detail["loc"] == ["body", "alwayson_scripts.controlnet.args[0].hr_option"]
    assert "'Both', 'Low res only', 'High res only' (or 0-2)" in detail["msg"]
    assert control_server.studio.jobs.snapshot() == before


def test_pixel_perfect_picks_the_processor_resolution_from_the_target_size():
    from invokeai_gui.server.api.controlnet import pixel_perfect_resolution

    # The extension's rule: the short side scaled as the resize mode scales the picture to the target.
    assert pixel_perfect_resolution((512, 512), (128, 64), "crop") == 128
    assert pixel_perfect_resolution((512, 512), (128, 64), "fit") == 64
    assert pixel_perfect_resolution((640, 480), (512, 512), "stretch") == 512


@pytest.fixture(scope="module")
def hed_server(control_server, module_server_factory, tmp_path_factory):
    """A server on the same models whose annotator folder holds (random-weight) HED weights."""
    from tests.support.tiny_control import write_hed_weights

    shared = control_server.studio.config.root
    root = tmp_path_factory.mktemp("hed-root")
    (root / "models").mkdir()
    for entry in (shared / "models").iterdir():
        (root / "models" / entry.name).symlink_to(entry)
    (root / "models.yaml").write_text((shared / "models.yaml").read_text())
    write_hed_weights(root / "models" / "annotators" / "ControlNetHED.pth", seed=5)
    srv = module_server_factory(root=root, precision="float32")
    assert srv.studio.wait_until_loaded(180), "the tiny model did not load"
    return srv


def test_pixel_perfect_sets_the_resolution_a_unit_s_network_sees(hed_server):
    def resolution(**fields) -> int:
        result = txt2img(hed_server, [unit_of("softedge_hed", **fields)], width=128, height=64)
        return recipe_of(result)["image"]["control"][0]["settings"]["resolution"]

    assert resolution(processor_res=96) == 96
    assert resolution(processor_res=96, pixel_perfect=True) == 128  # crop: 512 × max(128/512, 64/512)
    assert resolution(processor_res=96, pixel_perfect=True, resize_mode="Resize and Fill") == 64


def test_detect_runs_the_network_on_the_worker_and_names_a_bad_setting(hed_server, control_server):
    import requests
    import webuiapi

    api = webuiapi.WebUIApi(host="127.0.0.1", port=hed_server.port)
    edges = api.controlnet_detect([Image.open(LINCOLN)], module="softedge_hed", processor_res=64)
    assert edges.images[0].size == (64, 64)  # the map at the resolution asked for

    body = {"controlnet_module": "canny", "controlnet_input_images": [base64.b64encode(
        LINCOLN.read_bytes()).decode()], "controlnet_threshold_a": 999}
    reply = requests.post(f"{control_server.url}/controlnet/detect", json=body, timeout=60)
    assert reply.status_code == 422 and reply.json()["detail"].startswith("controlnet_threshold_a: ")
    body["controlnet_module"] = "softedge_hed"
    body.pop("controlnet_threshold_a")
    reply = requests.post(f"{control_server.url}/controlnet/detect", json=body, timeout=60)
    assert reply.status_code == 422 and "needs its weights file ControlNetHED.pth" in reply.text
    assert reply.json()["detail"].startswith("controlnet_module: ")


def test_an_unreadable_control_image_is_refused_naming_the_unit_and_the_fix_and_nothing_is_queued(control_server,
                                                                                                 connect):
    client = connect(control_server.url)
    good = upload_control(client)["url"]
    (control_server.studio.outdir / "control-images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    before = control_server.studio.jobs.snapshot()
    unit = {"model": "tiny-canny", "image": "outputs/control-images/broken.png", "preprocessor": "canny"}
    answer = client.call("generateImage", params(control=[{**unit, "image": good}, unit]), False, False)
    assert answer["field"] == "control[1].image" and "broken.png is not a readable image" in answer["error"]
    assert "choose another control image" in answer["error"]
    assert control_server.studio.jobs.snapshot() == before


def test_the_cli_saves_each_unit_s_map_beside_its_result(control_server, tmp_path):
    import re
    from io import StringIO

    from ldm.invoke.cli import InvokeCLI
    from ldm.invoke.generate import Generate

    engine = Generate(root=control_server.studio.config.root, precision="float32")
    engine.load_model()
    out = StringIO()
    cli = InvokeCLI(engine, tmp_path / "outputs", out=out)
    assert cli.execute(f'"a parrot" -s 2 -S 7 -W 64 -H 64 -A k_euler --control model=tiny-canny,image={LINCOLN},'
                       "preprocessor=canny,resize=fit") is None, out.getvalue()
    saved = Path(re.search(r"(\S+\.png): ", out.getvalue()).group(1))
    map_path = read_metadata(saved)["image"]["control"][0]["map_path"]
    assert map_path == f"outputs/control-images/{saved.stem}.control-0.png"
    made = tmp_path / "outputs" / map_path.removeprefix("outputs/")
    expected = fit_to(canny_edges(Image.open(LINCOLN)), 64, 64, "fit")
    assert np.array_equal(np.asarray(Image.open(made).convert("RGB")), np.asarray(expected))


def test_a_pool_worker_s_result_carries_its_maps_to_the_studio(control_server):
    """The actor's messages as Ray carries them (plain values), read back by the studio's side."""
    from invokeai_gui.server.pool import RemoteWorker
    from invokeai_gui.server.ray_worker import WorkerActor
    from ldm.invoke.request import ControlUnit, GenerationRequest, ImageRef

    actor = WorkerActor("worker-9", {"root": str(control_server.studio.config.root), "precision": "float32"}, None)
    unit = ControlUnit("tiny-canny", ImageRef.from_bytes(LINCOLN.read_bytes()), "canny", resize_mode="stretch")
    request = GenerationRequest("a parrot", steps=2, width=64, height=64, seed=7, control=(unit,))
    messages = list(actor.generate("task-1", request.to_json()))
    assert [m["kind"] for m in messages][-3:] == ["result", "done", "worker"], messages[-1]
    receiver = RemoteWorker.__new__(RemoteWorker)
    result = receiver._deliver(next(m for m in messages if m["kind"] == "result"), sink=None)
    expected = fit_to(canny_edges(Image.open(LINCOLN)), 64, 64, "stretch")
    assert len(result.control_maps) == 1
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(result.control_maps[0])).convert("RGB")),
                          np.asarray(expected))


def test_annotator_weights_dropped_in_count_at_once(control_server, connect):
    from tests.support.tiny_control import write_hed_weights

    client = connect(control_server.url)
    url = upload_control(client)["url"]
    weights = control_server.studio.config.root / "models" / "annotators" / "ControlNetHED.pth"

    ask = {"image": url, "preprocessor": "softedge_hed", "settings": {"resolution": 64}}
    assert "needs its weights file" in client.call("requestControlMap", ask)["error"]
    write_hed_weights(weights, seed=2)
    try:
        mark = client.mark()
        client.emit("requestSystemConfig")
        config = client.wait_for("systemConfig", after=mark)[0]
        assert next(p for p in config["control_preprocessors"] if p["id"] == "softedge_hed")["missing"] == []
        assert client.call("requestControlMap", ask)["url"].startswith("outputs/control-images/map.")
    finally:
        weights.unlink()
    assert "needs its weights file" in client.call("requestControlMap", ask)["error"]  # no stale map answers


def test_system_config_says_each_control_model_s_kind_and_a_wrong_family_adapter_is_refused_as_one(control_server,
                                                                                                    connect):
    client = connect(control_server.url)
    client.emit("requestSystemConfig")
    models = client.wait_for("systemConfig")[0]["control_models"]
    assert models["tiny-canny"]["kind"] == "controlnet" and models["tiny-adapter"]["kind"] == "t2i_adapter"
    assert models["tiny-adapter-xl"] == {**models["tiny-adapter-xl"], "family": "sdxl", "kind": "t2i_adapter"}
    before = control_server.studio.jobs.snapshot()
    image = upload_control(client)["url"]
    answer = client.call("generateImage", params(control=[{"model": "tiny-adapter-xl", "image": image}]), False, False)
    assert answer["field"] == "control[0].model"
    assert "tiny-adapter-xl is a T2I-Adapter for" in answer["error"] and "choose a T2I-Adapter made for" in answer["error"]
    assert control_server.studio.jobs.snapshot() == before


# -- a unit on one pass of hires fix: hr_option, and hires_pass over Socket.IO --------------------------


@pytest.mark.parametrize("option, hires_pass", [
    ("Both", "both"), ("Low res only", "first"), ("high res only", "second"), (0, "both"), (1, "first"),
    (2, "second"), (["High res only"], "second"), ([1], "first"),
])
def test_hr_option_in_the_extension_s_forms_says_which_hires_pass_a_unit_steers(option, hires_pass):
    from invokeai_gui.server.api.controlnet import control_units
    from invokeai_gui.server.uploads import UploadLimits

    scripts = {"ControlNet": {"args": [unit_of(hr_option=option).to_dict()]}}
    assert control_units(scripts, UploadLimits(), hires=True)[0].hires_pass == hires_pass
    assert control_units(scripts, UploadLimits(), hires=False)[0].hires_pass == "both"  # one pass: moot


def test_a_high_res_only_unit_with_enable_hr_runs_and_differs_from_both(control_server):
    # 288 × 2 = 576 px: hires fix's first pass at 512, then its second pass at 576.
    hires = {"width": 288, "height": 288, "enable_hr": True, "hr_scale": 2, "denoising_strength": 0.5}
    both = txt2img(control_server, [unit_of(hr_option="Both")], **hires)
    high = txt2img(control_server, [unit_of(hr_option="High res only")], **hires)
    assert both.image.size == high.image.size == (576, 576)
    assert np.abs(np.asarray(both.image, dtype=np.int16) - np.asarray(high.image, dtype=np.int16)).mean() > 1.0
    assert "hires_pass" not in recipe_of(both)["image"]["control"][0]
    assert recipe_of(high)["image"]["control"][0]["hires_pass"] == "second"


def test_a_socket_unit_s_hires_pass_is_recorded_and_a_bad_one_refused_naming_it(control_server, connect):
    client = connect(control_server.url)
    url = upload_control(client)["url"]
    unit = {"model": "tiny-canny", "image": url, "preprocessor": "canny", "hires_pass": "first"}
    job_id = client.call("generateImage", params(steps=2, control=[unit]), False, False)["jobId"]
    made = on_disk(control_server, results_of(client, job_id, 1, timeout=240)[0]["url"])
    assert read_metadata(made)["image"]["control"][0]["hires_pass"] == "first"
    before = control_server.studio.jobs.snapshot()
    answer = client.call("generateImage", params(steps=2, control=[{**unit, "hires_pass": "third"}]), False, False)
    assert "jobId" not in answer and answer["field"] == "control[0].hires_pass"
    assert "must be one of both, first, second" in answer["error"]
    assert control_server.studio.jobs.snapshot() == before
