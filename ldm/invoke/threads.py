"""How many threads torch computes with: one per physical core this process may run on, set at start-up.

Hyper-threads share a core's vector units, so a second thread per core only adds contention; and a
container or ``taskset`` may allow fewer CPUs than the machine has, which torch's own default does not
see. Every entry point (web, desktop window, CLI) calls ``use_physical_cores()`` before torch is
imported; a count the user gave (``OMP_NUM_THREADS``) wins. The float32 pixels of a seed differ in their
last bits between thread counts, so each image's metadata records the count it was made with.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

THREADS_ENV = "OMP_NUM_THREADS"


def physical_cores() -> int:
    """Distinct (package, core) pairs among the CPUs this process may use; the CPU count if unreadable."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                       topology.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))  # no topology (not Linux): count the CPU itself
    return max(1, len(cores))


def use_physical_cores() -> int:
    """Sets torch's thread count to the physical cores (unless ``OMP_NUM_THREADS`` says otherwise) and
    returns the count. Works before torch is imported (through the variable torch reads at start) and
    after (through ``torch.set_num_threads``)."""
    given = os.environ.get(THREADS_ENV, "").strip()
    threads = int(given) if given.isdigit() and int(given) > 0 else physical_cores()
    os.environ[THREADS_ENV] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    return threads
