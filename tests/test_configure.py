"""``invokeai-configure``: offline set-up with no network at all, and downloads from a loopback server
(GitHub-style release files with HTTP Range, and the Hugging Face hub API for Stable Diffusion 1.5):
sha256 verification, resuming a cut download and a left-over ``.part`` file, rejecting a bad file."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from ldm.invoke import configure
from tests.support.download_server import serve


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def offline_root(tmp_path_factory) -> Path:
    """``invokeai-configure --skip-downloads`` run with every socket refused (loopback too)."""
    root = tmp_path_factory.mktemp("configured") / "root"
    other = root.parent / "other-install" / "models" / "Lora"
    other.mkdir(parents=True)
    save_file({"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 8),
               "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": torch.zeros(8, 4)}, str(other / "mini.safetensors"))

    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        assert configure.main(["--root", str(root), "--skip-downloads", "--scan", str(other.parents[1])]) == 0
    return root


def test_skip_downloads_sets_up_a_working_root_with_no_network(offline_root):
    from ldm.invoke.generate import Generate

    config = yaml.safe_load((offline_root / "models.yaml").read_text())
    assert list(config) == ["demo", "__folders__"] and config["demo"]["format"] == "demo"
    assert (offline_root / "models" / "demo" / "model_index.json").is_file()
    for folder in ("loras", "embeddings", "outputs/img-samples"):
        assert (offline_root / folder).is_dir()
    g = Generate(root=offline_root)
    assert g.model_name == "demo" and g.is_demo_model
    # --scan remembered the other install's LoRA folder
    assert list(g.model_manager.list_loras()) == ["mini"]


@pytest.fixture
def root(offline_root, tmp_path) -> Path:
    """A copy of the offline root (so the demo model is not written again for every test)."""
    dest = tmp_path / "root"
    shutil.copytree(offline_root, dest)
    return dest


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A loopback server holding the six release files and a stand-in SD 1.5 repo; configure's checksum
    table is pointed at the stand-in files, and the Hugging Face cache at a temporary folder."""
    import huggingface_hub.constants as hf_constants

    rng = __import__("random").Random(0)
    files = {key: rng.randbytes(150_000 + 1000 * i) for i, key in enumerate(configure.CHECKSUMS)}
    monkeypatch.setattr(configure, "CHECKSUMS", {k: (_sha(v), len(v)) for k, v in files.items()})
    annotator_files = {name: rng.randbytes(50_000 + 100 * i) for i, name in enumerate(configure.ANNOTATOR_CHECKSUMS)}
    monkeypatch.setattr(configure, "ANNOTATOR_CHECKSUMS",  # the published size where upstream has one
                        {k: (_sha(v), len(v) if size else None)
                         for (k, v), (_, size) in zip(annotator_files.items(), configure.ANNOTATOR_CHECKSUMS.values())})
    files.update(annotator_files)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with serve() as srv:
        for item in configure.support_downloads(Path("/unused")):
            srv.files[item.url.removeprefix(configure.GITHUB)] = files[item.key]
        for item in configure.annotator_downloads(Path("/unused")):
            srv.files[item.url.removeprefix(configure.HUGGINGFACE)] = files[item.key]
        srv.repos[configure.SD15_REPO] = {
            name: (rng.randbytes(20_000) if name.endswith(".safetensors") else b"{}\n") for name in configure.SD15_FILES
        }
        srv.repos[configure.SD15_REPO]["safety_checker/model.fp16.safetensors"] = b"not wanted"
        yield srv, files


def _path_of(key: str) -> str:
    return next(i.url for i in configure.support_downloads(Path("/unused")) if i.key == key).removeprefix(configure.GITHUB)


def _run(root: Path, srv) -> int:
    return configure.main(["--root", str(root), "--yes", "--mirror", srv.url, "--hf-endpoint", srv.url, "--no-progress"])


def test_configure_downloads_verifies_and_resumes(root, hub, capsys):
    srv, files = hub
    # GFPGAN's connection drops half way; CodeFormer has a third left over from an interrupted run.
    srv.cut_once.add(_path_of("gfpgan"))
    codeformer = configure.support_downloads(root)[1]
    assert codeformer.key == "codeformer"
    codeformer.dest.parent.mkdir(parents=True, exist_ok=True)
    third = len(files["codeformer"]) // 3
    codeformer.dest.with_name(codeformer.dest.name + ".part").write_bytes(files["codeformer"][:third])

    assert _run(root, srv) == 0, capsys.readouterr().err
    for item in configure.support_downloads(root):
        assert item.dest.read_bytes() == files[item.key], item.key
        assert not item.dest.with_name(item.dest.name + ".part").exists()
    gfpgan_half = len(files["gfpgan"]) // 2
    assert ("GET", _path_of("gfpgan"), f"bytes={gfpgan_half}-") in srv.requests
    assert ("GET", _path_of("codeformer"), f"bytes={third}-") in srv.requests
    assert not any(p == _path_of("codeformer") and r is None for _, p, r in srv.requests), "resume, not restart"
    # upstream names in the folders the postprocessors read
    names = sorted(p.relative_to(root / "models").as_posix() for p in (root / "models").rglob("*.pth"))
    assert names == ["annotators/body_pose_model.pth", "annotators/facenet.pth", "annotators/hand_pose_model.pth",
                     "annotators/sk_model.pth", "annotators/sk_model2.pth",
                     "codeformer/codeformer.pth", "facexlib/detection_Resnet50_Final.pth",
                     "facexlib/parsing_parsenet.pth", "gfpgan/GFPGANv1.4.pth", "realesrgan/RealESRGAN_x2plus.pth",
                     "realesrgan/RealESRGAN_x4plus.pth"]

    config = yaml.safe_load((root / "models.yaml").read_text())
    sd = config[configure.SD15_NAME]
    assert sd["repo_id"] == configure.SD15_REPO and sd["variant"] == "fp16" and sd["default"] is True
    assert "demo" in config
    snapshot = next((root.parent / "hf-cache").glob("models--*/snapshots/*"))  # the hub fixture's cache
    assert sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()) == sorted(
        configure.SD15_FILES)

    # A second run finds every file verified in place and downloads nothing.
    srv.requests.clear()
    assert _run(root, srv) == 0
    assert not [r for r in srv.requests if r[0] == "GET" and "/releases/" in r[1]]


def test_configure_rejects_files_with_a_wrong_checksum(root, hub, capsys):
    srv, files = hub
    bad = bytearray(files["esrgan_x2"])
    bad[1000] ^= 0xFF  # same size, one byte off
    srv.files[_path_of("esrgan_x2")] = bytes(bad)
    srv.lfs_sha_override[(configure.SD15_REPO, "unet/diffusion_pytorch_model.fp16.safetensors")] = "0" * 64

    assert _run(root, srv) == 1
    err = capsys.readouterr().err
    assert "RealESRGAN_x2plus.pth" in err and "checksum" in err
    assert "unet/diffusion_pytorch_model.fp16.safetensors failed its checksum" in err
    x2 = root / "models" / "realesrgan" / "RealESRGAN_x2plus.pth"
    assert not x2.exists() and not x2.with_name(x2.name + ".part").exists()
    assert (root / "models" / "realesrgan" / "RealESRGAN_x4plus.pth").read_bytes() == files["esrgan_x4"]
    assert configure.SD15_NAME not in yaml.safe_load((root / "models.yaml").read_text())


def test_the_annotator_weights_come_from_the_pinned_hub_commit_verified_and_a_wrong_one_is_refused(root, hub,
                                                                                                   capsys):
    from ldm.invoke.control.table import annotator_files

    srv, files = hub
    wrong = bytearray(files["sk_model.pth"])
    wrong[10] ^= 0xFF  # no published size: the sha256 alone must catch it
    path = f"/{configure.ANNOTATORS_REPO}/resolve/{configure.ANNOTATORS_REVISION}/sk_model.pth"
    srv.files[path] = bytes(wrong)
    assert _run(root, srv) == 1
    err = capsys.readouterr().err
    assert "sk_model.pth" in err and "failed its checksum" in err
    folder = root / "models" / "annotators"
    assert not (folder / "sk_model.pth").exists()
    assert (folder / "body_pose_model.pth").read_bytes() == files["body_pose_model.pth"]
    assert ("GET", path, None) in srv.requests
    # What came down is what the preprocessors look for: openpose_full is ready, lineart_realistic is not.
    assert {"body_pose_model.pth", "hand_pose_model.pth", "facenet.pth", "sk_model2.pth"} <= annotator_files(root)
    srv.files[path] = files["sk_model.pth"]
    assert _run(root, srv) == 0 and (folder / "sk_model.pth").read_bytes() == files["sk_model.pth"]


def test_every_offered_annotator_file_is_one_a_preprocessor_reads_with_a_published_sha256():
    from ldm.invoke.control.table import PREPROCESSORS

    needed = {name for p in PREPROCESSORS.values() for name in p.weights}
    assert set(configure.ANNOTATOR_CHECKSUMS) <= needed
    assert all(len(sha) == 64 and int(sha, 16) for sha, _ in configure.ANNOTATOR_CHECKSUMS.values())


def test_download_file_gives_up_with_a_clear_message_and_keeps_the_partial_file(tmp_path):
    with serve() as srv:
        srv.files["/f.bin"] = b"x" * 10_000
        srv.cut_once.add("/f.bin")
        # the cut file resumes; a missing one is a clear error naming the URL
        configure.download_file(f"{srv.url}/f.bin", tmp_path / "f.bin", _sha(b"x" * 10_000), 10_000,
                                progress=False, retry_delay=0)
        assert (tmp_path / "f.bin").read_bytes() == b"x" * 10_000
        with pytest.raises(configure.DownloadError, match="HTTP 404"):
            configure.download_file(f"{srv.url}/missing.bin", tmp_path / "m.bin", None, progress=False)


def test_configure_is_a_console_script_and_invokeai_configure_help_works():
    out = subprocess.run([sys.executable, "-m", "ldm.invoke.configure", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0
    for flag in ("--root", "--yes", "--skip-downloads", "--mirror", "--hf-endpoint", "--scan"):
        assert flag in out.stdout


def test_invokeai_configure_flag_passes_every_option_on(tmp_path):
    """``invokeai --configure ...`` is ``invokeai-configure ...``."""
    from invokeai_gui.main import main

    root = tmp_path / "via-invokeai"
    assert main(["--configure", "--root", str(root), "--skip-downloads", "--yes"]) == 0
    assert yaml.safe_load((root / "models.yaml").read_text())["demo"]["format"] == "demo"
