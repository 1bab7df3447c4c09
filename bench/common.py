"""Shared pieces of the benchmarks: interleaved A/B timing, medians and spreads, tables, JSON results."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def interleave(a: Callable[[], Any], b: Callable[[], Any], pairs: int, warmup: int = 1) -> dict[str, Any]:
    """Times A and B alternately (A B A B ...) so drift in machine load hits both sides alike."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(pairs):
        s = time.perf_counter()
        a()
        ta.append(time.perf_counter() - s)
        s = time.perf_counter()
        b()
        tb.append(time.perf_counter() - s)
    ratios = [x / y for x, y in zip(ta, tb)]
    return {
        "a_s": ta,
        "b_s": tb,
        "a_median_s": statistics.median(ta),
        "b_median_s": statistics.median(tb),
        "ratio": statistics.median(ta) / statistics.median(tb),
        "pair_ratio_min": min(ratios),
        "pair_ratio_max": max(ratios),
    }


def bench_root(work: Path, given: Path | None) -> Path:
    """The root dir a server bench runs on: the one given, or a fresh one with the demo model in ``work``."""
    if given is not None:
        return given
    from tests.support.make_root import build_root

    return build_root(work / "root", postprocessors=False)


def start_server(root: Path, outdir: Path, load_timeout: float = 300, **fields: Any) -> tuple[Any, str]:
    """A studio on a free loopback port with its model loaded; returns the server and its URL."""
    from invokeai_gui.server import ServerConfig, create_app

    server = create_app(ServerConfig(root=root, outdir=outdir, port=0, **fields))
    url = server.start()
    assert server.studio.wait_until_loaded(load_timeout), "the model did not load"
    return server, url


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d")}


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), "command": " ".join(sys.argv), **data}, indent=2))
    return path


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
