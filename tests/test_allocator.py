"""The engine keeps a large tensor's pages mapped between uses and gives them back when a job ends
(ldm/invoke/allocator.py). Each case runs in a fresh process, as the allocator's settings are the
process's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator (Linux)")

# A 512 px SD-1.5 step's feed-forward projection: a 42 MB bf16 output, above glibc's own mmap threshold.
REUSE = textwrap.dedent("""
    import resource, sys
    import torch, torch.nn.functional as F
    from ldm.invoke.generate import Generate
    Generate(root=sys.argv[1], precision="float32")
    x = torch.randn(8192, 320, dtype=torch.bfloat16)
    w = torch.randn(2560, 320, dtype=torch.bfloat16)
    with torch.inference_mode():
        for _ in range(3):
            F.linear(x, w)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(3):
            F.linear(x, w)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")

RELEASE = textwrap.dedent("""
    import sys
    import torch
    from ldm.invoke.generate import Generate
    def rss_mb():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 // 2**20
    g = Generate(root=sys.argv[1], precision="float32")
    g.load_model()
    start = rss_mb()
    big = torch.ones(512 * 2**20, dtype=torch.uint8)  # what a large job leaves behind
    del big
    kept = rss_mb()
    g.prompt2image("a lighthouse", width=64, height=64, steps=2, seed=5)
    print(start, kept, rss_mb())
""")


def run(code: str, root, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_a_large_tensor_reuses_its_pages_once_the_engine_exists(tmp_path):
    tuned = int(run(REUSE, tmp_path))
    untuned = int(run(REUSE, tmp_path, INVOKEAI_MALLOC_TUNING="0"))
    # 42 MB is 10,240 pages: glibc's defaults fault every one of them in again on each of the 3 calls.
    # Tuned, the output's pages stay mapped: usually none is faulted again, and at most one output's worth
    # (a CI run saw 10,219 once: the heap grew for one call), never one per call.
    assert untuned > 3 * 8000, untuned
    assert tuned < 12_000, tuned


def test_the_memory_a_job_freed_goes_back_when_it_ends(tmp_path):
    start, kept, after = map(int, run(RELEASE, tmp_path).split())
    assert kept - start > 400, (start, kept)  # freed but kept mapped, ready for the next step
    assert kept - after > 400, (start, kept, after)  # the job's end gave it back


def test_the_users_own_allocator_settings_win(tmp_path):
    tuned = int(run(REUSE, tmp_path, MALLOC_TRIM_THRESHOLD_="131072"))
    assert tuned > 3 * 8000, tuned
