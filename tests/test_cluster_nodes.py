"""--cluster over two real Ray nodes (``ray.cluster_utils.Cluster`` on 127.0.0.1), each with its own root
dir (the node's ``INVOKEAI_ROOT``), one of them lacking a model; killing a node requeues its job."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray is imported: every socket on 127.0.0.1
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import pytest
import ray
import yaml
from ray.cluster_utils import Cluster

from ldm.invoke.request import GenerationRequest
from tests.conftest import private_root

pytestmark = pytest.mark.timeout(300)


def node_root(shared: Path, where: Path, models: list[str]) -> Path:
    """A node's own root dir: the test root's files, with a models.yaml of only ``models``."""
    where.mkdir(parents=True)
    for entry in shared.iterdir():
        if entry.name != "models.yaml":
            (where / entry.name).symlink_to(entry)
    every = yaml.safe_load((shared / "models.yaml").read_text())
    (where / "models.yaml").write_text(yaml.safe_dump({name: every[name] for name in models}, sort_keys=False))
    return where


@pytest.fixture(scope="module")
def nodes(test_root, tmp_path_factory):
    """A head with no CPUs for workers (the studio's node) and two worker nodes, each with its own root."""
    base = tmp_path_factory.mktemp("nodes")
    roots = {"full": node_root(test_root, base / "full", ["demo", "demo-alt"]),
             "lacking": node_root(test_root, base / "lacking", ["demo"])}
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    added = {name: cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1", env_vars={"INVOKEAI_ROOT": str(root)})
             for name, root in roots.items()}
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    yield cluster, added, roots
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def studio(nodes, module_server_factory, test_root, tmp_path_factory):
    cluster, _, _ = nodes
    server = module_server_factory(cluster=cluster.address, cluster_workers=2, cluster_threads=1,
                                   root=private_root(test_root, tmp_path_factory.mktemp("studio")))
    assert server.studio.wait_until_loaded(180), "no worker loaded a model"
    return server.studio


def request(**changes) -> GenerationRequest:
    fields = {"prompt": "two harbours", "width": 64, "height": 64, "steps": 2, "seed": 7, "sampler_name": "k_euler"}
    fields.update(changes)
    return GenerationRequest(**fields)


def finished(studio, job, timeout: float = 180):
    assert studio.jobs.wait_finished(job, timeout), f"{job.summary} still {job.status}"
    return job


def test_each_node_s_worker_uses_that_node_s_root(studio, nodes):
    _, _, roots = nodes
    by_root = {w.description["root"]: sorted(w.model_list()) for w in studio.pool.workers}
    assert by_root == {str(roots["full"]): ["demo", "demo-alt"], str(roots["lacking"]): ["demo"]}


def test_jobs_for_a_model_one_node_lacks_go_to_the_other_node(studio, nodes):
    _, _, roots = nodes
    full = next(i for i, w in enumerate(studio.pool.workers) if w.description["root"] == str(roots["full"]))
    jobs = [studio.submit_generation(request(seed=s, model="demo-alt")) for s in range(4)]
    for job in jobs:
        assert finished(studio, job).status == "done", job.message
        assert job.slot == full
        assert job.results[0]["metadata"]["model_id"] == "demo-alt"


def test_killing_the_node_running_a_job_requeues_it_and_it_finishes_once(studio, nodes):
    cluster, added, roots = nodes
    before = set(studio.outdir.glob("*.png"))
    # Enough steps that the second image is still being made when the node is gone (removing it takes a while).
    job = studio.submit_generation(request(seed=21, steps=400, iterations=2))
    deadline = time.monotonic() + 120
    while not (job.status == "running" and job.payload.get("done", 0) >= 1):
        assert time.monotonic() < deadline, "the job's first image never came"
        time.sleep(0.05)
    victim = job.slot
    root = studio.pool.workers[victim].description["root"]
    node = next(added[name] for name, r in roots.items() if str(r) == root)
    cluster.remove_node(node, allow_graceful=False)  # its raylet and every process on it: the machine is gone
    assert finished(studio, job).status == "done", job.message
    assert job.payload["lost_on"] == [victim] and job.slot != victim
    made = set(studio.outdir.glob("*.png")) - before
    assert len(job.results) == len(made) == 2
