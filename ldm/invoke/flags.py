"""The engine's command-line flags, defined once for ``invokeai`` and ``python -m ldm.invoke.cli``."""

from __future__ import annotations

import argparse

from .attention import ATTENTIONS
from .request import PROMPT_SYNTAXES

PRECISIONS = ("auto", "float32", "float16", "bfloat16")


def add_engine_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--root, --outdir, --model, --precision, --device, --compile, --attention, --free_gpu_mem, --seamless, --from_file,
    --prompt-syntax."""
    parser.add_argument("--root", help="the runtime root dir: models.yaml, models, outputs (default: "
                                       "$INVOKEAI_ROOT or the per-user data folder)")
    parser.add_argument("--outdir", "-o", help="where images are written and the gallery reads "
                                               "(default: outputs/img-samples under the root dir)")
    parser.add_argument("--model", help="the models.yaml entry to load (default: the one marked default)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--compile", action="store_true",
                        help="run the UNet through torch.compile (inductor): faster steps after a first image "
                             "per size that compiles (minutes the first time, seconds once cached in ROOT/cache)")
    parser.add_argument("--attention", default="auto", choices=ATTENTIONS,
                        help="how the UNet's attention runs: sdpa (torch's fused kernel) or sliced (faster on a CPU "
                             "without AMX; pixels differ slightly, the recipe says which); auto: sliced on a CPU without "
                             "AMX, sdpa on one with AMX and on a GPU")
    parser.add_argument("--free_gpu_mem", action="store_true", help="move models off the GPU between jobs")
    parser.add_argument("--seamless", action="store_true", help="seamless tiling by default")
    parser.add_argument("--from_file", metavar="FILE", help="run the lines of FILE (one prompt each; - for stdin), "
                                                            "then exit")
    parser.add_argument("--prompt-syntax", "--prompt_syntax", dest="prompt_syntax", default="invoke",
                        choices=PROMPT_SYNTAXES, help="how the command line reads prompts unless a line says: invoke "
                        "(InvokeAI 2.x: a:1.2 b, [negative]) or a1111 (AUTOMATIC1111: (a:1.2), [less], "
                        "[from:to:when], [a|b]); the web UI has its own setting")
