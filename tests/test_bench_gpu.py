"""bench/bench_gpu.py --dry: the GPU benchmark's own code run on the CPU with the demo model's tiny
shapes, so the script a GPU session runs in one command cannot rot unseen."""

from __future__ import annotations

import math
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_the_dry_run_measures_every_row_and_compares_the_cpu_picture(compile_launches, tmp_path, monkeypatch):
    # The bench's root shares the session's compiled demo UNet (the same graph: demo model, 64 px, auto
    # precision), so its --compile row loads it instead of compiling it again.
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "cache").symlink_to(compile_launches[0] / "cache", target_is_directory=True)
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("bench_gpu", None)
    import bench_gpu

    out = bench_gpu.main(["--dry", "--work", str(tmp_path)])
    rows = out["results"]
    assert set(rows) == {"ours eager", "ours channels-last", "ours --compile", "bare diffusers"}
    for name, row in rows.items():
        assert row["it_per_s"] > 0 and math.isfinite(row["it_per_s"]), (name, row)
        assert row["peak_gib"] is None  # the CPU has no CUDA memory counter
    # The first compiled image traces (and loads) the UNet's graph; the next one runs it.
    assert rows["ours --compile"]["first_image_s"] > rows["ours --compile"]["image_s"]
    assert out["psnr_db"] >= 30  # the CPU's float32 picture against the auto-precision run
