"""``--compile`` through the CLI a user runs, on the demo model: the first launch says "Compiling…" and
compiles, a second launch loads the compiled code from ROOT/cache and starts much sooner, prompt editing
and a control unit run compiled without a compile per step, the pictures match eager ones closely, and
the studio's progress says "Compiling…" before the first step. The launches are made once per session
(the ``compile_launches`` fixture, tests/support/compile_launches.py)."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from ldm.invoke.attention import choose_attention
from ldm.invoke.compile import COMPILING, compile_cache
from ldm.invoke.generate import Generate
from ldm.invoke.request import GenerationRequest
from tests.support.compile_launches import LINES


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_the_first_launch_says_compiling_and_compiles_one_graph_without_control_and_one_with(compile_launches):
    root, first, _ = compile_launches
    assert first.stderr.count(COMPILING) == 2, first.stderr[-3000:]  # the first image, the first with a unit
    # Dynamo compiled exactly one more graph after the first: the one with control residuals. The
    # prompt edit (new embeddings at step 3) and the sampler's steps did not recompile.
    recompiles = first.stderr.split("Recompiling function")[1:]
    assert len(recompiles) == 1, first.stderr[-3000:]
    assert "len(kwargs)" in recompiles[0], recompiles  # the control residuals are two more arguments
    assert any(compile_cache(root).iterdir())  # the compiled code is kept under ROOT/cache/compile


def test_a_second_launch_loads_the_compiled_code_and_is_much_faster(compile_launches):
    _, first, second = compile_launches
    assert second.seconds < first.seconds / 2, (first.seconds, second.seconds)
    for name in LINES:  # the cached kernels are the ones compiled: the same pixels
        assert np.array_equal(pixels(first.images[name]), pixels(second.images[name])), name


def test_prompt_editing_switches_the_prompt_mid_run_compiled(compile_launches):
    images = compile_launches[1].images
    edited, cat, dog = (pixels(images[name]) for name in ("edited", "cat", "dog"))
    assert not np.array_equal(edited, cat) and not np.array_equal(edited, dog)


def test_a_control_unit_steers_the_compiled_unet(compile_launches):
    images = compile_launches[1].images
    assert np.abs(pixels(images["control"]) - pixels(images["plain"])).mean() > 2


def test_compiled_pictures_are_close_to_eager_ones_and_the_recipe_says_compiled_and_its_attention(compile_launches):
    root, first, _ = compile_launches
    eager = Generate(root=root)
    done = next(iter(eager.generate(GenerationRequest("strawberry sushi", steps=4, seed=7, width=64, height=64,
                                                      sampler_name="k_euler"))))
    diff = np.abs(pixels(first.images["plain"]) - np.asarray(done.image.convert("RGB")).astype(np.int16))
    assert diff.mean() < 2 and diff.max() <= 16, (diff.mean(), diff.max())
    recipe = json.loads(Image.open(first.images["plain"]).info["sd-metadata"])["image"]
    assert recipe["compiled"] is True
    assert recipe["attention"] == choose_attention("auto", torch.device("cpu"))  # compiled as it is (§11)
    assert "compiled" not in json.loads(done.image.info["sd-metadata"])["image"]


def test_the_studio_says_compiling_before_the_first_step_of_a_compiled_server(compile_launches, server_factory,
                                                                              connect, tmp_path):
    from tests.conftest import private_root
    from tests.test_server_walkthrough import params, results_of

    # Its root links the launches' ROOT/cache: the graph loads from there instead of compiling again.
    srv = server_factory(root=private_root(compile_launches[0], tmp_path / "server-root"), compile=True)
    assert srv.studio.wait_until_loaded(180), "the demo model did not load"
    client = connect(srv.url)
    job_id = client.call("generateImage", params(steps=4, seed=7, progress_latents=False), False, False)["jobId"]
    results_of(client, job_id, 1, timeout=600)
    updates = [d for d in client.of("progressUpdate") if d.get("jobId") == job_id]
    statuses = [d["currentStatus"] for d in updates]
    assert COMPILING in statuses, statuses
    first_step = next(i for i, d in enumerate(updates) if d["currentStatusHasSteps"])
    assert statuses.index(COMPILING) < first_step, statuses
    client.emit("requestSystemConfig")  # the UI compares a recipe's "compiled" with this
    assert client.wait_for("systemConfig")[-1]["compiled"] is True
