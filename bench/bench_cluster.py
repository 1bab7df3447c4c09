"""What the Ray pool (``--cluster``) costs and gives: per-job dispatch overhead against the in-process
worker on the demo model, and a scheduling run where every job takes a fixed time, with 1 … N workers.

    python bench/bench_cluster.py [--pairs 9] [--workers 1,2,4,8] [--job-seconds 0.5] [--jobs-per-worker 4]

Dispatch: the same one-image request (64×64, 1 step, fixed seed) submitted to an in-process studio
and to a studio over one Ray worker (same torch thread count), timed A B A B ... from submit to the
job's end (the PNG written and indexed on both sides). Scheduling: a sleep job kind that only this
script registers (no shipped server has it) sleeps on the worker's actor for a fixed time; each run
queues ``jobs-per-worker × workers`` of them at once. Utilisation is the time workers spent in jobs'
sleeps over workers × wall time; the overhead per job is what is left of that wall time, per job.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import bench_root, interleave, start_server, table, write_result

SLEEP_JOB = "bench_sleep"  # registered on the bench's own studios only


def _sleep_on_actor(actor: Any, seconds: float) -> float:
    """Runs inside the worker's actor process (``__ray_call__``): the fixed-time job itself."""
    time.sleep(seconds)
    return seconds


def studio_over(root: Path, work: Path, name: str, **fields: Any) -> Any:
    return start_server(root, work / f"out-{name}", load_timeout=600, **fields)[0]


def run_job(studio: Any, request: Any) -> None:
    job = studio.submit_generation(request)
    assert studio.jobs.wait_finished(job, 300) and job.status == "done", job.message


def dispatch(root: Path, work: Path, pairs: int, threads: int) -> dict[str, Any]:
    from ldm.invoke.request import GenerationRequest

    request = GenerationRequest(prompt="a lighthouse", width=64, height=64, steps=1, seed=42, sampler_name="k_euler")
    here = studio_over(root, work, "in-process")
    there = studio_over(root, work, "cluster-1", cluster="local", cluster_workers=1, cluster_threads=threads)
    try:
        result = interleave(lambda: run_job(there.studio, request), lambda: run_job(here.studio, request), pairs)
    finally:
        there.shutdown()
        here.shutdown()
    result["overhead_ms"] = (result["a_median_s"] - result["b_median_s"]) * 1000
    return result


def scheduling(root: Path, work: Path, workers: int, seconds: float, per_worker: int) -> dict[str, Any]:
    import ray

    server = studio_over(root, work, f"pool-{workers}", cluster="local", cluster_workers=workers, cluster_threads=1,
                         load_model_at_start=False)
    studio = server.studio
    busy: list[float] = []

    def sleep_job(job: Any) -> None:
        actor = studio.pool.workers[job.slot].actor
        started = time.perf_counter()
        ray.get(actor.__ray_call__.remote(_sleep_on_actor, seconds))
        busy.append(time.perf_counter() - started)

    studio.jobs.register(SLEEP_JOB, sleep_job)
    try:
        for worker in studio.pool.workers:  # every actor up, its start-up model load done, before the clock starts
            assert worker.loaded.wait(600), f"{worker.name} did not load its model"
            ray.get(worker.actor.__ray_call__.remote(_sleep_on_actor, 0.0))
        count = workers * per_worker
        started = time.perf_counter()
        jobs = [studio.jobs.submit(SLEEP_JOB, {}, f"sleep {n}", persist=False, client=f"bench:{n % 3}")
                for n in range(count)]
        for job in jobs:
            assert studio.jobs.wait_finished(job, 600) and job.status == "done", job.message
        wall = time.perf_counter() - started
        slots = {job.slot for job in jobs}
    finally:
        server.shutdown()
    ideal = per_worker * seconds
    return {"workers": workers, "jobs": count, "wall_s": wall, "ideal_s": ideal, "workers_used": len(slots),
            "utilisation": count * seconds / (workers * wall), "jobs_per_s": count / wall,
            "overhead_ms_per_job": (wall * workers - count * seconds) / count * 1000,
            "median_job_s": statistics.median(busy)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--job-seconds", type=float, default=0.5)
    parser.add_argument("--jobs-per-worker", type=int, default=4)
    parser.add_argument("--root", type=Path, help="a root dir with the demo model (default: a fresh one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counts = [int(n) for n in args.workers.split(",")]

    os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})
    import ray
    import torch

    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    root = bench_root(work, args.root)
    threads = torch.get_num_threads()
    # One private Ray on loopback for every studio of the run; logical CPUs enough for the largest pool.
    ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1",
             num_cpus=max(max(counts), threads), num_gpus=0, log_to_driver=False, configure_logging=False)
    try:
        d = dispatch(root, work, args.pairs, threads)
        print(f"\nDispatch, one 64×64 1-step image, submit → job done ({args.pairs} pairs, {threads} torch threads)")
        print(table([["in-process", d["b_median_s"] * 1000], ["cluster, 1 worker", d["a_median_s"] * 1000]],
                    ["studio", "median ms"]))
        print(f"cluster / in-process = {d['ratio']:.2f} (pairs {d['pair_ratio_min']:.2f}–{d['pair_ratio_max']:.2f}); "
              f"overhead {d['overhead_ms']:.1f} ms per job")
        runs = [scheduling(root, work, n, args.job_seconds, args.jobs_per_worker) for n in counts]
    finally:
        ray.shutdown()
    print(f"\nScheduling, {args.jobs_per_worker} jobs of {args.job_seconds} s per worker, queued at once")
    print(table([[r["workers"], r["jobs"], r["wall_s"], r["ideal_s"], r["jobs_per_s"], f"{r['utilisation']:.1%}",
                  r["overhead_ms_per_job"]] for r in runs],
                ["workers", "jobs", "wall s", "ideal s", "jobs/s", "utilisation", "overhead ms/job"]))
    path = write_result("bench_cluster", {"dispatch": d, "scheduling": runs})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
