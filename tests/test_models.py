"""Single-file checkpoints (SD 1.x, SD 2.x v-prediction, SDXL) written in the original LDM layout, LoRA,
textual-inversion embeddings, clip skip and the model manager's import/scan/delete, on tiny models.

Nothing here may reach the network: every connection that is not to the loopback address fails, and
any attempt fails the module."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ldm.invoke.errors import InvalidParameterError, ModelLoadError
from ldm.invoke.generate import Generate
from ldm.invoke.model_manager import ModelManager
from tests.support.tiny_checkpoints import (
    build_tiny_pipeline,
    write_checkpoint,
    write_tiny_embedding,
    write_tiny_lora,
)

SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 7}
FAMILIES = ("sd1", "sd2", "sdxl")


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):
        return True  # a Unix socket
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return address[0] == "localhost"


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Blocks (and records) every non-loopback connection and name lookup while this module runs."""
    attempts: list[str] = []
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def connect(self, address):
        if not _is_loopback(address):
            attempts.append(f"connect {address}")
            raise OSError(f"network access blocked in tests: {address}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_loopback(address):
            attempts.append(f"connect_ex {address}")
            return 111
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost") and not _is_loopback((host, 0)):
            attempts.append(f"getaddrinfo {host}")
            raise socket.gaierror(f"name lookup blocked in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts
    assert not attempts, f"network access was attempted: {attempts}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny pipelines of each family, and an AUTOMATIC1111-style tree holding them as checkpoints with a
    LoRA and an embedding."""
    top = tmp_path_factory.mktemp("a1111")
    pipes = {f: build_tiny_pipeline(f, seed=i, prediction_type="v_prediction" if f == "sd2" else "epsilon")
             for i, f in enumerate(FAMILIES)}
    models = top / "models" / "Stable-diffusion"
    for family, pipe in pipes.items():
        write_checkpoint(pipe, family, models / f"tiny-{family}.safetensors", v_prediction_yaml=family == "sd2")
    write_tiny_lora(pipes["sd1"], top / "models" / "Lora" / "tinylora.safetensors")
    write_tiny_embedding(pipes["sd1"].text_encoder.config.hidden_size, top / "embeddings" / "tinystyle.pt")
    return {"pipes": pipes, "top": top, "models": models}


@pytest.fixture(scope="module")
def gen(tiny, tmp_path_factory) -> Generate:
    root = tmp_path_factory.mktemp("models-root")
    g = Generate(root=root, precision="float32")  # float32 so pixels compare exactly with diffusers' own
    g.model_manager.scan_folder(tiny["top"])
    g.set_model("tiny-sd1")
    return g


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def one(gen: Generate, prompt: str = "a cat", **kw) -> Image.Image:
    return gen.prompt2image(prompt, **{**SMALL, **kw})[0][0]


def image_meta(image: Image.Image) -> dict:
    return json.loads(image.info["sd-metadata"])["image"]


# ---------------------------------------------------------------------------------------------
# Single-file checkpoints


def test_sd1_safetensors_imports_and_generates_offline(tiny, tmp_path, no_network):
    manager = ModelManager(tmp_path)
    name = manager.import_model(tiny["models"] / "tiny-sd1.safetensors")
    entry = manager.config()[name]
    assert (name, entry["format"], entry["family"], entry["width"]) == ("tiny-sd1", "checkpoint", "sd1", 512)
    g = Generate(root=tmp_path, model=name)
    image, seed = g.prompt2image("a cat", **SMALL)[0]
    assert image.size == (64, 64) and seed == 7
    assert image_meta(image)["type"] == "txt2img"
    assert not no_network


@pytest.mark.parametrize("family", FAMILIES)
def test_loaded_checkpoint_holds_the_original_weights_and_matches_diffusers_own_pipeline(tiny, gen, family):
    """The converted model has every tensor of the original, and the engine's output (its conditioning,
    SDXL's pooled embeddings and size conditioning, v-prediction) matches diffusers' pipeline on the
    original model, from the same starting noise."""
    from ldm.invoke.noise import gaussian_noise
    from ldm.invoke.samplers import make_scheduler

    original = tiny["pipes"][family]
    gen.set_model(f"tiny-{family}")
    loaded = gen._model().pipeline
    assert type(loaded).__name__ == type(original).__name__
    for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if getattr(original, part, None) is None:
            continue
        a, b = getattr(original, part).state_dict(), getattr(loaded, part).state_dict()
        assert a.keys() == b.keys(), part
        assert all(torch.equal(a[k], b[k]) for k in a), part
    expected_prediction = "v_prediction" if family == "sd2" else "epsilon"
    assert loaded.scheduler.config.prediction_type == expected_prediction

    ours = one(gen, sampler_name="k_euler", cfg_scale=7.5)
    original.scheduler = make_scheduler("k_euler", loaded.scheduler.config)
    noise = gaussian_noise(SMALL["seed"], (1, 4, 8, 8))
    with torch.no_grad():
        theirs = original("a cat", height=64, width=64, num_inference_steps=2, guidance_scale=7.5,
                          latents=noise.clone(), output_type="np").images[0]
    diff = np.abs(pixels(ours) - np.round(theirs * 255).astype(np.int16))
    assert diff.max() <= 2, f"{family}: the engine's image differs from diffusers' by up to {diff.max()}"


def test_sd2_prediction_type_comes_from_the_yaml_beside_the_checkpoint(tiny, gen, tmp_path):
    entry = gen.model_manager.config()["tiny-sd2"]
    assert entry["prediction_type"] == "v_prediction" and entry["width"] == 768
    gen.set_model("tiny-sd2")
    as_v = one(gen)
    # The same weights read as an epsilon model give another picture: the v-prediction is really used.
    link = tmp_path / "tiny-sd2-eps.safetensors"
    os.link(tiny["models"] / "tiny-sd2.safetensors", link)
    name = gen.model_manager.import_model(link, prediction_type="epsilon")
    gen.set_model(name)
    assert gen._model().pipeline.scheduler.config.prediction_type == "epsilon"
    as_eps = one(gen)
    assert not np.array_equal(pixels(as_v), pixels(as_eps))
    gen.set_model("tiny-sd2")
    gen.model_manager.delete_model(name)


def test_sdxl_generates_with_previews_of_its_own_latent_space(gen):
    from ldm.invoke.generator.base import SD_LATENT_RGB, SDXL_LATENT_RGB

    gen.set_model("tiny-sdxl")
    previews = []
    image = one(gen, step_callback=lambda s, t, p: previews.append(p))
    assert image.size == (64, 64) and len(previews) == 2 and all(p.size == (64, 64) for p in previews)
    from ldm.invoke.generator.txt2img import Txt2Img

    generator = Txt2Img(gen._model().pipeline, gen.torch_device, torch.float32)
    assert generator.is_sdxl and generator.native_size == 1024
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    expected = ((latents[0].permute(1, 2, 0) @ SDXL_LATENT_RGB + torch.tensor([0.1084, -0.0175, -0.0011]) + 1) / 2)
    got = np.asarray(generator.latent_preview(latents, 8, 8), dtype=np.float32) / 255
    assert np.abs(got - expected.clamp(0, 1).numpy()).max() < 0.01
    sd_like = ((latents[0].permute(1, 2, 0) @ SD_LATENT_RGB + 1) / 2).clamp(0, 1).numpy()
    assert np.abs(got - sd_like).max() > 0.05


def test_hires_fix_first_pass_uses_the_models_native_size(gen):
    from ldm.invoke.generator.hires import first_pass_size

    assert first_pass_size(1152, 1152, 1024) == (1024, 1024)
    assert first_pass_size(1024, 1024, 1024) is None
    assert first_pass_size(1024, 1024, 512) == (512, 512)
    gen.set_model("tiny-sd1")
    from ldm.invoke.generator.hires import HiresFix

    assert HiresFix(gen._model().pipeline, gen.torch_device, torch.float32).native_size == 512


def test_threshold_works_with_a_v_prediction_model(gen):
    gen.set_model("tiny-sd2")
    plain, clamped = one(gen, cfg_scale=15), one(gen, cfg_scale=15, threshold=0.5)
    assert not np.array_equal(pixels(plain), pixels(clamped))
    assert np.isfinite(pixels(clamped)).all()


def test_diffusers_folders_legacy_entries_and_a_separate_vae_file_load(tiny, tmp_path):
    from safetensors.torch import save_file

    from tests.support.tiny_checkpoints import vae_to_ldm

    manager = ModelManager(tmp_path / "root")
    folder = tmp_path / "tiny-xl-diffusers"
    tiny["pipes"]["sdxl"].save_pretrained(folder)
    name = manager.import_model(folder)
    assert manager.config()[name]["format"] == "diffusers" and manager.config()[name]["family"] == "sdxl"
    assert type(manager.get(name, {"torch_dtype": torch.float32}).pipeline).__name__ == "StableDiffusionXLPipeline"
    # an InvokeAI 2.x entry: weights + a config path that does not exist here
    manager.add_model("legacy", {"description": "old style", "weights": str(tiny["models"] / "tiny-sd1.safetensors"),
                                 "config": "configs/stable-diffusion/v1-inference.yaml"})
    assert manager.get("legacy", {"torch_dtype": torch.float32}).family == "sd1"
    # a VAE on its own, in the layout of vae-ft-mse-840000-ema-pruned.safetensors
    other_vae = build_tiny_pipeline("sd1", seed=5).vae
    vae_file = tmp_path / "other.vae.safetensors"
    save_file({k.removeprefix("first_stage_model."): v for k, v in vae_to_ldm(other_vae).items()}, str(vae_file))
    manager.add_model("with-vae", {"format": "checkpoint", "path": str(tiny["models"] / "tiny-sd1.safetensors"),
                                   "vae": str(vae_file)})
    loaded = manager.get("with-vae", {"torch_dtype": torch.float32}).pipeline.vae.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in other_vae.state_dict().items())


# ---------------------------------------------------------------------------------------------
# .ckpt files: plain tensors load, anything else is refused without being run


class Payload:
    """Unpickling this would create a folder: the proof that a refused file ran nothing."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_plain_tensor_ckpt_loads(tiny, tmp_path):
    ckpt = write_checkpoint(tiny["pipes"]["sd1"], "sd1", tmp_path / "plain.ckpt")
    manager = ModelManager(tmp_path / "root")
    name = manager.import_model(ckpt)
    assert manager.config()[name]["family"] == "sd1"
    pipe = manager.get(name, {"torch_dtype": torch.float32}).pipeline
    original = tiny["pipes"]["sd1"].unet.state_dict()
    assert all(torch.equal(v, pipe.unet.state_dict()[k]) for k, v in original.items())


def test_ckpt_with_pickled_objects_is_refused_and_runs_nothing(tiny, tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.ckpt"
    state = {k: v for k, v in list(tiny["pipes"]["sd1"].unet.state_dict().items())[:3]}
    torch.save({"state_dict": state, "callbacks": Payload(marker)}, ckpt)
    manager = ModelManager(tmp_path / "root")
    with pytest.raises(ModelLoadError) as info:
        manager.import_model(ckpt)
    assert "safetensors" in str(info.value) and "evil.ckpt" in str(info.value)
    # a models.yaml entry written by hand is refused at load time too
    manager.add_model("evil", {"format": "checkpoint", "path": str(ckpt)})
    with pytest.raises(ModelLoadError, match="safetensors"):
        manager.get("evil", {"torch_dtype": torch.float32})
    assert not marker.exists()


def test_a_lora_or_embedding_is_not_imported_as_a_model(tiny, tmp_path):
    manager = ModelManager(tmp_path)
    with pytest.raises(ModelLoadError, match="LoRA"):
        manager.import_model(tiny["top"] / "models" / "Lora" / "tinylora.safetensors")
    with pytest.raises(ModelLoadError, match="embedding"):
        manager.import_model(tiny["top"] / "embeddings" / "tinystyle.pt")


# ---------------------------------------------------------------------------------------------
# LoRA, embeddings, clip skip


def test_lora_changes_the_output_is_recorded_and_reproduces_and_leaves_no_trace(gen, caplog):
    gen.set_model("tiny-sd1")
    base = one(gen)
    with_lora = one(gen, "a cat <lora:tinylora:0.8>")
    assert np.abs(pixels(with_lora) - pixels(base)).mean() > 2
    meta = image_meta(with_lora)
    assert meta["loras"] == [{"name": "tinylora", "weight": 0.8}]
    assert meta["prompt"][0]["prompt"] == "a cat <lora:tinylora:0.8>"
    # InvokeAI's withLora() is the same LoRA, and Use All (the recorded prompt and seed) gives the same pixels
    again = one(gen, "a cat withLora(tinylora,0.8)", seed=meta["seed"], steps=meta["steps"])
    assert np.array_equal(pixels(again), pixels(with_lora))
    # a LoRA that is not there is a warning, and the picture is the plain model's
    missing = one(gen, "a cat <lora:no-such-lora:1>")
    assert any("no-such-lora" in r.message for r in caplog.records) and image_meta(missing)["loras"] == []
    assert np.array_equal(pixels(missing), pixels(base))
    assert not any(gen._model().pipeline.get_list_adapters().values())


def test_embedding_trigger_word_changes_the_output_and_reproduces(gen, tiny):
    gen.set_model("tiny-sd1")
    plain = one(gen)
    with_embedding = one(gen, "a tinystyle cat")
    assert image_meta(with_embedding)["embeddings"] == ["tinystyle"]
    folder = tiny["top"] / "embeddings"
    hidden = folder.with_name("embeddings-hidden")
    folder.rename(hidden)
    try:  # the same words without the embedding file are just words
        without = one(gen, "a tinystyle cat")
        assert image_meta(without)["embeddings"] == []
    finally:
        hidden.rename(folder)
    assert np.abs(pixels(with_embedding) - pixels(without)).mean() > 1
    assert np.array_equal(pixels(one(gen, image_meta(with_embedding)["prompt"][0]["prompt"])), pixels(with_embedding))
    assert np.array_equal(pixels(one(gen)), pixels(plain))
    assert len(gen._model().pipeline.tokenizer) == 49408  # the added tokens are gone again


def test_embedding_triggers_are_whole_words_or_bracketed():
    from ldm.invoke.model_formats.extras import trigger_pattern

    pattern = trigger_pattern("tinystyle")
    assert all(pattern.search(t) for t in ("a tinystyle cat", "tinystyle", "a <tinystyle> cat", "(tinystyle:1.2)"))
    assert not any(pattern.search(t) for t in ("a tinystyles cat", "mytinystyle", "tiny-style", "tinystyle-v2"))


def test_clip_skip_changes_the_output_and_is_recorded(gen):
    gen.set_model("tiny-sd1")
    plain, skipped = one(gen), one(gen, clip_skip=1)
    assert not np.array_equal(pixels(plain), pixels(skipped))
    assert image_meta(skipped)["clip_skip"] == 1 and image_meta(plain)["clip_skip"] == 0
    with pytest.raises(InvalidParameterError) as info:
        one(gen, clip_skip=5)
    assert info.value.field == "clip_skip"


# ---------------------------------------------------------------------------------------------
# Scanning other programs' folders, switching, deleting


def test_scanning_an_automatic1111_tree_adds_checkpoints_loras_and_embeddings(tiny, tmp_path):
    manager = ModelManager(tmp_path)
    report = manager.scan_folder(tiny["top"])
    assert sorted(report.added) == ["tiny-sd1", "tiny-sd2", "tiny-sdxl"]
    assert report.loras == ["tinylora"] and report.embeddings == ["tinystyle"]
    assert report.skipped == []
    config = manager.config()
    assert {config[n]["family"] for n in report.added} == {"sd1", "sd2", "sdxl"}
    assert manager.list_loras() == {"tinylora": tiny["top"] / "models" / "Lora" / "tinylora.safetensors"}
    assert list(manager.list_embeddings()) == ["tinystyle"]
    again = manager.scan_folder(tiny["top"])
    assert again.added == [] and sorted(again.known) == sorted(report.added)
    assert again.folders == {"loras": [], "embeddings": []}
    assert set(ModelManager(tmp_path).list_models()) == {"demo", "tiny-sd1", "tiny-sd2", "tiny-sdxl"}


def test_scanning_a_comfyui_tree(tiny, tmp_path):
    comfy = tmp_path / "ComfyUI" / "models"
    for sub, src in (("checkpoints", tiny["models"] / "tiny-sdxl.safetensors"),
                     ("loras", tiny["top"] / "models" / "Lora" / "tinylora.safetensors")):
        (comfy / sub).mkdir(parents=True)
        os.link(src, comfy / sub / src.name)
    (comfy / "vae").mkdir()
    (comfy / "vae" / "notes.txt").write_text("not a model")
    manager = ModelManager(tmp_path / "root")
    report = manager.scan_folder(tmp_path / "ComfyUI")
    assert report.added == ["tiny-sdxl"] and report.loras == ["tinylora"]
    assert manager.folders("loras")[1] == comfy / "loras"


def test_switching_between_scanned_models(gen):
    gen.set_model("tiny-sd1")
    a = one(gen)
    gen.set_model("tiny-sdxl")
    assert gen.model_name == "tiny-sdxl"
    b = one(gen)
    models = gen.model_manager.list_models()
    assert models["tiny-sdxl"]["status"] == "active" and models["tiny-sd1"]["status"] == "cached"
    assert image_meta(b) != image_meta(a) or not np.array_equal(pixels(a), pixels(b))
    assert json.loads(b.info["sd-metadata"])["model_id"] == "tiny-sdxl"
    gen.set_model("tiny-sd1")
    assert np.array_equal(pixels(one(gen)), pixels(a))


def test_deleting_an_entry_keeps_the_file(tiny, tmp_path):
    copy = tmp_path / "keep-me.safetensors"
    shutil.copy(tiny["models"] / "tiny-sd1.safetensors", copy)
    manager = ModelManager(tmp_path / "root")
    name = manager.import_model(copy, make_default=True)
    assert manager.default_model_name() == name
    manager.delete_model(name)
    assert name not in manager.config() and copy.is_file()
    assert manager.default_model_name() == "demo"
    with pytest.raises(ModelLoadError, match="Unknown model"):
        manager.delete_model(name)
