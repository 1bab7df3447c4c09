"""Every PNG the studio writes carries AUTOMATIC1111's infotext: images made over Socket.IO, the A1111
API and the OpenAI API, on a single-file checkpoint, are read by the independent ``sd-parsers`` package
and by our reader, and both agree with what was asked (model hash in A1111's AutoV2 form)."""

from __future__ import annotations

import base64
import hashlib
from io import BytesIO
from pathlib import Path

import openai
import pytest
import requests
import yaml
from PIL import Image, PngImagePlugin
from sd_parsers import ParserManager
from sd_parsers.parsers import AUTOMATIC1111Parser

from ldm.invoke import metadata as md
from tests.conftest import private_root
from tests.support.tiny_checkpoints import build_tiny_pipeline, write_checkpoint

pytestmark = pytest.mark.timeout(300)

PROMPT, NEGATIVE = "a lighthouse on a cliff, at dusk", "fog, blur"


@pytest.fixture(scope="module")
def checkpoint_server(module_server_factory, test_root: Path, tmp_path_factory):
    """A studio whose default model is one .safetensors file (A1111's "Model hash" is that file's sha256)."""
    where = tmp_path_factory.mktemp("file-model-root")
    weights = write_checkpoint(build_tiny_pipeline("sd1", seed=5), "sd1", where / "tiny-file.safetensors")
    models = yaml.safe_load((test_root / "models.yaml").read_text())
    for entry in models.values():
        entry.pop("default", None)
    models["tiny-file"] = {"description": "a tiny single-file SD 1.x", "format": "checkpoint", "path": str(weights),
                           "family": "sd1", "width": 64, "height": 64, "default": True}
    (where / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    server = module_server_factory(root=private_root(test_root, where))
    assert server.studio.wait_until_loaded(180), "the single-file model did not load"
    server.autov2 = hashlib.sha256(weights.read_bytes()).hexdigest()[:10]
    return server


def agree_on_asked(png: bytes, autov2: str, seed: int, sampler: str = "Euler a", size: str = "64x64",
                   steps: int = 2, cfg: str = "7.5") -> None:
    """sd-parsers and our reader (of the infotext alone) both read back what was asked."""
    found = ParserManager(managed_parsers=[AUTOMATIC1111Parser]).parse(Image.open(BytesIO(png)))
    assert found is not None and found.generator.name == "AUTOMATIC1111", found
    used = found.samplers[0]
    assert (used.name, used.parameters["steps"], used.parameters["cfg_scale"], used.parameters["seed"]) == (
        sampler, str(steps), cfg, str(seed))
    assert [p.value for p in found.prompts] == [PROMPT] and [p.value for p in found.negative_prompts] == [NEGATIVE]
    assert found.metadata["Size"] == size and used.model.hash == autov2 and used.model.name == "tiny-file"

    with Image.open(BytesIO(png)) as im:
        assert md.SD_METADATA in im.info, "our own recipe is kept beside the infotext"
        only_a1111 = PngImagePlugin.PngInfo()
        only_a1111.add_text("parameters", im.info["parameters"])
        copy = BytesIO()
        im.save(copy, format="PNG", pnginfo=only_a1111)  # an A1111 image, as dropped on the studio
    ours = md.read_metadata(Image.open(copy))
    image = ours["image"]
    assert image["prompt"][0]["prompt"] == PROMPT  # read in A1111's syntax, its negative prompt apart
    assert (image["negative_prompt"], image["prompt_syntax"]) == (NEGATIVE, "a1111")
    assert (image["steps"], image["cfg_scale"], image["seed"]) == (steps, float(cfg), seed)
    assert f"{image['width']}x{image['height']}" == size and ours["model_hash"] == autov2
    assert md.SAMPLERS_BY_ID[image["sampler"]].a1111.removesuffix(" Karras") == sampler


def test_an_image_made_over_socketio_is_read_as_a1111_infotext(checkpoint_server, connect):
    client = connect(checkpoint_server.url)
    client.emit("generateImage", {"prompt": f"{PROMPT} [{NEGATIVE}]", "iterations": 1, "steps": 2, "cfg_scale": 7.5,
                                  "threshold": 0, "perlin": 0, "width": 64, "height": 64, "sampler_name": "k_euler_a",
                                  "seed": 4242, "seamless": False, "hires_fix": False, "progress_images": False,
                                  "progress_latents": False, "save_intermediates": 0, "variation_amount": 0,
                                  "with_variations": []}, False, False)
    result = client.wait_for("generationResult", timeout=180)[0]
    png = requests.get(checkpoint_server.url + result["url"], timeout=30).content
    agree_on_asked(png, checkpoint_server.autov2, 4242)


def test_a1111_api_images_saved_and_sent_carry_it_and_info_is_the_same_text(checkpoint_server):
    body = {"prompt": PROMPT, "negative_prompt": NEGATIVE, "seed": 99, "steps": 3, "cfg_scale": 6, "width": 64,
            "height": 64, "sampler_name": "DPM++ 2M", "scheduler": "karras", "save_images": True}
    before = set(checkpoint_server.studio.outdir.glob("*.png"))
    response = requests.post(f"{checkpoint_server.url}sdapi/v1/txt2img", json=body, timeout=180)
    assert response.status_code == 200, response.text
    sent = base64.b64decode(response.json()["images"][0])
    agree_on_asked(sent, checkpoint_server.autov2, 99, "DPM++ 2M", steps=3, cfg="6")
    (saved,) = set(checkpoint_server.studio.outdir.glob("*.png")) - before
    agree_on_asked(saved.read_bytes(), checkpoint_server.autov2, 99, "DPM++ 2M", steps=3, cfg="6")
    info = response.json()["info"]
    import json

    with Image.open(saved) as im:
        assert json.loads(info)["infotexts"] == [im.info["parameters"]]
        assert "Schedule type: Karras" in im.info["parameters"]
    # png-info reads it back (and prefers our sd-metadata, which says the same)
    back = requests.post(f"{checkpoint_server.url}sdapi/v1/png-info",
                         json={"image": base64.b64encode(sent).decode()}, timeout=30).json()
    assert back["info"] == json.loads(info)["infotexts"][0]
    assert back["parameters"]["image"]["sampler"] == "k_dpmpp_2m_karras"


def test_openai_api_images_carry_it(checkpoint_server):
    client = openai.OpenAI(base_url=f"{checkpoint_server.url}v1", api_key="dummy", max_retries=0, timeout=180)
    result = client.images.generate(prompt=PROMPT, size="64x64", response_format="b64_json",
                                    extra_body={"steps": 2, "sampler": "Euler a", "seed": 5,
                                                "negative_prompt": NEGATIVE, "cfg_scale": 7.5})
    agree_on_asked(base64.b64decode(result.data[0].b64_json), checkpoint_server.autov2, 5)


def test_a_model_file_is_hashed_once_then_read_from_the_cache(checkpoint_server):
    """A1111's hash needs the whole file's sha256: it is kept by (path, size, mtime), never recomputed."""
    import json
    import os

    from ldm.invoke.model_manager import ModelManager

    root = checkpoint_server.studio.config.root
    manager = ModelManager(root)
    entry = manager.config()["tiny-file"]
    cache_file = root / "models" / ".hashes.json"
    cache = json.loads(cache_file.read_text())
    assert cache[entry["path"]]["sha256"][:10] == checkpoint_server.autov2, "loading the model stored its hash"
    original = cache_file.read_text()
    try:
        # A planted value is what comes back: the file was not read again.
        cache[entry["path"]]["sha256"] = "f" * 64
        cache_file.write_text(json.dumps(cache))
        assert manager.model_hash("tiny-file", entry) == "f" * 64
        # A changed file (new mtime) is hashed afresh.
        stat = os.stat(entry["path"])
        os.utime(entry["path"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert manager.model_hash("tiny-file", entry)[:10] == checkpoint_server.autov2
    finally:
        cache_file.write_text(original)
