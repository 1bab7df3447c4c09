"""Memory: peak RSS for one generation on each model, and RSS across 20 model switches (the
LRU cache holds two models, so RSS must level off, not grow with each switch).

    python bench/bench_memory.py [--switches 20]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import psutil
from common import peak_rss_mb, table, write_result


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--switches", type=int, default=20)
    args = ap.parse_args()
    from ldm.invoke.generate import Generate
    from tests.support.make_root import build_root

    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        root = build_root(Path(tmp), postprocessors=False)
        gen = Generate(root=root)
        before = rss_mb()
        for name in ("demo", "demo-alt"):
            gen.set_model(name)
            gen.prompt2image("strawberry sushi", width=512, height=512, steps=10, seed=1)
            out[f"after_generation_{name}_mb"] = rss_mb()
            rows.append([f"RSS after a 512px generation on {name}", rss_mb(), ""])
        switches = []
        for i in range(args.switches):
            gen.set_model("demo" if i % 2 else "demo-alt")
            gen.prompt2image("x", width=64, height=64, steps=1, seed=1)
            switches.append(rss_mb())
        out.update(start_mb=before, switches_mb=switches, peak_mb=peak_rss_mb())
        rows.append([f"RSS after switch 1 / {args.switches}", switches[0], ""])
        rows.append([f"RSS after switch {args.switches}", switches[-1], "no growth past the cache"])
        rows.append(["growth over the switches", switches[-1] - switches[0], "~0"])
        rows.append(["peak RSS of the process", peak_rss_mb(), ""])
    print(table(rows, ["measure", "MB", "goal"]))
    print("wrote", write_result("memory", out))


if __name__ == "__main__":
    main()
