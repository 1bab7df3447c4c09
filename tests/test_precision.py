"""Precision paths and threads: each path repeats a seed's pixels, records itself and the thread count in
the image's metadata, ``auto`` picks the fastest path that reproduces here, and every entry point sets the
thread count the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ldm.invoke import devices
from ldm.invoke.devices import BF16_WEIGHTS, choose_precision, cpu_has_native_bf16
from ldm.invoke.generate import Generate
from ldm.invoke.metadata import read_metadata
from ldm.invoke.request import GenerationRequest
from ldm.invoke.threads import THREADS_ENV, physical_cores

CPU = torch.device("cpu")
PATHS = ["float32"] + (["bfloat16", BF16_WEIGHTS] if cpu_has_native_bf16() else [])
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engines(test_root):
    made: dict[str, Generate] = {}

    def engine(precision: str) -> Generate:
        if precision not in made:
            made[precision] = Generate(root=test_root, precision=precision)
            made[precision].load_model()
        return made[precision]

    return engine


def pixels(gen: Generate, **fields) -> tuple[np.ndarray, dict]:
    request = GenerationRequest(**{"prompt": "a red fox", "steps": 4, "width": 64, "height": 64, "seed": 99,
                                   "sampler_name": "k_euler_a", **fields})
    done = next(iter(gen.generate(request)))
    return np.asarray(done.image.convert("RGB")), read_metadata(done.image)["image"]


@pytest.mark.parametrize("precision", PATHS)
def test_a_seed_gives_the_same_pixels_run_after_run_and_the_image_records_precision_and_threads(engines, precision):
    gen = engines(precision)
    first, meta = pixels(gen)
    second, _ = pixels(gen)
    assert np.array_equal(first, second), f"{precision}: the same seed gave different pixels"
    assert meta["precision"] == precision
    assert meta["threads"] == torch.get_num_threads()


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bfloat16")
def test_bf16_weights_is_its_own_path_and_bfloat16_keeps_autocast(engines):
    weights, autocast = engines(BF16_WEIGHTS), engines("bfloat16")
    assert weights._model().pipeline.unet.dtype == torch.bfloat16
    assert autocast._model().pipeline.unet.dtype == torch.float32  # old "bfloat16" recipes keep their numerics
    a, _ = pixels(weights)
    b, _ = pixels(autocast)
    assert not np.array_equal(a, b), "the two bf16 paths gave the same pixels: one of them is not what it says"
    # ...yet they are the same picture to within bf16 rounding (the sampler's latents stay float32)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 3


def test_auto_picks_the_fastest_path_that_reproduces_here():
    expected = BF16_WEIGHTS if cpu_has_native_bf16() else "float32"
    assert choose_precision("auto", CPU) == expected
    assert devices.cpu_reproduces(expected)


def test_auto_passes_over_a_path_whose_output_does_not_repeat(monkeypatch):
    if not cpu_has_native_bf16():
        pytest.skip("only float32 runs here")
    monkeypatch.setattr(devices, "cpu_reproduces", lambda precision: precision != BF16_WEIGHTS)
    assert choose_precision("auto", CPU) == "bfloat16"
    monkeypatch.setattr(devices, "cpu_reproduces", lambda precision: precision == "float32")
    assert choose_precision("auto", CPU) == "float32"


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="precision must be one of .*bfloat16-weights.*not 'bf17'"):
        choose_precision("bf17", CPU)


def entry_point_threads(code: str, **env: str) -> dict:
    """Runs ``code`` (which calls an entry point) in a fresh interpreter; returns its env and torch's count."""
    clean = {k: v for k, v in os.environ.items() if k != THREADS_ENV}
    script = (f"import json, os, sys\n{code}\nimport torch\n"
              f"print(json.dumps({{'env': os.environ.get({THREADS_ENV!r}), 'torch': torch.get_num_threads()}}))")
    out = subprocess.run([sys.executable, "-c", script], env={**clean, "PYTHONPATH": str(REPO), **env},
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


INVOKEAI = "from invokeai_gui.main import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass"


def test_the_invokeai_command_sets_one_torch_thread_per_physical_core():
    got = entry_point_threads(INVOKEAI)
    assert got == {"env": str(physical_cores()), "torch": physical_cores()}


def test_a_thread_count_the_user_gave_wins():
    assert entry_point_threads(INVOKEAI, **{THREADS_ENV: "1"}) == {"env": "1", "torch": 1}


def test_physical_cores_counts_only_the_cpus_this_process_may_use():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU only")
    code = "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n" + INVOKEAI
    assert entry_point_threads(code) == {"env": "1", "torch": 1}
