"""The preprocessors' networks as users reach them: depth_anything from its transformers folder, map
previews and loaded networks told apart by their weights' content, each network built on the device
the job runs on, and openpose_full's hands."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke.control import networks
from ldm.invoke.control.preprocess import make_map
from ldm.invoke.control.table import PREPROCESSORS, annotator_files, missing_weights
from ldm.invoke.errors import InvalidParameterError
from ldm.invoke.request import ControlUnit, ImageRef
from tests.conftest import private_root
from tests.support import annotators

LINCOLN = Path(__file__).parent / "assets" / "Lincoln-and-Parrot-512.png"  # the product's sample picture
DEPTH_FOLDER = "depth-anything-small-hf"


@pytest.fixture(scope="module")
def small_lincoln() -> ImageRef:
    return ImageRef.from_image(Image.open(LINCOLN).convert("RGB").resize((128, 128)))


def depth_map(image: ImageRef, root: Path, resolution: int = 128) -> np.ndarray:
    return np.asarray(make_map(ControlUnit("m", image, "depth_anything", {"resolution": resolution}), 0, root))


def touch_later(path: Path) -> None:
    """A newer modification time for ``path`` (every file under it), even on coarse-timestamp file systems."""
    for f in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))


# -- depth_anything ----------------------------------------------------------------------------------


def test_depth_anything_runs_its_transformers_folder_and_the_map_follows_its_weights(small_lincoln, tmp_path):
    folder = tmp_path / "models" / "annotators" / DEPTH_FOLDER
    annotators.write_depth_anything(folder, seed=1)
    first = depth_map(small_lincoln, tmp_path)
    made = make_map(ControlUnit("m", small_lincoln, "depth_anything", {"resolution": 128}), 0, tmp_path)
    assert made.mode == "RGB" and made.size == (128, 128)
    assert first.std() > 1 and np.array_equal(first[..., 0], first[..., 2])  # a grey depth map, not flat

    annotators.write_depth_anything(folder, seed=2)  # the same names, other weights
    touch_later(folder)
    second = depth_map(small_lincoln, tmp_path)
    assert second.shape == first.shape and np.abs(first.astype(int) - second).mean() > 1

    # A folder without preprocessor_config.json is read with the upstream processor's settings.
    (folder / "preprocessor_config.json").unlink()
    assert np.array_equal(depth_map(small_lincoln, tmp_path), second)
    tall = ImageRef.from_image(Image.open(LINCOLN).convert("RGB").resize((128, 192)))
    assert make_map(ControlUnit("m", tall, "depth_anything", {"resolution": 128}), 0, tmp_path).size == (128, 192)


def test_depth_anything_without_its_folder_is_refused_naming_the_folder_the_repo_and_where_it_goes(small_lincoln,
                                                                                                    tmp_path):
    folder = tmp_path / "models" / "annotators"
    (folder / DEPTH_FOLDER).mkdir(parents=True)
    (folder / DEPTH_FOLDER / "config.json").write_text("{}")  # an unfinished copy: no model.safetensors
    assert DEPTH_FOLDER not in annotator_files(tmp_path)
    assert missing_weights("depth_anything", annotator_files(tmp_path)) == [DEPTH_FOLDER]
    listed = PREPROCESSORS["depth_anything"].as_dict(annotator_files(tmp_path))
    assert listed["a1111"] == "depth_anything" and listed["missing"] == [DEPTH_FOLDER]
    assert listed["folders"] == [DEPTH_FOLDER] and listed["sources"] == {DEPTH_FOLDER: "LiheYoung/depth-anything-small-hf"}
    with pytest.raises(InvalidParameterError) as caught:
        make_map(ControlUnit("m", small_lincoln, "depth_anything"), 2, tmp_path)
    assert caught.value.field == "control[2].preprocessor"
    assert caught.value.message.startswith(f"depth_anything needs its weights folder {DEPTH_FOLDER}, which is not "
                                           f"in {folder}; put the folder {DEPTH_FOLDER} (the Hugging Face repo "
                                           "LiheYoung/depth-anything-small-hf: its config.json, model.safetensors")
    annotators.write_depth_anything(folder / DEPTH_FOLDER, seed=1)
    assert DEPTH_FOLDER in annotator_files(tmp_path)
    assert PREPROCESSORS["depth_anything"].as_dict(annotator_files(tmp_path))["missing"] == []


# -- networks kept by their weights' content ---------------------------------------------------------


def test_a_kept_network_is_the_same_while_its_weights_content_is_and_a_replaced_file_is_read_again(tmp_path):
    from ldm.invoke.control import lineart

    path = annotators.write_lineart(tmp_path / "models" / "annotators" / "sk_model.pth", seed=3)
    first = lineart._detector(path)
    assert lineart._detector(path) is first
    touch_later(path)  # written again with the same bytes (a download repeated): the kept network still serves
    assert lineart._detector(path) is first
    annotators.write_lineart(path, seed=4)  # the same name and size, other weights
    touch_later(path)
    assert lineart._detector(path) is not first


# -- the device ---------------------------------------------------------------------------------------


def _parameters(detector) -> list:
    """Every parameter of the networks a controlnet_aux detector (or our depth_anything pair) holds."""
    if isinstance(detector, tuple):
        return list(detector[0].parameters())
    found = []
    for part in ("netNetwork", "model", "body_estimation", "hand_estimation", "face_estimation"):
        held = getattr(detector, part, None)
        held = getattr(held, "model", held)
        if held is not None:
            found += list(held.parameters())
    return found


def test_each_network_is_built_on_the_device_it_is_handed(tmp_path):
    import torch

    from ldm.invoke.control import depth_anything, hed, lineart, openpose, pidinet
    from tests.support.tiny_control import write_hed_weights

    folder = tmp_path / "models" / "annotators"
    write_hed_weights(folder / "ControlNetHED.pth", seed=1)
    annotators.write_pidinet(folder / "table5_pidinet.pth", seed=1)
    annotators.write_lineart(folder / "sk_model.pth", seed=1)
    annotators.write_openpose(folder, seed=1)
    annotators.write_depth_anything(folder / DEPTH_FOLDER, seed=1)
    # "meta" is a device every torch has: a network handed it holds no data on the CPU any more. (MiDaS,
    # 120 M weights, is left out for time; depth.py hands the device over the same way.)
    meta = torch.device("meta")
    built = [hed._detector(folder, meta), pidinet._detector(folder, meta), lineart._detector(folder / "sk_model.pth", meta),
             openpose._detector(folder, True, meta), depth_anything._detector(folder / DEPTH_FOLDER, meta)]
    for detector in built:
        parameters = _parameters(detector)
        assert parameters and {p.device for p in parameters} == {meta}, type(detector)
    assert hed._detector(folder) is not built[0]  # the CPU one is another, kept apart
    assert {p.device.type for p in _parameters(hed._detector(folder))} == {"cpu"}


# -- openpose_full's hands ------------------------------------------------------------------------------


@pytest.mark.slow
def test_openpose_full_looks_for_the_hand_of_the_person_it_sees_and_draws_it_with_its_hand_weights(tmp_path):
    # Random body weights find many random people, each with hands the hand network then reads at four
    # scales up to 736 pixels (minutes). This body network is made by hand to see one person with a right
    # arm in arm_picture, so each full map runs the real path with one hand (about 25 s on two CPU cores).
    folder = tmp_path / "models" / "annotators"
    annotators.write_openpose(folder, seed=1)
    annotators.write_arm_body(folder / "body_pose_model.pth")
    arm = ImageRef.from_image(annotators.arm_picture(128))
    skeleton = np.asarray(make_map(ControlUnit("m", arm, "openpose", {"resolution": 128}), 0, tmp_path))
    full = ControlUnit("m", arm, "openpose_full", {"resolution": 128})
    first = np.asarray(make_map(full, 0, tmp_path))
    assert skeleton.shape == first.shape == (128, 128, 3) and skeleton.max() > 0  # the arm's skeleton is drawn
    hand = (first != skeleton).any(axis=2)
    rows, cols = np.nonzero(hand)
    assert hand.sum() > 30 and 60 < rows.mean() < 128 and 60 < cols.mean() < 128  # beyond the wrist, at 90, 90

    annotators.write_openpose(folder, seed=2)  # other hand (and face) weights under the same names
    annotators.write_arm_body(folder / "body_pose_model.pth")
    touch_later(folder)
    second = np.asarray(make_map(full, 0, tmp_path))
    assert (first != second).any(axis=2).sum() > 30  # the hand network's weights place the hand's points


# -- map previews through the server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def depth_server(module_server_factory, test_root, tmp_path_factory):
    """A server on the demo model whose own annotator folder starts empty (its models linked from the test root)."""
    root = private_root(test_root, tmp_path_factory.mktemp("depth-root"))
    (root / "models").unlink()
    (root / "models").mkdir()
    for entry in (test_root / "models").iterdir():
        if entry.name != "annotators":
            (root / "models" / entry.name).symlink_to(entry)
    srv = module_server_factory(root=root)
    assert srv.studio.wait_until_loaded(180), "the demo model did not load"
    return srv


def test_a_map_preview_is_made_again_when_its_weights_are_replaced_under_the_same_name(depth_server, connect):
    client = connect(depth_server.url)
    url = client.call("uploadImage", LINCOLN.read_bytes(), "lincoln.png", "control")["url"]
    folder = depth_server.studio.config.root / "models" / "annotators" / DEPTH_FOLDER
    client.emit("requestSystemConfig")
    listed = next(p for p in client.wait_for("systemConfig")[0]["control_preprocessors"] if p["id"] == "depth_anything")
    assert listed["missing"] == [DEPTH_FOLDER] and listed["sources"] == {DEPTH_FOLDER: "LiheYoung/depth-anything-small-hf"}
    ask = {"image": url, "preprocessor": "depth_anything", "settings": {"resolution": 64}}
    refused = client.call("requestControlMap", ask)
    assert refused["field"] == "control.preprocessor"
    assert f"needs its weights folder {DEPTH_FOLDER}, which is not in {folder.parent}" in refused["error"]

    annotators.write_depth_anything(folder, seed=1)
    first = client.call("requestControlMap", ask)
    assert (first["width"], first["height"]) == (64, 64)
    assert client.call("requestControlMap", ask)["url"] == first["url"]  # the same weights: the saved map
    annotators.write_depth_anything(folder, seed=2)  # another network under the same names
    touch_later(folder)
    second = client.call("requestControlMap", ask)
    assert second["url"] != first["url"]
    outdir = depth_server.studio.outdir
    pixels = [np.asarray(Image.open(outdir / made["url"].removeprefix("outputs/")), dtype=int) for made in (first, second)]
    assert np.abs(pixels[0] - pixels[1]).mean() > 1
    # The worker ran the network on its own torch device.
    kept = [key for key in networks._detectors if key[0] == "depth_anything"]
    assert kept and kept[-1][1] == str(depth_server.studio.worker.torch_device())
