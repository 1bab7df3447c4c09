"""Times Real-ESRGAN upscaling on the CPU, tiled and untiled, with time and peak memory per run.

Usage: python bench/bench_upscale.py [--size 1024] [--scale 2] [--tiles auto,none]

The network is the real RealESRGAN_x{2,4}plus architecture (RRDBNet, 23 blocks, 64 features) with
seeded random weights, so the cost is that of the released model. Each run happens in a fresh child
process so its peak RSS is its own. Prints a table and writes bench/results/upscale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_full_size_weights(root: Path, scale: int, seed: int = 0) -> Path:
    """Save a RealESRGAN_x{scale}plus-shaped RRDBNet with seeded random weights under `root`."""
    import torch

    from ldm.invoke.restoration import _basicsr_compat  # noqa: F401
    from ldm.invoke.restoration.weights import weight_path

    from basicsr.archs.rrdbnet_arch import RRDBNet  # isort: skip  (after the compat alias)

    torch.manual_seed(seed)
    net = RRDBNet(num_in_ch=3, num_out_ch=3, scale=scale, num_feat=64, num_block=23, num_grow_ch=32)
    path = weight_path(root, f"esrgan_x{scale}")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"params_ema": net.state_dict()}, path)
    return path


def child(root: Path, size: int, scale: int, tile: str) -> dict:
    """One measured run: load, upscale once, report time and memory."""
    import numpy as np
    from PIL import Image

    from ldm.invoke.restoration.upscale import Upscaler, tile_size_for

    rng = np.random.default_rng(0)
    # A smooth image with some texture, like a photo rather than white noise.
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([np.sin(6 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(4 * (x + y))], axis=-1)
    noise = rng.normal(0, 0.1, (size, size, 3))
    image = Image.fromarray(np.clip((base * 0.4 + 0.5 + noise) * 255, 0, 255).astype(np.uint8), "RGB")

    upscaler = Upscaler(root, device="cpu")
    started = time.perf_counter()
    network = upscaler.load(scale)  # load outside the timed upscale
    load_s = time.perf_counter() - started
    if tile == "auto":
        tile_px = tile_size_for(network, upscaler.device)
    elif tile == "none":
        tile_px = max(size, 32)
    else:
        tile_px = int(tile)
    rss_before = _rss_mib()
    cpu_before = time.process_time()
    started = time.perf_counter()
    result = upscaler.upscale(image, scale, 1.0, tile=tile_px)
    upscale_s = time.perf_counter() - started
    # CPU seconds as well as wall seconds: on a shared machine the wall time also counts other work.
    cpu_s = time.process_time() - cpu_before
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    assert result.size == (size * scale, size * scale)
    return {
        "mode": tile,
        "tile_px": tile_px,
        "tiled": tile_px < size,
        "load_s": round(load_s, 2),
        "upscale_s": round(upscale_s, 2),
        "cpu_s": round(cpu_s, 2),
        "megapixels_out_per_s": round(size * size * scale * scale / 1e6 / upscale_s, 4),
        "rss_before_mib": round(rss_before, 1),
        "peak_rss_mib": round(peak_mib, 1),
        "peak_over_before_mib": round(peak_mib - rss_before, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="side of the square input image")
    parser.add_argument("--scale", type=int, default=2, choices=(2, 4))
    parser.add_argument("--tiles", default="auto,none", help="comma list: auto (what the app picks), none (untiled) or a size")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "upscale.json")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "TILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.size, args.scale, args.child[1])))
        return

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_full_size_weights(root, args.scale)
        for tile in args.tiles.split(","):
            command = [sys.executable, __file__, "--size", str(args.size), "--scale", str(args.scale)]
            output = subprocess.run(
                [*command, "--child", str(root), tile], check=True, capture_output=True, text=True
            ).stdout
            runs.append(json.loads(output.strip().splitlines()[-1]))
            print(f"  {tile}: {runs[-1]['upscale_s']} s", file=sys.stderr)

    import torch

    report = {
        "benchmark": "Real-ESRGAN upscale on CPU (RRDBNet 23 blocks x 64 features, random weights)",
        "size": args.size,
        "scale": args.scale,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Other work on the machine inflates wall times; the CPU seconds are steadier.
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "runs": runs,
    }
    header = (
        f"{'mode':>6} {'tile':>6} {'load s':>7} {'upscale s':>10} {'CPU s':>8} {'MP/s out':>9} "
        f"{'peak RSS MiB':>13} {'peak-before':>12}"
    )
    print(f"{args.size}x{args.size} x{args.scale} on CPU ({os.cpu_count()} cores)")
    print(header)
    for run in runs:
        print(
            f"{run['mode']:>6} {run['tile_px']:>6} {run['load_s']:>7} {run['upscale_s']:>10} {run['cpu_s']:>8} "
            f"{run['megapixels_out_per_s']:>9} {run['peak_rss_mib']:>13} {run['peak_over_before_mib']:>12}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
