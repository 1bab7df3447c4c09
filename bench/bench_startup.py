"""Start-up: ``invokeai --web`` launch to the first HTTP 200 on ``/`` (the served UI), and to a
loaded model (``/healthz`` says so), on the demo model.

    python bench/bench_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import table, write_result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read()
    except OSError:
        return 0, b""


def one_launch(root: Path) -> tuple[float, float]:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "invokeai_gui", "--web", "--port", str(port), "--root", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        served = loaded = None
        while time.perf_counter() - started < 120:
            if served is None and get(f"http://127.0.0.1:{port}/")[0] == 200:
                served = time.perf_counter() - started
            if served is not None:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
                if status == 200 and json.loads(body).get("model_loaded"):
                    loaded = time.perf_counter() - started
                    break
            time.sleep(0.02)
        if served is None or loaded is None:
            raise RuntimeError("the server did not come up in 120 s")
        return served, loaded
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one_launch(root)  # the first launch writes the demo model; time the launches after it
        runs = [one_launch(root) for _ in range(args.runs)]
    served = statistics.median(r[0] for r in runs)
    loaded = statistics.median(r[1] for r in runs)
    print(table([["launch to first 200 on /", served, "<= 1.5"], ["launch to model loaded", loaded, "-"]],
                ["measure", "median s", "goal s"]))
    print("wrote", write_result("startup", {"runs": runs, "served_s": served, "loaded_s": loaded}))


if __name__ == "__main__":
    main()
