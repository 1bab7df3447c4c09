"""Gallery paging at 1,000 / 10,000 / 100,000 images: our SQLite index against InvokeAI 2.x's way
(glob the folder, sort by mtime, open every listed file for its metadata) on the same folders.

    python bench/bench_gallery.py [--sizes 1000 10000 100000] [--repeat 5] [--workdir /tmp/bench-gallery]

The folders hold copies of one small PNG with InvokeAI metadata, each with its own mtime (a few
share one, as real galleries do). They are built once and reused if already there.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

from common import table, write_result
from PIL import Image, PngImagePlugin

from invokeai_gui.server.gallery import GalleryIndex
from ldm.invoke.metadata import read_metadata

PAGE = 50


def sample_png() -> bytes:
    meta = {"model": "stable diffusion", "model_id": "demo", "app_id": "invoke-ai/InvokeAI", "app_version": "2.2.0",
            "image": {"type": "txt2img", "prompt": [{"prompt": "strawberry sushi", "weight": 1.0}], "seed": 42,
                      "steps": 20, "cfg_scale": 7.5, "sampler": "k_lms", "width": 64, "height": 64}}
    info = PngImagePlugin.PngInfo()
    info.add_text("sd-metadata", json.dumps(meta))
    info.add_text("Dream", "'strawberry sushi' -s 20 -S 42 -W 64 -H 64 -C 7.5 -A k_lms")
    buffer = BytesIO()
    Image.new("RGB", (64, 64), (200, 60, 30)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def build_folder(folder: Path, count: int) -> Path:
    marker = folder / ".complete"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = sample_png()
    base = 1_700_000_000.0
    for n in range(count):
        path = folder / f"{n:06d}.{n * 7919 % 4294967295}.png"
        path.write_bytes(data)
        stamp = base + n // 2  # pairs share an mtime, as images saved in one second do
        os.utime(path, (stamp, stamp))
    marker.write_text(str(count))
    return folder


# -- InvokeAI 2.x's requestImages / requestLatestImages, as its web server did them ---------------


def legacy_listing(folder: Path) -> list[str]:
    paths: list[str] = []
    for ext in ("*.png", "*.jpg", "*.jpeg"):
        paths.extend(glob.glob(os.path.join(folder, ext)))
    return sorted(paths, key=lambda p: os.path.getmtime(p), reverse=True)


def legacy_info(path: str) -> dict[str, Any]:
    metadata = read_metadata(path)
    with Image.open(path) as im:
        width, height = im.size
    return {"url": path, "mtime": os.path.getmtime(path), "metadata": metadata, "width": width, "height": height}


def legacy_first_page(folder: Path) -> list[dict]:
    return [legacy_info(p) for p in legacy_listing(folder)[:PAGE]]


def legacy_latest(folder: Path, latest_mtime: float) -> list[dict]:
    return [legacy_info(p) for p in legacy_listing(folder) if os.path.getmtime(p) > latest_mtime]


# -- timing ----------------------------------------------------------------------------------------


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def once_ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def bench_size(count: int, workdir: Path, repeat: int) -> dict[str, Any]:
    folder = build_folder(workdir / f"images-{count}", count)
    state = workdir / f"state-{count}"
    shutil.rmtree(state, ignore_errors=True)

    def index() -> GalleryIndex:
        return GalleryIndex(folder, state / "gallery.sqlite3", state / "thumbs")

    first = index()
    cold_reconcile = once_ms(first.reconcile)  # a folder the index has never seen: stat only
    cold_page = once_ms(lambda: first.page("result"))  # reads the 50 files it shows
    read_all = once_ms(lambda: [None for _ in iter(first.read_pending, 0)])  # the background reader's work
    first.close()

    restarted = index()
    start = time.perf_counter()
    restarted.start(poll_seconds=3600)  # what the server does: the full reconcile runs in the background
    restarted.page("result")
    restart_to_first_page = (time.perf_counter() - start) * 1000
    restarted.close()

    gallery = index()
    warm_reconcile = once_ms(gallery.reconcile)  # the background check of an unchanged folder at restart
    unchanged_check = median_ms(gallery.refresh_if_changed, repeat)
    images, _ = gallery.page("result")
    newest = images[0]["mtime"]
    latest_mtime = images[9]["mtime"]  # a client that has all but the newest ~10
    middle = gallery.page("result", newest - count // 4)[0]
    ours = {
        "first_page_ms": median_ms(lambda: gallery.page("result"), repeat),
        "deep_page_ms": median_ms(lambda: gallery.page("result", middle[-1]["mtime"], middle[-1]["url"][8:]), repeat),
        "latest_ms": median_ms(lambda: gallery.newer("result", latest_mtime), repeat),
        "unchanged_check_ms": unchanged_check,
        "cold_reconcile_ms": cold_reconcile,
        "cold_first_page_ms": cold_page,
        "read_all_metadata_ms": read_all,
        "warm_reconcile_ms": warm_reconcile,
        "restart_to_first_page_ms": restart_to_first_page,
    }
    assert len(gallery.page("result")[0]) == PAGE and len(gallery.newer("result", latest_mtime)) >= 10
    gallery.close()

    legacy_repeat = max(1, repeat if count <= 10_000 else 3)
    legacy = {
        "first_page_ms": median_ms(lambda: legacy_first_page(folder), legacy_repeat),
        "latest_ms": median_ms(lambda: legacy_latest(folder, latest_mtime), legacy_repeat),
    }
    return {"images": count, "ours": ours, "invokeai_2x": legacy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench-gallery")
    args = parser.parse_args()

    results = [bench_size(n, args.workdir, args.repeat) for n in args.sizes]
    rows = []
    for r in results:
        o, legacy = r["ours"], r["invokeai_2x"]
        rows.append([
            r["images"], o["first_page_ms"], legacy["first_page_ms"], legacy["first_page_ms"] / o["first_page_ms"],
            o["latest_ms"], legacy["latest_ms"], o["deep_page_ms"], o["cold_reconcile_ms"],
            o["read_all_metadata_ms"], o["warm_reconcile_ms"], o["restart_to_first_page_ms"], o["unchanged_check_ms"],
        ])
    print(table(rows, ["images", "page ms", "2.x page ms", "speed-up", "latest ms", "2.x latest ms",
                       "deep page ms", "first index ms", "read all ms", "restart check ms", "restart→page ms",
                       "no-change check ms"]))
    path = write_result("gallery", {
        "page_size": PAGE,
        "notes": "ours: GalleryIndex (SQLite). first index = stat-only scan of a folder never seen; read all = "
                 "reading every file's metadata (done in the background); restart check = full reconcile of an "
                 "unchanged folder (in the background at start-up); restart→page = start-up to first page "
                 "served from the existing index; no-change check = one stat per folder. 2.x = glob + sort by mtime + open each listed file.",
        "results": results,
    })
    print(f"results: {path}")


if __name__ == "__main__":
    main()
