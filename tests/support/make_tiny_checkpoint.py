"""Writes one tiny random-weight single-file checkpoint (LDM key layout) for tests outside Python, e.g. the web e2e.

    python -m tests.support.make_tiny_checkpoint PATH [--family sd1|sd2|sdxl] [--seed N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.support.tiny_checkpoints import build_tiny_pipeline, write_checkpoint


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description="Write a tiny random-weight checkpoint file.")
    parser.add_argument("path", type=Path, help="the .safetensors or .ckpt file to write (folders are created)")
    parser.add_argument("--family", default="sd1", choices=["sd1", "sd2", "sdxl"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    pipe = build_tiny_pipeline(args.family, seed=args.seed)
    return write_checkpoint(pipe, args.family, args.path)


if __name__ == "__main__":
    print(main())
