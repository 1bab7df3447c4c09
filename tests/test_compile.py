"""``--compile`` through the CLI a user runs, on the demo model: the first launch says "Compiling…" and
compiles, a second launch loads the compiled code from ROOT/cache and starts much sooner, prompt editing
and a control unit run compiled without a compile per step, and the pictures match eager ones closely."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ldm.invoke.compile import COMPILING, compile_cache
from ldm.invoke.generate import Generate
from ldm.invoke.request import GenerationRequest
from tests.support.make_root import build_root

REPO = Path(__file__).resolve().parents[1]
LINCOLN = REPO / "tests" / "assets" / "Lincoln-and-Parrot-512.png"
# TORCH_LOGS=recompiles: dynamo says each time it compiles a second graph of the UNet, and why.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "TORCH_LOGS": "recompiles"}
SMALL = "-s 4 -S 7 -W 64 -H 64 -A k_euler"
LINES = {
    "plain": f"strawberry sushi {SMALL}",
    "edited": f'"[a cat:a dog:0.5] on a mat" {SMALL} --prompt_syntax a1111',
    "cat": f'"a cat on a mat" {SMALL} --prompt_syntax a1111',
    "dog": f'"a dog on a mat" {SMALL} --prompt_syntax a1111',
    "control": f"strawberry sushi {SMALL} --control model=demo-canny,image={LINCOLN},preprocessor=canny",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The demo models and a ControlNet made from the demo UNet (random output convolutions, so it steers)."""
    from diffusers import UNet2DConditionModel

    from tests.support.tiny_control import build_tiny_controlnet, write_controlnet_folder

    root = build_root(tmp_path_factory.mktemp("compile-root"), postprocessors=False)
    unet = UNet2DConditionModel.from_pretrained(str(root / "models" / "demo" / "unet"))
    write_controlnet_folder(build_tiny_controlnet(unet, seed=5), root / "models" / "controlnet" / "demo-canny")
    models = yaml.safe_load((root / "models.yaml").read_text())
    models["demo-canny"] = {"format": "controlnet", "path": "models/controlnet/demo-canny", "family": "sd1"}
    (root / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    return root


def launch(root: Path, outdir: Path) -> tuple[dict[str, Path], str, float]:
    """``invokeai --compile --from_file`` over LINES in a new process: the images by line, stderr, seconds."""
    outdir.mkdir(parents=True)
    prompts = outdir / "prompts.txt"
    prompts.write_text("".join(line + "\n" for line in LINES.values()))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "invokeai_gui", "--root", str(root), "--outdir", str(outdir),
                           "--compile", "--from_file", str(prompts)],
                          env=ENV, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    made = re.findall(r"(\S+\.png): ", proc.stdout)
    assert len(made) == len(LINES), proc.stdout
    return dict(zip(LINES, map(Path, made))), proc.stderr, took


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


@pytest.fixture(scope="module")
def launches(root, tmp_path_factory):
    first = launch(root, tmp_path_factory.mktemp("first") / "out")
    second = launch(root, tmp_path_factory.mktemp("second") / "out")
    return first, second


def test_the_first_launch_says_compiling_and_compiles_one_graph_without_control_and_one_with(launches, root):
    (images, stderr, _), _ = launches
    assert stderr.count(COMPILING) == 2, stderr[-3000:]  # the first image, then the first with a control unit
    # Dynamo compiled exactly one more graph after the first: the one with control residuals. The
    # prompt edit (new embeddings at step 3) and the sampler's steps did not recompile.
    recompiles = stderr.split("Recompiling function")[1:]
    assert len(recompiles) == 1, stderr[-3000:]
    assert "len(kwargs)" in recompiles[0], recompiles  # the control residuals are two more arguments
    assert any(compile_cache(root).iterdir())  # the compiled code is kept under ROOT/cache/compile


def test_a_second_launch_loads_the_compiled_code_and_is_much_faster(launches):
    (first, _, first_took), (second, stderr, second_took) = launches
    assert second_took < first_took / 2, (first_took, second_took)
    for name in LINES:  # the cached kernels are the ones compiled: the same pixels
        assert np.array_equal(pixels(first[name]), pixels(second[name])), name


def test_prompt_editing_switches_the_prompt_mid_run_compiled(launches):
    (images, _, _), _ = launches
    edited, cat, dog = (pixels(images[name]) for name in ("edited", "cat", "dog"))
    assert not np.array_equal(edited, cat) and not np.array_equal(edited, dog)


def test_a_control_unit_steers_the_compiled_unet(launches):
    (images, _, _), _ = launches
    assert np.abs(pixels(images["control"]) - pixels(images["plain"])).mean() > 2


def test_compiled_pictures_are_close_to_eager_ones_and_the_recipe_says_compiled(launches, root):
    (images, _, _), _ = launches
    eager = Generate(root=root)
    done = next(iter(eager.generate(GenerationRequest("strawberry sushi", steps=4, seed=7, width=64, height=64,
                                                      sampler_name="k_euler"))))
    compiled = Image.open(images["plain"])
    diff = np.abs(pixels(images["plain"]) - np.asarray(done.image.convert("RGB")).astype(np.int16))
    assert diff.mean() < 2 and diff.max() <= 16, (diff.mean(), diff.max())
    assert json.loads(compiled.info["sd-metadata"])["image"]["compiled"] is True
    assert "compiled" not in json.loads(done.image.info["sd-metadata"])["image"]


def test_the_studio_says_compiling_before_the_first_step_of_a_compiled_server(launches, root, server_factory,
                                                                              connect, tmp_path):
    from tests.conftest import private_root
    from tests.test_server_walkthrough import params, results_of

    # Its root links the launches' ROOT/cache: the graph loads from there instead of compiling again.
    srv = server_factory(root=private_root(root, tmp_path / "server-root"), compile=True)
    assert srv.studio.wait_until_loaded(180), "the demo model did not load"
    client = connect(srv.url)
    job_id = client.call("generateImage", params(steps=4, seed=7, progress_latents=False), False, False)["jobId"]
    results_of(client, job_id, 1, timeout=600)
    updates = [d for d in client.of("progressUpdate") if d.get("jobId") == job_id]
    statuses = [d["currentStatus"] for d in updates]
    assert COMPILING in statuses, statuses
    first_step = next(i for i, d in enumerate(updates) if d["currentStatusHasSteps"])
    assert statuses.index(COMPILING) < first_step, statuses
