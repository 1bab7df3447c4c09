"""--cluster: one studio over a pool of workers on a real local Ray kept on 127.0.0.1, with the demo model.

Ray is part of the test extra: without it these tests fail (the import below), they do not skip."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray is imported: every socket on 127.0.0.1
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import numpy as np
import psutil
import pytest
import ray
import torch
from PIL import Image

from ldm.invoke.request import GenerationRequest
from tests.test_server_walkthrough import params

pytestmark = pytest.mark.timeout(240)

THREADS = torch.get_num_threads()  # what an in-process job uses here: the cluster workers get the same


@pytest.fixture(scope="module")
def local_ray():
    """One private Ray for the module's servers (a `--cluster local` studio joins it instead of starting one)."""
    ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", num_cpus=4 * THREADS,
             num_gpus=0, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def cluster(local_ray, module_server_factory):
    srv = module_server_factory(cluster="local", cluster_workers=2, cluster_threads=THREADS)
    # every worker, not just the first: a test of two jobs at once must not find one still loading
    for worker in srv.studio.pool.workers:
        assert worker.loaded.wait(120), f"{worker.name} did not load the demo model"
    return srv


def request(**changes) -> GenerationRequest:
    fields = {"prompt": "strawberry sushi", "width": 64, "height": 64, "steps": 2, "seed": 1234,
              "sampler_name": "k_euler"}
    fields.update(changes)
    return GenerationRequest(**fields)


def finished(studio, job, timeout: float = 120):
    assert studio.jobs.wait_finished(job, timeout), f"{job.summary} still {job.status}"
    return job


def wait_until(condition, timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.02)


def pixels(studio, info: dict) -> np.ndarray:
    return np.asarray(Image.open(studio.resolve_output_url(info["url"])).convert("RGB"))


def _loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback


def test_every_ray_socket_is_on_loopback(cluster):
    ray_processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    assert any("raylet" in " ".join(p.cmdline()) for p in ray_processes), "Ray's processes are not ours"
    sockets = [c for p in ray_processes for c in p.net_connections("inet")]
    listening = [c for c in sockets if c.status == psutil.CONN_LISTEN]
    assert listening
    assert [c for c in sockets if not _loopback(c.laddr.ip) or (c.raddr and not _loopback(c.raddr.ip))] == []


def test_two_workers_run_two_jobs_at_the_same_time(cluster, connect):
    client = connect(cluster.url)
    studio = cluster.studio
    # the second job is three times longer, so the first ends while the second still steps
    jobs = [studio.submit_generation(request(seed=seed, steps=steps, iterations=2)) for seed, steps in ((1, 12), (2, 36))]
    for job in jobs:
        assert finished(studio, job).status == "done", job.message
        assert len(job.results) == 2
    assert {job.slot for job in jobs} == {0, 1}
    for job in jobs:
        client.wait_for("progressUpdate", lambda d, job=job: d.get("jobId") == job.id
                        and d["currentStatus"] == "Processing Complete")
    steps = [(n, d["jobId"]) for n, (name, d) in enumerate(client.events)
             if name == "progressUpdate" and d.get("currentStatusHasSteps")]
    spans = [[n for n, job_id in steps if job_id == job.id] for job in jobs]
    assert all(spans)
    assert spans[0][0] < spans[1][-1] and spans[1][0] < spans[0][-1], "the two jobs did not run at once"
    # 2.1's isProcessing false means idle: the job that ends first, while the other still steps, says true
    ends = sorted((n, d["jobId"], d["isProcessing"]) for n, (name, d) in enumerate(client.events)
                  if name == "progressUpdate" and d.get("currentStatus") == "Processing Complete"
                  and d.get("jobId") in {j.id for j in jobs})
    (first_at, first_id, first_busy), (_, last_id, last_busy) = ends
    assert (first_id, last_id) == (jobs[0].id, jobs[1].id)
    assert spans[1][-1] > first_at, "the long job did not step after the short one ended"
    assert first_busy, "a job ending beside a running one said the studio is idle"
    assert not last_busy
    results = [r for r in client.of("generationResult") if r.get("jobId") in {j.id for j in jobs}]
    assert len(results) == 4 and all((cluster.studio.outdir / r["url"].removeprefix("outputs/")).exists()
                                     for r in results)


def test_a_seed_gives_the_same_pixels_as_in_process(cluster, server_factory):
    embedded = server_factory()
    assert embedded.studio.wait_until_loaded(120)
    here = finished(embedded.studio, embedded.studio.submit_generation(request(seed=77, iterations=2)))
    there = finished(cluster.studio, cluster.studio.submit_generation(request(seed=77, iterations=2)))
    assert here.status == there.status == "done", (here.message, there.message)
    for a, b in zip(here.results, there.results, strict=True):
        assert np.array_equal(pixels(embedded.studio, a), pixels(cluster.studio, b))
        assert b["metadata"]["worker"]["torch_threads"] == THREADS
        assert b["metadata"]["image"]["seed"] == a["metadata"]["image"]["seed"]


def test_a_killed_worker_s_job_finishes_once_on_another_worker(cluster):
    studio = cluster.studio
    before = set(studio.outdir.glob("*.png"))
    job = studio.submit_generation(request(seed=5, steps=40, iterations=3))
    wait_until(lambda: job.payload.get("done", 0) >= 1 and job.status == "running", what="the first image")
    victim = job.slot
    ray.kill(studio.pool.workers[victim].actor)
    assert finished(studio, job).status == "done", job.message
    assert job.slot != victim and job.payload["lost_on"] == [victim]
    made = set(studio.outdir.glob("*.png")) - before
    assert len(job.results) == len(made) == 3
    assert len({r["metadata"]["image"]["seed"] for r in job.results}) == 3
    # The killed worker came back by itself and takes jobs again.
    wait_until(lambda: studio.pool.workers[victim].description.get("pid"), what="the restarted worker")
    studio.pool.workers[victim].refresh(timeout=60)


def test_a_job_that_kills_two_workers_fails_and_the_pool_keeps_serving(cluster, connect):
    client = connect(cluster.url)
    studio = cluster.studio
    job = studio.submit_generation(request(seed=9, steps=400))
    for kill in range(2):
        wait_until(lambda n=kill: job.status == "running" and len(job.payload.get("lost_on", [])) == n
                   and studio.jobs.running is job, what=f"the job running (kill {kill + 1})")
        time.sleep(0.3)
        ray.kill(studio.pool.workers[job.slot].actor)
    assert finished(studio, job).status == "failed"
    assert "died 2 times" in job.message
    errors = client.wait_for("error", lambda d: d.get("jobId") == job.id)
    assert "died 2 times" in errors[0]["message"]
    after = finished(studio, studio.submit_generation(request(seed=10)), timeout=180)
    assert after.status == "done", after.message


def test_a_job_for_a_model_no_worker_has_fails_naming_the_model(cluster):
    studio = cluster.studio
    job = finished(studio, studio.submit_generation(request(model="no-such-model")))
    assert job.status == "failed"
    assert "no-such-model" in job.message and "worker-0" in job.message


def test_cancel_reaches_the_worker_between_steps(cluster, connect):
    client = connect(cluster.url)
    studio = cluster.studio
    job = studio.submit_generation(request(seed=3, steps=300))
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == job.id and d["currentStep"] >= 2)
    studio.jobs.cancel(job.id)
    asked_at = max(d["currentStep"] for d in client.of("progressUpdate") if d.get("jobId") == job.id)
    assert finished(studio, job, 60).status == "canceled"
    last = max(d["currentStep"] for d in client.of("progressUpdate") if d.get("jobId") == job.id)
    assert last - asked_at <= 3, f"asked at step {asked_at}, stopped after {last}"


def test_a_control_map_is_made_on_a_worker_beside_the_jobs_running_there(cluster, connect):
    import base64

    import requests

    from ldm.invoke.control.canny import canny_edges
    from tests.test_server_walkthrough import png_bytes

    client = connect(cluster.url)
    studio = cluster.studio
    picture = png_bytes((96, 64))
    url = client.call("uploadImage", picture, "edges.png", "control")["url"]
    jobs = [studio.submit_generation(request(seed=seed, steps=400)) for seed in (5, 6)]
    wait_until(lambda: sum(job.status == "running" for job in jobs) == 2, what="both workers to run a job")
    answer = client.call("requestControlMap", {"image": url, "preprocessor": "tile_resample",
                                               "settings": {"down_sampling_rate": 2}}, timeout=60)
    assert (answer["width"], answer["height"]) == (48, 32)
    edges = requests.post(f"{cluster.url}/controlnet/detect", timeout=60, json={
        "controlnet_module": "canny", "controlnet_input_images": [base64.b64encode(picture).decode()]})
    made = Image.open(BytesIO(base64.b64decode(edges.json()["images"][0]))).convert("RGB")
    assert np.array_equal(np.asarray(made), np.asarray(canny_edges(Image.open(BytesIO(picture)))))
    assert [job.status for job in jobs] == ["running", "running"], "the maps waited for the jobs"
    for job in jobs:
        studio.jobs.cancel(job.id)
        assert finished(studio, job, 60).status == "canceled"


def test_a_folder_scan_on_a_worker_tells_its_progress_and_stops_on_cancel(cluster, connect, tmp_path: Path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3000):  # each is read, so the cancel lands part-way
        (folder / f"junk-{i:04d}.ckpt").write_bytes(os.urandom(64))
    client = connect(cluster.url)
    job_id = client.call("scanModelFolder", str(folder))["jobId"]
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id and d["currentStatus"].startswith("Scanning"),
                    timeout=120)
    client.emit("cancel", job_id)
    report = client.wait_for("modelListChanged", lambda d: d.get("jobId") == job_id, timeout=60)[0]["report"]
    assert report["canceled"] is True and report["total"] == 3000
    assert 1 <= report["checked"] < 3000, report["checked"]
    assert finished(cluster.studio, cluster.studio.jobs.get(job_id), 30).status == "canceled"


def test_cluster_flags_without_ray_print_the_extra_in_one_line(tmp_path: Path):
    shim = ("import sys; sys.modules['ray'] = None; from invokeai_gui.main import main; "
            f"sys.exit(main(['--web', '--cluster', 'local', '--root', {str(tmp_path)!r}]))")
    done = subprocess.run([sys.executable, "-c", shim], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'invokeai-desktop[cluster]' in lines[0], done.stderr


def test_png_carries_the_worker(cluster):
    studio = cluster.studio
    job = finished(studio, studio.submit_generation(request(seed=11)))
    image = Image.open(BytesIO(studio.resolve_output_url(job.results[0]["url"]).read_bytes()))
    assert '"torch_threads"' in image.info["sd-metadata"]


def test_a_model_change_sets_the_current_model_and_its_jobs_go_to_the_worker_that_has_it(cluster):
    studio = cluster.studio
    change = finished(studio, studio.request_model_change("demo-alt"))
    assert change.status == "done", change.message
    try:
        assert studio.pool.current_model == "demo-alt" and studio.system_config()["model_id"] == "demo-alt"
        job = finished(studio, studio.submit_generation(request(seed=12)))
        assert job.status == "done", job.message
        assert job.slot == change.slot and job.results[0]["metadata"]["model_id"] == "demo-alt"
    finally:
        assert finished(studio, studio.request_model_change("demo")).status == "done"


def test_ctrl_c_stops_a_studio_that_started_its_own_ray(tmp_path: Path):
    """Ctrl-C in a terminal reaches the studio and the Ray processes it started; it is still a clean stop."""
    import signal

    from tests.conftest import free_port

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "invokeai_gui", "--web", "--cluster", "local", "--cluster-workers", "1",
         "--port", str(free_port()), "--root", str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "worker(s) on Ray" in line:
                break
        assert any("worker(s) on Ray" in line for line in lines), "".join(lines)
        os.killpg(process.pid, signal.SIGINT)  # as a terminal sends Ctrl-C: to Ray's processes too
        out, _ = process.communicate(timeout=90)
        lines.append(out)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0 and ">> Stopped." in "".join(lines), "".join(lines)


def _first_running(client, job_ids: list[str]) -> list[str]:
    """The order ``queueUpdate`` showed the jobs starting (jobs first seen running together: oldest first)."""
    order: list[str] = []
    for update in client.of("queueUpdate"):
        for job in update["jobs"]:
            if job["id"] in job_ids and job["status"] in ("running", "done") and job["id"] not in order:
                order.append(job["id"])
    return order


def test_two_clients_waiting_jobs_alternate_and_all_six_results_arrive_once(cluster, connect):
    studio = cluster.studio
    a = connect(cluster.url, auth={"clientId": "alice"})
    b = connect(cluster.url, auth={"clientId": "bob"})
    c = connect(cluster.url, auth={"clientId": "carol"})
    blockers = [c.call("generateImage", params(seed=s, steps=500), None, None)["jobId"] for s in (1, 2)]
    for job_id in blockers:
        c.wait_for("progressUpdate", lambda d, j=job_id: d.get("jobId") == j and d["currentStep"] >= 1)
    alice = [a.call("generateImage", params(seed=10 + n, steps=3), None, None)["jobId"] for n in range(3)]
    bob = [b.call("generateImage", params(seed=20 + n, steps=3), None, None)["jobId"] for n in range(3)]
    for job_id in blockers:
        c.emit("cancel", job_id)
    mine = alice + bob
    results = a.wait_for("generationResult", lambda d: d.get("jobId") in mine, count=6, timeout=180)
    time.sleep(0.5)
    assert sorted(r["jobId"] for r in a.of("generationResult") if r.get("jobId") in mine) == sorted(mine)
    assert all((studio.outdir / r["url"].removeprefix("outputs/")).exists() for r in results)
    assert _first_running(a, mine) == [alice[0], bob[0], alice[1], bob[1], alice[2], bob[2]]
    workers = {studio.jobs.get(j).slot for j in mine}
    assert workers == {0, 1}, "both workers ran jobs"
    on_worker = {d["jobId"]: d["worker"] for d in a.of("progressUpdate") if d.get("jobId") in mine}
    assert on_worker == {j: f"worker-{studio.jobs.get(j).slot}" for j in mine}


def test_workers_update_lists_the_workers_their_jobs_and_a_death(cluster, connect):
    studio = cluster.studio
    client = connect(cluster.url)
    first = client.wait_for("workersUpdate")[0]["workers"]  # sent on connect
    assert [w["id"] for w in first] == ["worker-0", "worker-1"]
    assert all(w["alive"] and w["host"] and w["device"] == "cpu" for w in first)
    job = studio.submit_generation(request(seed=31, steps=300))
    running = client.wait_for("workersUpdate", lambda d: any(w["job"] == job.id for w in d["workers"]))[0]
    worker = next(w for w in running["workers"] if w["job"] == job.id)
    assert worker["model"] == "demo"
    queued = client.wait_for("queueUpdate", lambda d: any(j["id"] == job.id and j["status"] == "running"
                                                          for j in d["jobs"]))[0]
    assert next(j for j in queued["jobs"] if j["id"] == job.id)["worker"] == worker["id"]
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == job.id and d["currentStep"] >= 2)
    ray.kill(studio.pool.workers[job.slot].actor)
    client.wait_for("workersUpdate", lambda d: any(w["id"] == worker["id"] and not w["alive"] for w in d["workers"]))
    client.wait_for("workersUpdate", lambda d: any(w["id"] == worker["id"] and w["alive"] for w in d["workers"]),
                    timeout=120)
    studio.jobs.cancel(job.id)
    assert finished(studio, job).status == "canceled"
    idle = client.wait_for("workersUpdate", lambda d: all(w["job"] is None for w in d["workers"]))[-1]
    assert len(idle["workers"]) == 2
