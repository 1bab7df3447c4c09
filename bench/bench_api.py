"""What the HTTP APIs add per image over the Socket.IO path: AUTOMATIC1111's ``POST /sdapi/v1/txt2img`` and
OpenAI's ``POST /v1/images/generations`` against Socket.IO ``generateImage`` → last ``generationResult``,
all on one real server on loopback, the demo model, a tiny size and few steps.

    python bench/bench_api.py [--pairs 9] [--images 2] [--steps 3] [--size 64] [--root DIR]

Each side asks for the same images (fixed seed, same sampler) and every side saves them to the gallery:
the A1111 call with ``save_images``, the OpenAI call always. The APIs also send the PNGs back in base64
(A1111's ``images``, OpenAI's ``b64_json``), which Socket.IO does not. Timed A B A B ... (bench/common.py).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

from common import bench_root, interleave, start_server, table, write_result


def per_image_ms(result: dict[str, Any], images: int, side: str) -> float:
    return min(result[side]) * 1000 / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--root", type=Path, help="a root dir with the demo model (default: a fresh one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import requests
    import socketio


    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server, url = start_server(bench_root(work, args.root), work / "outputs")

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
    prompt, seed = "strawberry sushi", 1234
    sio_request = {"prompt": prompt, "iterations": args.images, "steps": args.steps, "width": args.size,
                   "height": args.size, "sampler_name": "k_euler", "seed": seed, "cfg_scale": 7.5}
    a1111_body = {"prompt": prompt, "batch_size": args.images, "steps": args.steps, "width": args.size,
                  "height": args.size, "sampler_name": "Euler", "seed": seed, "cfg_scale": 7.5, "save_images": True}
    openai_body = {"prompt": prompt, "n": args.images, "size": f"{args.size}x{args.size}", "steps": args.steps,
                   "sampler": "Euler", "seed": seed, "cfg_scale": 7.5, "response_format": "b64_json"}
    http = requests.Session()

    def socketio_path() -> None:
        done.clear()
        state["results"] = 0
        state["job"] = None
        # The ack carries the job id; results cannot arrive before it (the job is queued first).
        state["job"] = client.call("generateImage", (sio_request, False, False), timeout=60)["jobId"]
        assert done.wait(600), "the server did not finish"

    def a1111() -> None:
        answer = http.post(f"{url}sdapi/v1/txt2img", json=a1111_body, timeout=600)
        assert answer.status_code == 200 and len(answer.json()["images"]) == args.images, answer.text[:300]

    def openai() -> None:
        answer = http.post(f"{url}v1/images/generations", json=openai_body, timeout=600)
        assert answer.status_code == 200 and len(answer.json()["data"]) == args.images, answer.text[:300]

    rows, results = [], {}
    for label, api in (("A1111 /sdapi/v1/txt2img", a1111), ("OpenAI /v1/images/generations", openai)):
        timed = interleave(api, socketio_path, args.pairs)
        added_best = per_image_ms(timed, args.images, "a_s") - per_image_ms(timed, args.images, "b_s")
        added_median = (timed["a_median_s"] - timed["b_median_s"]) * 1000 / args.images
        results[label] = {**timed, "added_ms_per_image_best_of": added_best, "added_ms_per_image_medians": added_median}
        rows.append([label, per_image_ms(timed, args.images, "a_s"), per_image_ms(timed, args.images, "b_s"),
                     added_best, added_median, timed["ratio"], f"{timed['pair_ratio_min']:.2f}–{timed['pair_ratio_max']:.2f}"])
    client.disconnect()
    http.close()
    server.shutdown()
    print(table(rows, ["API", "API ms/img", "Socket.IO ms/img", "added ms/img", "added (medians)", "ratio (medians)",
                       "pair ratios"]))
    print("ms/img columns are best-of-pairs; ratio = median API time / median Socket.IO time for the same request.")
    path = write_result("api", {
        "images_per_request": args.images, "steps": args.steps, "size": args.size, "pairs": args.pairs,
        "notes": "API = one HTTP POST answered with the images in base64, saved to the gallery; Socket.IO = "
                 "generateImage → last generationResult (saved). Same server, model, seed and sampler.",
        "median_ratio": {k: v["ratio"] for k, v in results.items()},
        "results": results,
        "spread": {k: statistics.pstdev(v["a_s"]) for k, v in results.items()},
    })
    print(f"results: {path}")


if __name__ == "__main__":
    main()
