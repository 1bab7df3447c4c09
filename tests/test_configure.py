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
from ldm.invoke.control.table import ANNOTATORS_REPO
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


@pytest.fixture(scope="module")
def tiny_controlnet():
    """A tiny SD 1.x ControlNet (seeded random weights) and its tensors in the original layout, the
    layout of the files configure offers."""
    from tests.support.tiny_checkpoints import build_tiny_pipeline
    from tests.support.tiny_control import build_tiny_controlnet, controlnet_to_ldm

    net = build_tiny_controlnet(build_tiny_pipeline("sd1", seed=3).unet, seed=11)
    return net, {k: v.contiguous().half() for k, v in controlnet_to_ldm(net).items()}


def _published_sizes(table: dict, files: dict[str, bytes]) -> dict:
    """``table`` pointed at the stand-in ``files``: their sha256, and their size where upstream publishes one."""
    return {k: (_sha(files[k]), len(files[k]) if size else None) for k, (_, size) in table.items()}


@pytest.fixture
def hub(monkeypatch, tmp_path, tiny_controlnet):
    """A loopback server holding the six release files, the annotator files, the ControlNets (real
    original-layout safetensors of a tiny ControlNet, fp16 like upstream's) and a stand-in SD 1.5 repo;
    configure's checksum tables are pointed at the stand-in files, and the Hugging Face cache at a
    temporary folder."""
    import huggingface_hub.constants as hf_constants
    from safetensors.torch import save

    rng = __import__("random").Random(0)
    files = {key: rng.randbytes(150_000 + 1000 * i) for i, key in enumerate(configure.CHECKSUMS)}
    monkeypatch.setattr(configure, "CHECKSUMS", {k: (_sha(v), len(v)) for k, v in files.items()})
    annotator_files = {name: rng.randbytes(50_000 + 100 * i) for i, name in enumerate(configure.ANNOTATOR_CHECKSUMS)}
    monkeypatch.setattr(configure, "ANNOTATOR_CHECKSUMS", _published_sizes(configure.ANNOTATOR_CHECKSUMS, annotator_files))
    files.update(annotator_files)
    # the same network in each file, told apart by its metadata (so each has a sha256 of its own)
    controlnet_files = {name: save(tiny_controlnet[1], metadata={"file": name}) for name in configure.CONTROLNET_CHECKSUMS}
    monkeypatch.setattr(configure, "CONTROLNET_CHECKSUMS",
                        _published_sizes(configure.CONTROLNET_CHECKSUMS, controlnet_files))
    files.update(controlnet_files)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with serve() as srv:
        for item in configure.support_downloads(Path("/unused")):
            srv.files[item.url.removeprefix(configure.GITHUB)] = files[item.key]
        for item in configure.annotator_downloads(Path("/unused")) + configure.controlnet_downloads(Path("/unused")):
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
    assert names == ["annotators/ControlNetHED.pth", "annotators/body_pose_model.pth", "annotators/facenet.pth",
                     "annotators/hand_pose_model.pth", "annotators/sk_model.pth", "annotators/sk_model2.pth",
                     "annotators/table5_pidinet.pth",
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
    assert not [r for r in srv.requests if r[0] == "GET" and ("/releases/" in r[1] or "/resolve/" in r[1])
                and configure.SD15_REPO not in r[1]]


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
    path = f"/{ANNOTATORS_REPO}/resolve/{configure.ANNOTATORS_REVISION}/sk_model.pth"
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


def _controlnet_path(name: str) -> str:
    return f"/{configure.CONTROLNETS_REPO}/resolve/{configure.CONTROLNETS_REVISION}/{name}"


def test_the_controlnets_are_verified_added_to_models_yaml_and_a_wrong_one_is_refused(root, hub, tiny_controlnet,
                                                                                     capsys):
    from ldm.invoke.model_manager import ModelManager

    srv, files = hub
    net, _ = tiny_controlnet
    canny, tile = "control_v11p_sd15_canny_fp16.safetensors", "control_v11f1e_sd15_tile_fp16.safetensors"
    wrong = bytearray(files[tile])
    wrong[-10] ^= 0xFF  # a tensor byte: still a loadable file, of the same size, but not upstream's
    srv.files[_controlnet_path(tile)] = bytes(wrong)
    # another install's ControlNet already has the name configure would give its canny file
    ModelManager(root).add_model("control_v11p_sd15_canny_fp16", {"format": "controlnet", "family": "sd1",
                                                                  "path": "/elsewhere/control_v11p_sd15_canny_fp16.pth"})

    assert _run(root, srv) == 1
    err = capsys.readouterr().err
    assert f"{tile} from" in err and "failed its checksum" in err and ".part from" not in err
    folder = root / configure.CONTROLNET_FOLDER
    assert not (folder / tile).exists() and not (folder / (tile + ".part")).exists()
    manager = ModelManager(root)
    entries = manager.control_models()
    ours = {n: e for n, e in entries.items() if str(e["path"]).startswith(str(folder.resolve()))}
    assert sorted(Path(e["path"]).name for e in ours.values()) == sorted(set(configure.CONTROLNET_CHECKSUMS) - {tile})
    assert entries["control_v11p_sd15_canny_fp16"]["path"] == "/elsewhere/control_v11p_sd15_canny_fp16.pth"
    assert Path(ours["control_v11p_sd15_canny_fp16-2"]["path"]).name == canny
    assert all(e["format"] == "controlnet" and e["family"] == "sd1" for e in ours.values())
    assert (folder / canny).read_bytes() == files[canny]
    # what came down loads as users' ControlNets do, with the tiny network's weights
    loaded = manager.get_control("control_v11f1p_sd15_depth_fp16").model
    want = net.controlnet_mid_block.weight
    assert torch.equal(loaded.controlnet_mid_block.weight.to(want.dtype), want.half().to(want.dtype))

    srv.files[_controlnet_path(tile)] = files[tile]
    assert _run(root, srv) == 0
    again = ModelManager(root).control_models()
    assert set(again) == set(entries) | {"control_v11f1e_sd15_tile_fp16"}, "a re-run adds no second entry"
    assert (folder / tile).read_bytes() == files[tile]


def test_skip_controlnets_downloads_and_registers_none(root, hub):
    from ldm.invoke.model_manager import ModelManager

    srv, _ = hub
    assert configure.main(["--root", str(root), "--yes", "--hf-endpoint", srv.url, "--mirror", srv.url,
                           "--no-progress", "--skip-controlnets", "--skip-sd-weights"]) == 0
    assert not [r for r in srv.requests if configure.CONTROLNETS_REPO in r[1]]
    assert not (root / configure.CONTROLNET_FOLDER).exists() and ModelManager(root).control_models() == {}
    assert (root / "models" / "annotators" / "ControlNetHED.pth").is_file()


def test_the_offered_controlnets_are_the_sd15_v1_1_set_with_published_sha256s(tmp_path):
    items = configure.controlnet_downloads(tmp_path, "http://mirror.example")
    assert {i.key for i in items} == set(configure.CONTROLNET_CHECKSUMS)
    for item in items:
        assert item.key.startswith("control_v11") and "_sd15_" in item.key and item.key.endswith(".safetensors")
        assert item.dest == tmp_path / "models" / "controlnet" / item.key
        assert item.url == f"http://mirror.example/{configure.CONTROLNETS_REPO}/resolve/main/{item.key}"
        assert len(item.sha256) == 64 and int(item.sha256, 16)
    assert configure.controlnet_kinds() == ["canny", "depth", "openpose", "lineart", "softedge", "inpaint", "tile"]


def test_every_offered_annotator_file_is_one_a_preprocessor_reads_with_a_published_sha256():
    from ldm.invoke.control.table import PREPROCESSORS

    needed = {name for p in PREPROCESSORS.values() for name in p.weights}
    assert set(configure.ANNOTATOR_CHECKSUMS) <= needed
    # Every weights file is offered; Depth Anything's folder alone has no published sha256.
    assert needed - set(configure.ANNOTATOR_CHECKSUMS) == {PREPROCESSORS["depth_anything"].weights[0]}
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
