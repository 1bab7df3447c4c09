"""Control units on one pass of hires fix (``hires_pass``: both, first, second) on real tiny pipelines:
each steers only its pass, without hires fix the field changes nothing, and it is checked, recorded,
recalled, carried as JSON and taken by the CLI's ``--control``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke.cli_args import parse_control, request_from_switches
from ldm.invoke.errors import InvalidParameterError
from ldm.invoke.generate import Generate
from ldm.invoke.generator.base import Progress
from ldm.invoke.metadata import control_switch, png_bytes, read_metadata
from ldm.invoke.request import HIRES_PASSES, ControlUnit, GenerationRequest, ImageRef
from tests.support.tiny_control import build_control_root

LINCOLN = Path(__file__).parent / "assets" / "Lincoln-and-Parrot-512.png"
# 576 px is over the first pass's 512: a first pass at 512, then one img2img step at 576.
HIRES = GenerationRequest("a parrot on a shoulder", steps=2, width=576, height=576, seed=7, sampler_name="k_euler",
                          hires_fix=True, hires_strength=0.5)
FIRST_PASS_STEPS = 2
SMALL = HIRES.replace(width=64, height=64, steps=4)  # hires fix on, but one pass is enough


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Generate:
    engine = Generate(root=build_control_root(tmp_path_factory.mktemp("control-root")), precision="float32")
    engine.load_model()
    return engine


@pytest.fixture(scope="module")
def lincoln() -> ImageRef:
    return ImageRef.from_bytes(LINCOLN.read_bytes(), "outputs/control-images/lincoln.png")


def unit(lincoln: ImageRef, hires_pass: str = "both", **fields) -> ControlUnit:
    return ControlUnit("tiny-canny", lincoln, "canny", hires_pass=hires_pass, **fields)


def run(gen: Generate, request: GenerationRequest) -> tuple[np.ndarray, list[np.ndarray], Image.Image]:
    """The picture, the latent preview of every step (both passes) and the image with its recipe."""
    seen: list[np.ndarray] = []
    progress = Progress(step_callback=lambda step, total, image: seen.append(np.asarray(image)), preview_every=1)
    done = next(iter(gen.generate(request, progress)))
    return np.asarray(done.image.convert("RGB")).astype(np.int16), seen, done.image


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def passes(gen, lincoln) -> dict[str, tuple[np.ndarray, list[np.ndarray], Image.Image]]:
    """Hires fix with no unit, and with the unit on both passes, the first only, the second only."""
    out = {"none": run(gen, HIRES)}
    for name in HIRES_PASSES:
        out[name] = run(gen, HIRES.replace(control=(unit(lincoln, name),)))
    return out


def test_a_unit_on_one_pass_steers_only_that_pass(passes):
    none, both, first, second = (passes[k] for k in ("none", "both", "first", "second"))
    assert all(len(p[1]) == FIRST_PASS_STEPS + 1 for p in passes.values())
    # The first pass: a unit on the second only leaves it as without a unit; one on the first steers it
    # exactly as a unit on both does.
    assert all(np.array_equal(a, b) for a, b in zip(second[1][:FIRST_PASS_STEPS], none[1][:FIRST_PASS_STEPS]))
    assert all(np.array_equal(a, b) for a, b in zip(first[1][:FIRST_PASS_STEPS], both[1][:FIRST_PASS_STEPS]))
    assert not np.array_equal(first[1][0], none[1][0])
    # The pictures: four different ones.
    pictures = {k: p[0] for k, p in passes.items()}
    names = list(pictures)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert mean_difference(pictures[a], pictures[b]) > 0.1, (a, b)
    # The first pass shapes the composition far more than one img2img step at strength 0.5.
    assert mean_difference(first[0], none[0]) > 10 * mean_difference(first[0], both[0])


def test_a_unit_on_the_first_pass_and_one_on_the_second_make_exactly_the_picture_of_one_on_both(gen, lincoln,
                                                                                                  passes):
    # In each pass exactly one of the two acts, with the residuals the unit on both passes gives there.
    split = run(gen, HIRES.replace(control=(unit(lincoln, "first"), unit(lincoln, "second"))))
    assert np.array_equal(split[0], passes["both"][0])
    assert all(np.array_equal(a, b) for a, b in zip(split[1], passes["both"][1]))


@pytest.mark.parametrize("request_", [SMALL, SMALL.replace(hires_fix=False)], ids=["one-pass-hires", "no-hires"])
def test_without_a_second_pass_the_hires_pass_changes_nothing(gen, lincoln, request_):
    both = run(gen, request_.replace(control=(unit(lincoln),)))[0]
    assert mean_difference(both, run(gen, request_)[0]) > 1.0  # the unit does steer
    for name in ("first", "second"):
        assert np.array_equal(run(gen, request_.replace(control=(unit(lincoln, name),)))[0], both)


# -- the field: checked, recorded, recalled, carried ----------------------------------------------------


def test_a_bad_hires_pass_is_refused_naming_the_unit_and_field(lincoln):
    request = HIRES.replace(control=(unit(lincoln), unit(lincoln, "low res only")))
    with pytest.raises(InvalidParameterError) as caught:
        request.validate()
    assert caught.value.field == "control[1].hires_pass"
    assert "both, first, second" in caught.value.message and "'low res only'" in caught.value.message


def test_the_recipe_records_the_pass_only_when_it_is_not_both_and_recall_makes_the_same_picture(gen, passes,
                                                                                                tmp_path):
    both = passes["both"][2].info  # the recipe as attached to the image
    assert "hires_pass" not in json.loads(both["sd-metadata"])["image"]["control"][0]  # old recipes unchanged
    path = tmp_path / "second.png"
    path.write_bytes(png_bytes(passes["second"][2]))
    meta = read_metadata(path)
    assert meta["image"]["control"][0]["hires_pass"] == "second"
    recalled = GenerationRequest.from_metadata(meta, load_image=lambda url: LINCOLN.read_bytes())
    assert recalled.control[0].hires_pass == "second"
    assert np.array_equal(run(gen, recalled)[0], passes["second"][0])  # bit for bit


def test_the_unit_s_json_carries_the_pass(lincoln):
    request = HIRES.replace(control=(unit(lincoln, "first"),))
    sent = json.loads(json.dumps(request.to_json()))
    assert sent["control"][0]["hires_pass"] == "first"
    assert GenerationRequest.from_json(sent) == request
    del sent["control"][0]["hires_pass"]  # an older client's unit: both passes
    assert GenerationRequest.from_json(sent).control[0].hires_pass == "both"


def test_the_cli_takes_hires_pass_and_fetch_reproduces_the_picture(gen, passes, tmp_path):
    from tests.support.cli_session import CliSession

    parsed = parse_control(f"model=tiny-canny,image={LINCOLN},hires_pass=second")
    assert parsed["hires_pass"] == "second" and parsed["settings"] == {}
    ref = ImageRef.from_bytes(LINCOLN.read_bytes(), str(LINCOLN))
    assert request_from_switches("x", {"control": [parsed]}, control_images=(ref,)).control[0].hires_pass == "second"
    assert "hires_pass" not in control_switch({"model": "m", "image_path": "p"})

    cli = CliSession(gen, tmp_path / "outputs")
    first = cli.made(f'"{HIRES.prompt}" -s 2 -S 7 -W 576 -H 576 -A k_euler --hires_fix --hires_strength 0.5 '
                     f"--control model=tiny-canny,image={LINCOLN},preprocessor=canny,hires_pass=first")
    assert np.array_equal(np.asarray(Image.open(first).convert("RGB")).astype(np.int16), passes["first"][0])
    command = cli.say(f"!fetch {first.name}")
    assert "hires_pass=first" in command
    again = cli.made(command)
    assert again != first and np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(first)))
    with pytest.raises(AssertionError, match="control\\[0\\].hires_pass"):
        cli.say(f'"a cat" --control model=tiny-canny,image={LINCOLN},hires_pass=third')
