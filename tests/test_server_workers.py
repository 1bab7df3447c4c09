"""``workersUpdate`` without --cluster: the one in-process worker, its model, its job and its speed."""

from __future__ import annotations

import socket

from tests.test_server_walkthrough import params


def test_the_in_process_worker_is_listed_with_its_job_and_speed(server, connect):
    client = connect(server.url)
    on_connect = client.wait_for("workersUpdate")[0]["workers"]
    assert [(w["id"], w["host"], w["device"], w["alive"]) for w in on_connect] == [
        ("worker-0", socket.gethostname(), "cpu", True)]
    # The shared server may still be loading its model or finishing an earlier test's job: wait for idle.
    idle_before = client.wait_for("workersUpdate", lambda d: d["workers"][0]["job"] is None
                                  and d["workers"][0]["model"] == "demo", timeout=120)[0]["workers"]
    assert idle_before == [{"id": "worker-0", "host": socket.gethostname(), "device": "cpu", "model": "demo",
                            "job": None, "itsPerSecond": idle_before[0]["itsPerSecond"], "alive": True}]
    mark = client.mark()
    job_id = client.call("generateImage", params(seed=4, steps=8), None, None)["jobId"]
    busy = client.wait_for("workersUpdate", lambda d: d["workers"][0]["job"] == job_id, after=mark)[0]
    assert busy["workers"][0]["model"] == "demo"
    progress = client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id and d["currentStep"] >= 1)
    assert progress[0]["worker"] == "worker-0"
    idle = client.wait_for("workersUpdate", lambda d: d["workers"][0]["job"] is None, after=mark)[0]
    assert idle["workers"][0]["itsPerSecond"] > 0
    updates = [d for name, d in client.events[mark:] if name == "workersUpdate"]
    assert all(a != b for a, b in zip(updates, updates[1:], strict=False)), "an unchanged list was sent again"
