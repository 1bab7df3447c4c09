"""Clients take turns in the queue: one client's batch does not starve another's single image; a
client's own jobs keep their order; who asked is saved with each job (and rows saved without it load)."""

from __future__ import annotations

import sqlite3
import threading
import time

from invokeai_gui.server.jobs import JOBS_TABLE, STUDIO_CLIENT, Job, JobQueue
from tests.test_server_walkthrough import params


class Ran:
    """Handlers that note the order jobs ran in; a ``hold`` job blocks until released or canceled."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.release = threading.Event()
        self.holding = threading.Event()

    def note(self, job: Job) -> None:
        self.order.append(job.payload["name"])

    def hold(self, job: Job) -> None:
        self.order.append(job.payload["name"])
        self.holding.set()
        while not self.release.wait(0.01):
            job.raise_if_canceled()


def queue_of(db, ran: Ran, workers: int = 1) -> JobQueue:
    queue = JobQueue(db)
    queue.register("note", ran.note)
    queue.register("hold", ran.hold)
    queue.start(workers=workers)
    return queue


def test_a_batch_of_one_client_takes_turns_with_another_s_single_job(tmp_path):
    ran = Ran()
    queue = queue_of(tmp_path / "q.sqlite3", ran)
    try:
        queue.submit("hold", {"name": "a0"}, "a0", client="browser:A")
        assert ran.holding.wait(10)
        for n in range(1, 50):
            queue.submit("note", {"name": f"a{n}"}, f"a{n}", client="browser:A")
        queue.submit("note", {"name": "b0"}, "b0", client="browser:B")
        queue.submit("note", {"name": "b1"}, "b1", client="browser:B")
        queue.submit("note", {"name": "c0"}, "c0", client="cli")
        ran.release.set()
        assert queue.wait_idle(20)
    finally:
        queue.stop()
    assert ran.order[:7] == ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]
    assert [n for n in ran.order if n.startswith("a")] == [f"a{n}" for n in range(50)]


def test_who_asked_is_saved_with_the_job_and_rows_of_an_earlier_version_still_load(tmp_path):
    db_path = tmp_path / "q.sqlite3"
    old = sqlite3.connect(db_path, isolation_level=None)
    old.execute(JOBS_TABLE)  # the table as an earlier version wrote it: no client column
    old.execute("INSERT INTO jobs VALUES ('old', 1, 'note', '{\"name\": \"old\"}', 'an old one', 'queued', 0)")
    old.close()

    ran = Ran()
    queue = queue_of(db_path, ran)
    restored = queue.get("old")
    assert restored is not None and restored.status == "paused" and restored.client == STUDIO_CLIENT
    queue.submit("hold", {"name": "running"}, "one that runs", client="browser:A")
    assert ran.holding.wait(10)
    queue.submit("note", {"name": "new"}, "a new one", client="api-user:ann")  # waits, so it is kept
    queue.stop()

    again = JobQueue(db_path)
    again.register("note", ran.note)
    again.register("hold", ran.hold)
    again.start()
    try:
        clients = {job["id"]: again.get(job["id"]).client for job in again.snapshot()}
        assert sorted(clients.values()) == ["api-user:ann", STUDIO_CLIENT]
    finally:
        again.stop()


def test_cancel_without_a_job_id_stops_the_sender_s_own_running_job(tmp_path):
    ran = Ran()
    queue = queue_of(tmp_path / "q.sqlite3", ran, workers=2)
    try:
        a = queue.submit("hold", {"name": "a"}, "a", client="browser:A")
        b = queue.submit("hold", {"name": "b"}, "b", client="browser:B")
        deadline = time.monotonic() + 10
        while len(queue.running_jobs()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert queue.cancel(None, client="browser:B") is b
        assert queue.wait_finished(b, 10) and b.status == "canceled"
        assert a.status == "running"
        assert queue.cancel(None, client="browser:nobody") is a  # nothing of its own: the oldest running job
        assert queue.wait_finished(a, 10) and a.status == "canceled"
    finally:
        ran.release.set()
        queue.stop()


def test_two_browsers_take_turns_on_a_real_server(server, connect):
    """Browser A queues 5 images, then browser B one: B's runs as soon as A's running job is done,
    and A's keep their order. The client id comes from the Socket.IO handshake's ``auth``."""
    a = connect(server.url, auth={"clientId": "browser-a"})
    b = connect(server.url, auth={"clientId": "browser-b"})
    first = a.call("generateImage", params(seed=1, steps=1000), None, None)["jobId"]
    a.wait_for("progressUpdate", lambda d: d.get("jobId") == first and d["currentStep"] >= 1)
    rest = [a.call("generateImage", params(seed=2 + n, steps=2), None, None)["jobId"] for n in range(4)]
    theirs = b.call("generateImage", params(seed=9, steps=2), None, None)["jobId"]
    old = connect(server.url)  # an InvokeAI 2.1 client sends no client id: its connection is the client
    its = old.call("generateImage", params(seed=10, steps=2), None, None)["jobId"]
    a.emit("cancel", first)  # A's long job ends here; the next turns are B's and the old client's
    mine = {theirs, its, *rest}
    results = b.wait_for("generationResult", lambda d: d.get("jobId") in mine, count=6, timeout=120)
    assert [r["jobId"] for r in results] == [theirs, its, *rest]


def _api_job(studio, before: set[str]):
    ids = [j["id"] for j in studio.jobs.snapshot() if j["id"] not in before and j["summary"].startswith("API ")]
    assert len(ids) == 1, ids
    return studio.jobs.get(ids[0])


def test_an_http_api_caller_is_a_client_by_its_user_or_its_address(server, server_factory):
    import requests

    body = {"prompt": "a kite", "width": 64, "height": 64, "steps": 1, "seed": 3}
    before = {j["id"] for j in server.studio.jobs.snapshot()}
    assert requests.post(f"{server.url}sdapi/v1/txt2img", json=body, timeout=120).status_code == 200
    assert _api_job(server.studio, before).client == "api-address:127.0.0.1"

    guarded = server_factory(api_auth=[("ann", "s3cret")])
    assert guarded.studio.wait_until_loaded(180)
    before = {j["id"] for j in guarded.studio.jobs.snapshot()}
    answer = requests.post(f"{guarded.url}sdapi/v1/txt2img", json=body, auth=("ann", "s3cret"), timeout=120)
    assert answer.status_code == 200
    assert _api_job(guarded.studio, before).client == "api-user:ann"


def test_a_handshake_without_a_usable_client_id_counts_as_its_connection():
    from invokeai_gui.server.events import handshake_client

    assert handshake_client({"clientId": "tab-7f3a"}, "s1") == "browser:tab-7f3a"
    for auth in (None, {}, {"clientId": 5}, {"clientId": ""}, {"clientId": "x" * 500}, {"clientId": "a\nb"}, "text"):
        assert handshake_client(auth, "s1") == "sid:s1", auth
