"""What the web server adds per image: Socket.IO ``generateImage`` → last ``generationResult`` through a real
server on loopback, against calling ``Generate.prompt2image`` directly on the same loaded demo model.

    python bench/bench_server.py [--pairs 11] [--images 4] [--steps 4] [--size 64] [--root DIR]

Both sides run the same request (fixed seed) on the same ``Generate`` object, timed A B A B ...
The server side also saves each PNG, indexes it and sends progress events; a third column shows the
direct call plus the PNG saving alone, to split the server's cost into "saving" and "the rest".
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import bench_root, interleave, start_server, table, write_result


def added(result: dict[str, Any], images: int, pick: Callable[[list[float]], float]) -> float:
    """Server time minus direct time, per image, in ms (``pick``: median, or min on a noisy machine)."""
    return (pick(result["a_s"]) - pick(result["b_s"])) * 1000 / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--root", type=Path, help="a root dir with the demo model (default: a fresh one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import socketio

    from ldm.invoke.metadata import PngWriter

    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    server, url = start_server(bench_root(work, args.root), work / "outputs")
    gen = server.studio.worker._generate  # the worker's own engine; it is idle between our requests

    done = threading.Event()
    state: dict[str, Any] = {"job": None, "results": 0}
    client = socketio.Client(reconnection=False)

    @client.on("generationResult")
    def result(data: dict) -> None:
        if data.get("jobId") == state["job"]:
            state["results"] += 1
            if state["results"] == args.images:
                done.set()

    client.connect(url.rstrip("/"), wait_timeout=10)
    request = {"prompt": "strawberry sushi", "iterations": args.images, "steps": args.steps, "width": args.size,
               "height": args.size, "sampler_name": "k_euler", "seed": 1234, "cfg_scale": 7.5}
    direct_kwargs = {k: v for k, v in request.items()}

    def via_server(previews: bool) -> Any:
        def run() -> None:
            done.clear()
            state["results"] = 0
            state["job"] = None
            # The ack carries the job id; results cannot arrive before it (the job is queued first).
            state["job"] = client.call("generateImage", ({**request, "progress_latents": previews}, False, False),
                                       timeout=60)["jobId"]
            assert done.wait(600), "the server did not finish"
        return run

    def direct(previews: bool, save: bool) -> Any:
        writer = PngWriter(work / "direct")

        def run() -> None:
            images = gen.prompt2image(**direct_kwargs, preview_every=1 if previews else 0,
                                      step_callback=lambda step, total, preview: None)
            if save:
                for image, seed in images:
                    writer.save_image(image, seed)
        return run

    rows, results = [], {}
    for previews in (False, True):
        label = "with previews" if previews else "no previews"
        vs_bare = interleave(via_server(previews), direct(previews, save=False), args.pairs)
        vs_saving = interleave(via_server(previews), direct(previews, save=True), args.pairs)
        results[label] = {
            "vs_direct": vs_bare, "vs_direct_plus_save": vs_saving,
            "added_ms_per_image": added(vs_bare, args.images, statistics.median),
            "added_ms_per_image_beyond_saving": added(vs_saving, args.images, statistics.median),
            "added_ms_per_image_best_of": added(vs_bare, args.images, min),
            "added_ms_per_image_beyond_saving_best_of": added(vs_saving, args.images, min),
        }
        rows.append([label, min(vs_bare["a_s"]) * 1000 / args.images, min(vs_bare["b_s"]) * 1000 / args.images,
                     min(vs_saving["b_s"]) * 1000 / args.images, added(vs_bare, args.images, min),
                     added(vs_saving, args.images, min), added(vs_bare, args.images, statistics.median)])
    client.disconnect()
    server.shutdown()
    print(table(rows, ["previews", "server ms/img", "direct ms/img", "direct+save ms/img", "added ms/img",
                       "added beyond saving", "added (medians)"]))
    print("ms/img columns are best-of-pairs; on a loaded machine the medians swing far more than the cost measured.")
    path = write_result("server", {
        "images_per_request": args.images, "steps": args.steps, "size": args.size, "pairs": args.pairs,
        "notes": "server = Socket.IO generateImage → last generationResult (includes PNG save, gallery index, "
                 "events); direct = Generate.prompt2image on the same engine object; direct+save adds PngWriter.",
        "results": results,
    })
    print(f"results: {path}")


if __name__ == "__main__":
    main()
