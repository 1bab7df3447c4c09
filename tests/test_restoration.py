"""Face restoration (GFPGAN, CodeFormer) and Real-ESRGAN upscaling from local random-weight files."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke.errors import InvalidParameterError, MissingWeightsError, ModelLoadError
from ldm.invoke.restoration import WEIGHT_FILES, FaceRestorer, Upscaler, available_postprocessors, weight_path
from ldm.invoke.restoration import upscale as upscale_module
from tests.support.restoration_weights import face_test_image, write_test_weights

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
# face_test_image()'s face (nose at 64, 64 in 160x160) is restored inside x 17..110, y 6..99.
FACE_BOX = (52, 52, 76, 76)  # left, top, right, bottom


def far_from_face(array: np.ndarray) -> np.ndarray:
    """The pixels at least ~10 px away from the aligned face crop."""
    return np.concatenate(
        [array[:, 120:].reshape(-1, array.shape[2]), array[112:, :].reshape(-1, array.shape[2])]
    )


def face_region(array: np.ndarray) -> np.ndarray:
    left, top, right, bottom = FACE_BOX
    return array[top:bottom, left:right]


class NetworkAttempt(AssertionError):
    """Raised by the socket guard: something tried to open a network connection."""


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[list[object]]:
    """Every test here runs with outgoing connections refused, so any download attempt fails loudly."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise NetworkAttempt(f"network connection attempted to {address!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield attempts
    assert attempts == [], f"network connections were attempted: {attempts}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("restoration-root")
    write_test_weights(path, seed=0)
    return path


@pytest.fixture(scope="module")
def upscaler(root: Path) -> Upscaler:
    return Upscaler(root, device="cpu")


@pytest.fixture(scope="module")
def restorer(root: Path) -> FaceRestorer:
    return FaceRestorer(root, device="cpu")


@pytest.fixture(scope="module")
def gfpgan_full(restorer: FaceRestorer) -> Image.Image:
    """The test face restored by GFPGAN at full strength (computed once: each run costs seconds)."""
    result = restorer.restore(face_test_image(), "gfpgan", 1.0)
    assert result.faces_found == 1, result.note
    return result.image


def link_weights(source: Path, target: Path, without: tuple[str, ...] = ()) -> None:
    """Give `target` the weight files of `source` (as symlinks, they are large) except the keys `without`."""
    for key in WEIGHT_FILES:
        if key in without:
            continue
        path = weight_path(target, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(weight_path(source, key))


def random_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = len(mode)
    return Image.fromarray(rng.integers(0, 256, (height, width, channels), dtype=np.uint8), mode)


# -- upscaling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_gives_exact_size_for_odd_dimensions(upscaler: Upscaler, scale: int) -> None:
    image = random_image(48, 37)
    result = upscaler.upscale(image, scale, 1.0)
    assert result.size == (48 * scale, 37 * scale)
    assert result.mode == "RGB"
    plain = np.asarray(image.resize(result.size, Image.Resampling.LANCZOS), dtype=np.int16)
    # The network did run: its result is not the plain resize.
    assert np.abs(np.asarray(result, dtype=np.int16) - plain).mean() > 2


def test_upscale_keeps_alpha_of_rgba_input(upscaler: Upscaler) -> None:
    image = random_image(33, 21, "RGBA", seed=1)
    result = upscaler.upscale(image, 2, 0.8)
    assert result.mode == "RGBA"
    assert result.size == (66, 42)
    plain = image.resize((66, 42), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(result.getchannel("A")), np.asarray(plain.getchannel("A")))


def test_upscale_strength_zero_returns_the_plain_resize(tmp_path: Path) -> None:
    # No weight files at all: strength 0 never runs (or needs) the network.
    image = random_image(25, 19, "RGBA")
    result = Upscaler(tmp_path).upscale(image, 4, 0.0)
    expected = image.resize((100, 76), Image.Resampling.LANCZOS)
    assert result.mode == "RGBA"
    assert np.array_equal(np.asarray(result), np.asarray(expected))


def test_upscale_strength_blends_network_and_plain_resize(upscaler: Upscaler) -> None:
    image = random_image(20, 17, seed=2)
    full = np.asarray(upscaler.upscale(image, 2, 1.0), dtype=np.float32)
    plain = np.asarray(image.resize((40, 34), Image.Resampling.LANCZOS), dtype=np.float32)
    half = np.asarray(upscaler.upscale(image, 2, 0.5), dtype=np.float32)
    assert np.abs(half - (full + plain) / 2).max() <= 1.0


@pytest.mark.parametrize("scale", [2, 4])
def test_tiled_and_untiled_upscales_agree(upscaler: Upscaler, scale: int) -> None:
    image = face_test_image((64, 64), (32, 32))
    whole = np.asarray(upscaler.upscale(image, scale, 1.0, tile=64), dtype=np.int16)
    tiled = np.asarray(upscaler.upscale(image, scale, 1.0, tile=32), dtype=np.int16)
    assert tiled.shape == whole.shape == (64 * scale, 64 * scale, 3)
    assert np.abs(tiled - whole).max() <= 1


def test_tile_size_follows_free_memory(upscaler: Upscaler, monkeypatch: pytest.MonkeyPatch) -> None:
    network = upscaler.load(2)
    sizes = [upscale_module.tile_size_for(network, upscaler.device, free) for free in (10**7, 10**8, 10**9)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert all(
        upscale_module.MIN_TILE <= size <= upscale_module.MAX_TILE and size % 16 == 0 for size in sizes
    )

    # With little memory free the automatic tile is smaller than the image, and the result still
    # matches the untiled one.
    monkeypatch.setattr(upscale_module, "available_memory", lambda device: 2 * 10**6)
    assert upscale_module.tile_size_for(network, upscaler.device) == upscale_module.MIN_TILE
    image = face_test_image((64, 48), (32, 32))
    auto = np.asarray(upscaler.upscale(image, 2, 1.0), dtype=np.int16)
    whole = np.asarray(upscaler.upscale(image, 2, 1.0, tile=64), dtype=np.int16)
    assert np.abs(auto - whole).max() <= 1


def test_upscale_reports_each_tile_and_a_raise_stops_it(upscaler: Upscaler) -> None:
    image = random_image(96, 64, seed=4)
    seen: list[tuple[int, int]] = []
    upscaler.upscale(image, 2, 1.0, tile=32, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]

    class Stop(Exception):
        pass

    def stop_at_two(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            raise Stop

    seen.clear()
    with pytest.raises(Stop):
        upscaler.upscale(image, 2, 1.0, tile=32, progress=stop_at_two)
    assert seen == [(1, 6), (2, 6)]
    # On the CPU the automatic tile never exceeds CPU_TILE, however much memory is free.
    network = upscaler.load(2)
    assert upscale_module.tile_size_for(network, upscaler.device, 10**12) == upscale_module.CPU_TILE


def test_upscaler_caches_networks_and_survives_offload(upscaler: Upscaler) -> None:
    assert upscaler.load(4) is upscaler.load(4)
    image = random_image(16, 16, seed=3)
    before = np.asarray(upscaler.upscale(image, 4, 1.0))
    upscaler.offload()
    assert next(upscaler.load(4).module.parameters()).device.type == "cpu"
    assert np.array_equal(np.asarray(upscaler.upscale(image, 4, 1.0)), before)


def test_general_x4v3_model_is_used_when_x4plus_is_absent(root: Path, tmp_path: Path) -> None:
    link_weights(root, tmp_path, without=tuple(k for k in WEIGHT_FILES if k != "esrgan_general_x4"))
    general = weight_path(tmp_path, "esrgan_general_x4")
    upscaler = Upscaler(tmp_path)
    assert upscaler.weight_file(4) == general
    image = random_image(15, 11, seed=4)
    result = upscaler.upscale(image, 4, 1.0)
    assert result.size == (60, 44)
    plain = np.asarray(image.resize((60, 44), Image.Resampling.LANCZOS), dtype=np.int16)
    assert np.abs(np.asarray(result, dtype=np.int16) - plain).mean() > 1

    report = available_postprocessors(tmp_path)["esrgan"]
    assert report["available"] is True and report["scales"] == [4]
    assert "RealESRGAN_x2plus.pth" in report["reason"]


def test_missing_upscaler_weights_error_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError) as caught:
        Upscaler(tmp_path).upscale(random_image(8, 8), 2, 1.0)
    expected = weight_path(tmp_path, "esrgan_x2")
    assert caught.value.path == str(expected)
    assert str(expected) in str(caught.value) and "invokeai-configure" in str(caught.value)
    assert not expected.parent.exists()  # nothing was fetched or created


def test_bad_upscale_parameters_name_the_field(upscaler: Upscaler) -> None:
    image = random_image(8, 8)
    with pytest.raises(InvalidParameterError) as caught:
        upscaler.upscale(image, 3, 1.0)
    assert caught.value.field == "upscale"
    with pytest.raises(InvalidParameterError) as caught:
        upscaler.upscale(image, 2, 1.5)
    assert caught.value.field == "upscale"


# -- face restoration -----------------------------------------------------------------------------


def test_gfpgan_restores_the_detected_face_and_leaves_far_pixels(gfpgan_full: Image.Image) -> None:
    source = np.asarray(face_test_image(), dtype=np.int16)
    restored = np.asarray(gfpgan_full, dtype=np.int16)
    assert restored.shape == source.shape
    assert np.abs(face_region(restored) - face_region(source)).mean() > 20
    assert np.array_equal(far_from_face(restored), far_from_face(source))


def test_codeformer_restores_the_face_and_fidelity_matters(restorer: FaceRestorer) -> None:
    image = face_test_image()
    source = np.asarray(image, dtype=np.int16)
    quality = restorer.restore(image, "codeformer", 1.0, fidelity=0.0)
    likeness = restorer.restore(image, "codeformer", 1.0, fidelity=1.0)
    for result in (quality, likeness):
        assert result.faces_found == 1
        restored = np.asarray(result.image, dtype=np.int16)
        assert np.abs(face_region(restored) - face_region(source)).mean() > 20
        assert np.array_equal(far_from_face(restored), far_from_face(source))
    difference = np.abs(
        np.asarray(quality.image, dtype=np.int16) - np.asarray(likeness.image, dtype=np.int16)
    )
    assert difference.mean() > 0.5


def test_face_strength_blends_and_keeps_alpha(restorer: FaceRestorer, gfpgan_full: Image.Image) -> None:
    image = face_test_image().convert("RGBA")
    alpha = Image.linear_gradient("L").resize(image.size)
    image.putalpha(alpha)
    restorer.offload()  # the next restore puts everything back on the device
    result = restorer.restore(image, "gfpgan", 0.5)
    assert result.faces_found == 1
    assert result.image.mode == "RGBA"
    assert np.array_equal(np.asarray(result.image.getchannel("A")), np.asarray(alpha))
    source = np.asarray(face_test_image(), dtype=np.float32)
    expected = (source + np.asarray(gfpgan_full, dtype=np.float32)) / 2
    assert np.abs(np.asarray(result.image.convert("RGB"), dtype=np.float32) - expected).max() <= 1.0


@pytest.mark.parametrize("tool", ["gfpgan", "codeformer"])
def test_face_strength_zero_returns_input_pixels(tmp_path: Path, tool: str) -> None:
    image = face_test_image()
    # An empty root: strength 0 returns before anything is loaded.
    result = FaceRestorer(tmp_path).restore(image, tool, 0.0)
    assert np.array_equal(np.asarray(result.image), np.asarray(image))
    assert result.faces_found == 0


def test_no_face_found_returns_image_unchanged_with_a_note(
    restorer: FaceRestorer, caplog: pytest.LogCaptureFixture
) -> None:
    image = face_test_image(with_face=False)
    with caplog.at_level(logging.INFO, logger="ldm.invoke.restoration"):
        result = restorer.restore(image, "gfpgan", 1.0)
    assert result.faces_found == 0
    assert "No face was found" in result.note
    assert np.array_equal(np.asarray(result.image), np.asarray(image))
    assert any("No face was found" in record.getMessage() for record in caplog.records)


def test_face_networks_are_loaded_once_per_instance(
    restorer: FaceRestorer, gfpgan_full: Image.Image, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ldm.invoke.restoration"):
        restorer.restore(face_test_image(with_face=False), "gfpgan", 1.0)
    assert not [r for r in caplog.records if r.getMessage().startswith("Loaded ")]


@pytest.mark.parametrize(
    ("tool", "missing"),
    [
        ("gfpgan", "gfpgan"),
        ("codeformer", "codeformer"),
        ("gfpgan", "face_detection"),
        ("codeformer", "face_parsing"),
    ],
)
def test_missing_face_weights_error_names_the_file(
    root: Path, tmp_path: Path, tool: str, missing: str
) -> None:
    link_weights(root, tmp_path, without=(missing,))
    with pytest.raises(MissingWeightsError) as caught:
        FaceRestorer(tmp_path).restore(face_test_image(), tool, 1.0)
    assert caught.value.path == str(weight_path(tmp_path, missing))
    assert Path(caught.value.path).name in str(caught.value)
    assert not weight_path(tmp_path, missing).exists()  # nothing was downloaded in its place


def test_unreadable_or_wrong_weight_files_give_a_clear_error(root: Path, tmp_path: Path) -> None:
    link_weights(root, tmp_path, without=("gfpgan", "esrgan_x2", "face_detection"))
    weight_path(tmp_path, "gfpgan").parent.mkdir(parents=True)
    weight_path(tmp_path, "gfpgan").write_bytes(b"not a checkpoint")
    # A 4x network where the 2x one belongs, and an upscaler where the face detector belongs.
    weight_path(tmp_path, "esrgan_x2").symlink_to(weight_path(root, "esrgan_x4"))
    weight_path(tmp_path, "face_detection").symlink_to(weight_path(root, "esrgan_x4"))

    with pytest.raises(ModelLoadError, match="GFPGANv1.4.pth"):
        FaceRestorer(tmp_path).restore(face_test_image(), "gfpgan", 1.0)
    with pytest.raises(ModelLoadError, match="4x model"):
        Upscaler(tmp_path).upscale(random_image(8, 8), 2, 1.0)
    with pytest.raises(ModelLoadError, match="invokeai-configure") as caught:
        FaceRestorer(tmp_path).restore(face_test_image(), "codeformer", 1.0)
    assert len(str(caught.value)) < 400  # a sentence, not the list of every mismatched tensor


def test_bad_face_parameters_name_the_field(restorer: FaceRestorer) -> None:
    image = face_test_image()
    for kwargs, field in (
        ({"tool": "retouch", "strength": 1.0}, "facetool"),
        ({"tool": "gfpgan", "strength": -0.1}, "facetool_strength"),
        ({"tool": "codeformer", "strength": 1.0, "fidelity": 2.0}, "codeformer_fidelity"),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            restorer.restore(image, **kwargs)
        assert caught.value.field == field


# -- availability, imports, network -----------------------------------------------------------------


def test_available_postprocessors_reports_each_tool(root: Path, tmp_path: Path) -> None:
    assert available_postprocessors(root) == {
        "esrgan": {"available": True, "scales": [2, 4]},
        "gfpgan": {"available": True},
        "codeformer": {"available": True},
    }
    empty = available_postprocessors(tmp_path)
    assert empty["esrgan"]["available"] is False and empty["esrgan"]["scales"] == []
    assert "GFPGANv1.4.pth" in empty["gfpgan"]["reason"]
    assert "codeformer.pth" in empty["codeformer"]["reason"]
    # each scale names its own file: with 4x chosen the user is told about the 4x weights
    assert Path(empty["esrgan"]["missing"]["4"]["file"]).name == "RealESRGAN_x4plus.pth"
    assert "RealESRGAN_x4plus.pth" in empty["esrgan"]["missing"]["4"]["reason"]
    assert Path(empty["esrgan"]["missing"]["2"]["file"]).name == "RealESRGAN_x2plus.pth"

    link_weights(root, tmp_path, without=("face_parsing", "esrgan_x4", "esrgan_general_x4"))
    partial = available_postprocessors(tmp_path)
    assert partial["esrgan"]["scales"] == [2] and "RealESRGAN_x4plus.pth" in partial["esrgan"]["reason"]
    for tool in ("gfpgan", "codeformer"):
        assert partial[tool]["available"] is False and "parsing_parsenet.pth" in partial[tool]["reason"]


def test_package_imports_basicsr_stack_in_a_fresh_interpreter() -> None:
    code = (
        "import ldm.invoke.restoration\n"
        "import basicsr, gfpgan, realesrgan, facexlib\n"
        "from basicsr.data.degradations import rgb_to_grayscale\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_loading_and_running_never_touches_the_network(root: Path, no_network: list[object]) -> None:
    # Every test in this module runs with connections refused (see no_network); this one also
    # checks the guard itself and loads every network into fresh instances.
    with pytest.raises(NetworkAttempt):
        socket.create_connection(("127.0.0.1", 9))
    no_network.clear()
    # No face, so nothing slow runs, but the detector, parser and GFPGAN all load. (CodeFormer's first
    # load happens under the same guard in the CodeFormer test.)
    assert FaceRestorer(root).restore(face_test_image(with_face=False), "gfpgan", 1.0).faces_found == 0
    upscaler = Upscaler(root)
    for scale in (2, 4):
        assert upscaler.upscale(random_image(12, 10), scale, 1.0).size == (12 * scale, 10 * scale)
    assert no_network == []
