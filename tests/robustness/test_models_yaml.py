"""Issue 21 items 11 and 1 (the model manager's part): a broken models.yaml names the file and the entry;
``set_default`` refuses an entry that cannot load, with the reason, and leaves models.yaml as it was."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import yaml

from ldm.invoke.errors import ModelLoadError
from ldm.invoke.model_manager import ModelManager
from tests.conftest import private_root

from .junk_files import write_junk


def _manager(tmp_path: Path, text: str | bytes) -> ModelManager:
    root = tmp_path / "root"
    root.mkdir()
    (root / "models.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    return ModelManager(root)


@pytest.mark.parametrize("content, entry", [
    ("demo: 5\n", "'demo'"),
    ("demo:\n  format: demo\nother: [1, 2]\n", "'other'"),
    ("demo: just a string\n", "'demo'"),
    ("__folders__: [a, b]\n", "'__folders__'"),
    ("__folders__:\n  loras: 7\n", "__folders__.loras"),
])
def test_a_wrong_entry_names_the_file_and_the_entry(tmp_path, content: str, entry: str) -> None:
    manager = _manager(tmp_path, content)
    for call in (manager.config, manager.list_models, manager.default_model_name, lambda: manager.folders("loras")):
        with pytest.raises(ModelLoadError) as info:
            call()
        assert str(manager.config_path) in str(info.value) and entry in str(info.value), str(info.value)


def test_random_bytes_name_the_file(tmp_path) -> None:
    manager = _manager(tmp_path, random.Random(11).randbytes(4000))
    with pytest.raises(ModelLoadError) as info:
        manager.config()
    assert str(manager.config_path) in str(info.value) and "UTF-8" in str(info.value)


def test_a_model_change_over_the_protocol_names_the_broken_file(server_factory, connect, test_root, tmp_path) -> None:
    where = tmp_path / "broken-root"
    where.mkdir()
    (where / "models.yaml").write_text("demo: 5\n")
    server = server_factory(root=private_root(test_root, where))
    client = connect(server.url)
    client.emit("requestModelChange", "demo")
    error = client.wait_for("error", timeout=120)[0]
    assert str(where / "models.yaml") in error["message"] and "'demo'" in error["message"], error


# -- set_default ---------------------------------------------------------------------------------------


@pytest.fixture
def models_root(test_root, tmp_path) -> Path:
    """A root whose models.yaml has the demo model plus entries that cannot load, each for its own reason."""
    root = tmp_path / "root"
    root.mkdir()
    junk = write_junk(tmp_path / "junk")
    moved = tmp_path / "moved-diffusers"
    shutil.copytree(test_root / "models" / "demo", moved)
    no_unet = tmp_path / "no-unet"
    shutil.copytree(test_root / "models" / "demo", no_unet)
    shutil.rmtree(no_unet / "unet")
    empty_vae = tmp_path / "empty-vae"
    shutil.copytree(test_root / "models" / "demo", empty_vae)
    for f in (empty_vae / "vae").glob("*.safetensors"):
        f.unlink()
    lora = tmp_path / "a-lora.safetensors"
    from tests.support.tiny_checkpoints import build_tiny_pipeline, write_tiny_lora
    write_tiny_lora(build_tiny_pipeline("sd1", seed=2), lora)
    entries = {
        "demo": {"format": "demo", "path": str(test_root / "models" / "demo"), "default": True},
        "moved": {"format": "diffusers", "path": str(moved)},
        "no-unet": {"format": "diffusers", "path": str(no_unet)},
        "empty-vae": {"format": "diffusers", "path": str(empty_vae)},
        "gone-ckpt": {"format": "checkpoint", "path": str(tmp_path / "gone.safetensors")},
        "junk-ckpt": {"format": "checkpoint", "path": str(junk[0])},
        "lora-as-model": {"format": "checkpoint", "path": str(lora)},
        "odd-format": {"format": "onnx", "path": str(moved)},
        "bad-vae": {"format": "diffusers", "path": str(moved), "vae": str(tmp_path / "no-vae")},
        "offline-repo": {"format": "diffusers", "repo_id": "nobody/not-downloaded"},
    }
    (root / "models.yaml").write_text(yaml.safe_dump(entries, sort_keys=False))
    shutil.rmtree(moved)  # the user moved it after adding it
    return root


REASONS = {
    "moved": "does not exist",
    "no-unet": "lacks the folder(s) unet",
    "empty-vae": "vae hold no weight files",
    "gone-ckpt": "does not exist",
    "junk-ckpt": "could not be read as a PyTorch checkpoint",
    "lora-as-model": "LoRA",
    "odd-format": "'onnx' is unknown",
    "bad-vae": "VAE",
    "offline-repo": "not downloaded",
}


def test_set_default_refuses_an_entry_that_cannot_load(models_root, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    manager = ModelManager(models_root)
    before = manager.config_path.read_bytes()
    for name, reason in REASONS.items():
        with pytest.raises(ModelLoadError) as info:
            manager.set_default(name)
        assert f"{name!r} cannot be the default model" in str(info.value) and reason in str(info.value), str(info.value)
    assert manager.config_path.read_bytes() == before and manager.default_model_name() == "demo"
    manager.set_default("demo")  # a loadable entry is still accepted


def test_set_default_over_the_protocol_refuses_with_the_reason(server_factory, connect, test_root, models_root) -> None:
    root = private_root(test_root, models_root)
    server = server_factory(root=root)
    assert server.studio.wait_until_loaded(120)
    client = connect(server.url)
    mark = client.mark()
    client.emit("setDefaultModel", "gone-ckpt")
    error = client.wait_for("error", after=mark, timeout=60)[0]
    assert "'gone-ckpt' cannot be the default model" in error["message"] and "does not exist" in error["message"]
    assert not client.of("modelListChanged")
    assert ModelManager(root).default_model_name() == "demo"
