"""Issue 21 item 11 and issue 18 item 6: a LoRA or embedding that is missing or refused is told on the
result of the generation that asked for it (its metadata, so the browser and the CLI show it), while a
good LoRA in the same prompt is applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import private_root
from tests.support.prompt_extras import write_prompt_extras

GENERATE = {"iterations": 1, "steps": 2, "cfg_scale": 7.5, "threshold": 0, "perlin": 0, "width": 64,
            "height": 64, "sampler_name": "k_lms", "seed": 5, "seamless": False, "hires_fix": False,
            "progress_images": False, "progress_latents": False, "save_intermediates": 0,
            "variation_amount": 0, "with_variations": []}


def extras_root(test_root: Path, where: Path) -> Path:
    return write_prompt_extras(private_root(test_root, where))


@pytest.fixture(scope="module")
def extras_server(module_server_factory, test_root, tmp_path_factory):
    server = module_server_factory(root=extras_root(test_root, tmp_path_factory.mktemp("extras-root")))
    assert server.studio.wait_until_loaded(180)
    return server


def test_missing_and_refused_loras_and_embeddings_are_told_on_the_askers_result(extras_server, connect):
    client = connect(extras_server.url)
    root = extras_server.studio.config.root
    prompt = ("a cat picklestyle <nosuchstyle> <lora:missing:0.5> <lora:goodlora:0.8> <lora:picklelora:0.7> "
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
    assert (f"Embedding 'nosuchstyle' was not found in {root / 'embeddings'}; <nosuchstyle> was left in the "
            "prompt as text") in warnings
    assert len(warnings) == 5, warnings
    assert image["loras"] == [{"name": "goodlora", "weight": 0.8}]  # the good one was applied

    # A clean prompt afterwards carries no warning: nothing leaks from one result into the next.
    mark = client.mark()
    client.emit("generateImage", {**GENERATE, "prompt": "a cat <lora:goodlora:0.8>"}, False, False)
    clean = client.wait_for("generationResult", after=mark, timeout=180)[0]["metadata"]["image"]
    assert "warnings" not in clean and clean["loras"] == [{"name": "goodlora", "weight": 0.8}]


def test_system_config_lists_lora_names_and_embedding_words_read_from_disk(extras_server, connect):
    client = connect(extras_server.url)
    client.emit("requestSystemConfig")
    config = client.wait_for("systemConfig", timeout=30)[0]
    assert config["loras"] == ["goodlora", "junklora", "picklelora"]
    assert config["embeddings"] == ["picklestyle"]
    # A file dropped into a folder while the studio runs is listed on the next systemConfig.
    extra = extras_server.studio.config.root / "embeddings" / "nested" / "Late-Style.safetensors"
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes(b"listed by name; read only when a prompt uses it")
    mark = client.mark()
    client.emit("requestSystemConfig")
    assert client.wait_for("systemConfig", after=mark, timeout=30)[0]["embeddings"] == ["Late-Style", "picklestyle"]
    extra.unlink()
