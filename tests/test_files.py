"""The output tree's writing rules: results readable as any new file of the user's, one number per result across processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ldm.invoke.files import ResultWriter, atomic_write, parse_result_name

REPO = Path(__file__).resolve().parents[1]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_saved_results_get_the_permissions_of_the_users_umask(tmp_path):
    path = ResultWriter(tmp_path).save(b"\x89PNG not really", seed=42)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()  # 0644 under the usual umask, never 0600
    other = atomic_write(b"settings", tmp_path / "settings.json")
    assert stat.S_IMODE(other.stat().st_mode) == 0o666 & ~_umask()


def _save_in_another_process(outdir: Path, seed: int) -> str:
    code = ("import sys; from ldm.invoke.files import ResultWriter; "
            "print(ResultWriter(sys.argv[1]).save(b'png', seed=int(sys.argv[2])).name)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, str(outdir), str(seed)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120, check=True)
    return done.stdout.strip()


def test_the_cli_and_the_web_server_writing_one_folder_never_share_a_number(tmp_path):
    server = ResultWriter(tmp_path)  # lists the folder once, then counts on its own
    assert server.save(b"png", seed=1011230417).name == "000001.1011230417.png"
    # the CLI, another process, saves the next result meanwhile
    assert _save_in_another_process(tmp_path, 42) == "000002.42.png"
    assert server.save(b"png", seed=1011230417).name == "000003.1011230417.png"
    assert _save_in_another_process(tmp_path, 42) == "000004.42.png"
    numbers = [parse_result_name(p.name)[0] for p in tmp_path.glob("*.png")]
    assert sorted(numbers) == [1, 2, 3, 4]


def test_a_number_once_taken_is_not_reused_after_its_result_is_deleted(tmp_path):
    writer = ResultWriter(tmp_path)
    for _ in range(3):
        last = writer.save(b"png", seed=7)
    last.unlink()
    assert ResultWriter(tmp_path).save(b"png", seed=8).name == "000004.8.png"
