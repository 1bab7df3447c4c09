"""Runs every benchmark in turn (``make bench``); each prints its table and writes bench/results/*.json."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = [
    ["bench_engine.py"],
    ["bench_cpu.py"],
    ["bench_allocator.py"],
    ["bench_attention.py"],
    ["bench_attention.py", "--memory"],
    ["profile_cpu.py", "--compare"],
    ["profile_cpu.py", "--compile"],
    ["bench_server.py"],
    ["bench_api.py"],
    ["bench_gallery.py"],
    ["bench_startup.py"],
    ["bench_memory.py"],
    ["bench_upscale.py"],
    ["bench_cluster.py"],
    ["bench_control.py"],
    ["bench_compile.py"],
]


def main() -> int:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(HERE.parent)}
    failed = []
    for script, *args in SUITE:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *args], env=env, cwd=HERE.parent)
        print(f"=== {script}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(script)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
