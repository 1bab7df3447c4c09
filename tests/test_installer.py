"""``installer/install.sh``: passes shellcheck, and ``--dry-run`` picks the right PyTorch build for each
kind of machine (detection inputs faked by environment variables, or by stand-in nvidia-smi/rocminfo)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "installer" / "install.sh"
WHL = "https://download.pytorch.org/whl"


def test_install_sh_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is needed for this test: sudo apt-get install -y shellcheck"
    out = subprocess.run([shellcheck, "--severity=style", str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def dry_run(tmp_path: Path, env: dict[str, str], *args: str, path_prefix: Path | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INVOKEAI_")}
    if path_prefix is not None:
        clean["PATH"] = f"{path_prefix}{os.pathsep}{clean['PATH']}"
    out = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--root", str(tmp_path / "root"), *args],
                         capture_output=True, text=True, env={**clean, **env}, timeout=60)
    return out


def torch_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if "pip install torch torchvision" in line)


@pytest.mark.parametrize(
    ("env", "index", "words"),
    [
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "cuda", "INVOKEAI_FAKE_CUDA_VERSION": "12.8"},
         f"{WHL}/cu128", "CUDA 12.8 build"),
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "cuda", "INVOKEAI_FAKE_CUDA_VERSION": "13.1"},
         f"{WHL}/cu130", "CUDA 13.0 build"),
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "cuda", "INVOKEAI_FAKE_CUDA_VERSION": "12.6"},
         f"{WHL}/cu126", "CUDA 12.6 build"),
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "cuda", "INVOKEAI_FAKE_CUDA_VERSION": "11.4"},
         f"{WHL}/cu126", "update the NVIDIA driver"),
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "rocm"}, f"{WHL}/rocm6.4", "ROCm"),
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "none"}, f"{WHL}/cpu", "CPU build"),
        ({"INVOKEAI_FAKE_OS": "Darwin", "INVOKEAI_FAKE_ARCH": "arm64"}, None, "Metal (MPS)"),
        ({"INVOKEAI_FAKE_OS": "Darwin", "INVOKEAI_FAKE_ARCH": "x86_64"}, None, "macOS on Intel"),
        ({"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "none", "INVOKEAI_TORCH_INDEX": "https://mirror.example/whl"},
         "https://mirror.example/whl", "CPU build"),
    ],
    ids=["cuda12.8", "cuda13", "cuda12.6", "old-driver", "rocm", "cpu", "apple-silicon", "intel-mac", "index-override"],
)
def test_dry_run_chooses_the_torch_build(tmp_path, env, index, words):
    out = dry_run(tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert words in out.stdout
    line = torch_line(out.stdout)
    if index is None:
        assert "--index-url" not in line  # macOS: PyPI's wheels are the Metal-enabled ones
    else:
        assert line.endswith(f"--index-url {index}")
    assert not (tmp_path / "root").exists(), "a dry run must not create anything"


def _fake_tool(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def test_dry_run_detects_gpus_with_nvidia_smi_and_rocminfo(tmp_path):
    nvidia = tmp_path / "nvidia-bin"
    _fake_tool(nvidia, "nvidia-smi", 'if [ "$1" = "-L" ]; then echo "GPU 0: NVIDIA RTX (UUID: x)"; exit 0; fi\n'
               'echo "| NVIDIA-SMI 560.35   Driver Version: 560.35   CUDA Version: 12.6 |"\n')
    out = dry_run(tmp_path, {"INVOKEAI_FAKE_OS": "Linux"}, path_prefix=nvidia)
    assert torch_line(out.stdout).endswith(f"--index-url {WHL}/cu126"), out.stdout + out.stderr

    amd = tmp_path / "amd-bin"
    _fake_tool(amd, "nvidia-smi", "exit 9\n")  # an nvidia-smi without a GPU behind it
    _fake_tool(amd, "rocminfo", 'echo "  Name:                    gfx1100"\n')
    out = dry_run(tmp_path, {"INVOKEAI_FAKE_OS": "Linux"}, path_prefix=amd)
    assert torch_line(out.stdout).endswith(f"--index-url {WHL}/rocm6.4"), out.stdout + out.stderr


def test_dry_run_shows_every_step_and_passes_configure_options(tmp_path):
    out = dry_run(tmp_path, {"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "none"}, "--yes", "--skip-downloads",
                  "--venv", str(tmp_path / "my venv"))
    assert out.returncode == 0, out.stderr
    steps = [line for line in out.stdout.splitlines() if line.startswith("+ ")]
    assert len(steps) == 5
    assert " -m venv " in steps[0] and "my\\ venv" in steps[0]
    assert steps[3].endswith("[gui\\]") or "[gui]" in steps[3]
    assert steps[4].endswith(f"invokeai-configure --root {tmp_path / 'root'} --yes --skip-downloads")


def test_unknown_systems_and_options_are_refused(tmp_path):
    out = dry_run(tmp_path, {"INVOKEAI_FAKE_OS": "MINGW64_NT-10.0"})
    assert out.returncode == 1 and "Linux and macOS" in out.stderr
    out = dry_run(tmp_path, {"INVOKEAI_FAKE_OS": "Linux", "INVOKEAI_FAKE_GPU": "tpu"})
    assert out.returncode == 1 and "cuda, rocm or none" in out.stderr
    out = dry_run(tmp_path, {"INVOKEAI_FAKE_OS": "Linux"}, "--frobnicate")
    assert out.returncode == 1 and "unknown option" in out.stderr
