"""Issue 21 item 11 and issue 18 item 6: a LoRA or embedding that is missing or refused is told on the
result of the generation that asked for it (its metadata, so the browser and the CLI show it), while a
good LoRA in the same prompt is applied."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import torch

from ldm.invoke.demo_model import build_demo_pipeline
from tests.conftest import private_root
from tests.support.tiny_checkpoints import write_tiny_lora

GENERATE = {"iterations": 1, "steps": 2, "cfg_scale": 7.5, "threshold": 0, "perlin": 0, "width": 64,
            "height": 64, "sampler_name": "k_lms", "seed": 5, "seamless": False, "hires_fix": False,
            "progress_images": False, "progress_latents": False, "save_intermediates": 0,
            "variation_amount": 0, "with_variations": []}


def write_code_pickle(path: Path) -> Path:
    """A .pt/.ckpt shaped like the real thing but holding an object torch's safe loader will not build."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"string_to_param": {"*": torch.zeros(1, 32)}, "made": datetime.date(2023, 1, 1)}, str(path))
    return path


def extras_root(test_root: Path, where: Path) -> Path:
    root = private_root(test_root, where)
    write_tiny_lora(build_demo_pipeline(0), root / "loras" / "goodlora.safetensors")
    write_code_pickle(root / "loras" / "picklelora.ckpt")
    write_code_pickle(root / "embeddings" / "picklestyle.pt")
    (root / "loras" / "junklora.safetensors").write_bytes(b"not a safetensors file at all")
    return root


@pytest.fixture(scope="module")
def extras_server(module_server_factory, test_root, tmp_path_factory):
    server = module_server_factory(root=extras_root(test_root, tmp_path_factory.mktemp("extras-root")))
    assert server.studio.wait_until_loaded(180)
    return server


def test_missing_and_refused_loras_and_embeddings_are_told_on_the_askers_result(extras_server, connect):
    client = connect(extras_server.url)
    root = extras_server.studio.config.root
    prompt = ("a cat picklestyle <lora:missing:0.5> <lora:goodlora:0.8> <lora:picklelora:0.7> "
              "<lora:junklora:0.6>")
    client.emit("generateImage", {**GENERATE, "prompt": prompt}, False, False)
    result = client.wait_for("generationResult", timeout=180)[0]
    image = result["metadata"]["image"]
    warnings = image["warnings"]
    assert f"LoRA 'missing' was not found in {root / 'loras'}; it was ignored" in warnings
    assert any("picklelora.ckpt was refused: it is a pickle" in w for w in warnings), warnings
    assert any("picklestyle.pt was refused: it is a pickle" in w and "Embedding 'picklestyle'" in w
               for w in warnings), warnings
    assert any("junklora.safetensors is not a readable .safetensors file" in w for w in warnings), warnings
    assert len(warnings) == 4, warnings
    assert image["loras"] == [{"name": "goodlora", "weight": 0.8}]  # the good one was applied

    # A clean prompt afterwards carries no warning: nothing leaks from one result into the next.
    mark = client.mark()
    client.emit("generateImage", {**GENERATE, "prompt": "a cat <lora:goodlora:0.8>"}, False, False)
    clean = client.wait_for("generationResult", after=mark, timeout=180)[0]["metadata"]["image"]
    assert "warnings" not in clean and clean["loras"] == [{"name": "goodlora", "weight": 0.8}]
