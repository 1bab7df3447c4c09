"""The job queue on its own: order, cancel, failures, and jobs that outlive the process (paused, then resumed)."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from invokeai_gui.server.jobs import Job, JobQueue


class Recorder:
    """Job handlers that write down what ran; ``slow`` jobs step until canceled or done."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.canceled: list[str] = []
        self.updates: list[list[dict]] = []
        self.step_started = threading.Event()

    def note(self, job: Job) -> None:
        self.ran.append(job.payload["name"])
        if job.payload.get("fail"):
            raise ValueError(f"{job.payload['name']} was told to fail")

    def slow(self, job: Job) -> None:
        self.ran.append(job.payload["name"])
        for _ in range(job.payload.get("steps", 200)):
            self.step_started.set()
            job.raise_if_canceled()
            time.sleep(0.01)


def make_queue(db: Path, recorder: Recorder) -> JobQueue:
    queue = JobQueue(
        db,
        on_change=recorder.updates.append,
        on_failure=lambda job, exc: recorder.failures.append((job.id, str(exc))),
        on_cancel=lambda job: recorder.canceled.append(job.id),
    )
    queue.register("note", recorder.note)
    queue.register("slow", recorder.slow)
    return queue


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_jobs_run_one_at_a_time_in_order_and_a_failure_does_not_stop_the_queue(tmp_path, recorder):
    queue = make_queue(tmp_path / "q.sqlite3", recorder)
    queue.start()
    jobs = [queue.submit("note", {"name": f"j{n}", "fail": n == 2}, f"job {n}") for n in range(6)]
    assert queue.wait_idle(10)
    assert recorder.ran == [f"j{n}" for n in range(6)]
    assert recorder.failures == [(jobs[2].id, "j2 was told to fail")]
    statuses = {j["id"]: j["status"] for j in queue.snapshot()}
    assert [statuses[j.id] for j in jobs] == ["done", "done", "failed", "done", "done", "done"]
    queue.stop()


def test_cancel_stops_the_running_job_or_drops_a_waiting_one(tmp_path, recorder):
    queue = make_queue(tmp_path / "q.sqlite3", recorder)
    queue.start()
    running = queue.submit("slow", {"name": "long"}, "long")
    waiting = queue.submit("note", {"name": "dropped"}, "dropped")
    after = queue.submit("note", {"name": "after"}, "after")
    assert recorder.step_started.wait(5)
    assert queue.cancel(waiting.id) is waiting
    assert queue.cancel() is running
    assert queue.wait_idle(10)
    assert recorder.ran == ["long", "after"] and recorder.canceled == [running.id]
    assert {j["id"]: j["status"] for j in queue.snapshot()} == {
        running.id: "canceled", waiting.id: "canceled", after.id: "done"}
    assert queue.cancel("no-such-job") is None
    queue.stop()


def test_jobs_left_behind_come_back_paused_and_run_only_when_resumed(tmp_path, recorder):
    db = tmp_path / "q.sqlite3"
    first = make_queue(db, recorder)
    first.start()
    running = first.submit("slow", {"name": "interrupted", "steps": 100000}, "interrupted")
    queued = [first.submit("note", {"name": f"q{n}"}, f"q{n}") for n in range(3)]
    first.submit("note", {"name": "not kept"}, "transient", persist=False)
    assert recorder.step_started.wait(5)
    # Simulate the process dying: the worker is abandoned mid-job, nothing is cleaned up.
    first._closed = True

    later = Recorder()
    second = make_queue(db, later)
    second.start()
    assert [(j["id"], j["status"]) for j in second.snapshot()] == [
        (running.id, "paused"), *[(q.id, "paused") for q in queued]]
    time.sleep(0.2)
    assert later.ran == []  # nothing runs unasked

    second.submit("note", {"name": "new"}, "new")
    assert second.wait_idle(10) and later.ran == ["new"]

    running_payload = second.get(running.id)
    assert running_payload is not None
    running_payload.payload["steps"] = 3  # the resumed copy finishes quickly
    assert second.resume() == 4
    assert second.wait_idle(10)
    assert later.ran == ["new", "interrupted", "q0", "q1", "q2"]
    second.stop()
    third = make_queue(db, Recorder())
    third.start()
    assert third.snapshot() == []  # finished jobs are not kept
    third.stop()
    first._stopping = True  # let the abandoned worker go
    running.cancel_requested.set()


def test_finished_jobs_are_forgotten_by_the_database(tmp_path, recorder):
    db = tmp_path / "q.sqlite3"
    queue = make_queue(db, recorder)
    queue.start()
    queue.submit("note", {"name": "a"}, "a")
    assert queue.wait_idle(10)
    queue.stop()
    reopened = make_queue(db, Recorder())
    reopened.start()
    assert reopened.snapshot() == []
    reopened.stop()


def test_a_caller_can_wait_for_one_job_to_finish(tmp_path):
    from invokeai_gui.server.jobs import JobQueue

    queue = JobQueue(tmp_path / "q.sqlite3")
    queue.register("work", lambda job: job.results.append({"url": "outputs/x.png"}))
    queue.register("wait", lambda job: time.sleep(0.3))
    queue.start()
    try:
        blocker = queue.submit("wait", {}, "wait")
        job = queue.submit("work", {}, "work")
        dropped = queue.submit("work", {}, "dropped")
        queue.cancel(dropped.id)
        assert queue.wait_finished(dropped, timeout=5) and dropped.status == "canceled"
        assert not queue.wait_finished(job, timeout=0.01)  # still behind the blocker
        assert queue.wait_finished(job, timeout=10) and job.status == "done"
        assert job.results == [{"url": "outputs/x.png"}] and blocker.status == "done"
    finally:
        queue.stop()


RANK = {"queued": 0, "running": 1, "done": 2}


def test_queue_updates_arrive_in_the_order_the_queue_changed(tmp_path):
    """Three workers finishing and taking jobs at once, and a client that is slow to take each list:
    no job is ever shown going back (done, then running again), and the last list is the end."""
    updates: list[list[dict]] = []
    rng = random.Random(7)

    def slow_client(jobs: list[dict]) -> None:
        time.sleep(rng.random() * 0.004)
        updates.append(jobs)

    queue = JobQueue(tmp_path / "q.sqlite3", on_change=slow_client)
    queue.register("note", lambda job: time.sleep(rng.random() * 0.002))
    queue.start(workers=3)
    try:
        submitters = [threading.Thread(target=lambda c=c: [queue.submit("note", {}, f"{c}{n}", client=c)
                                                             for n in range(12)]) for c in "abc"]
        for thread in submitters:
            thread.start()
        for thread in submitters:
            thread.join()
        assert queue.wait_idle(30)
    finally:
        queue.stop()
    seen: dict[str, int] = {}
    for jobs in updates:
        for job in jobs:
            rank = RANK[job["status"]]
            assert rank >= seen.get(job["summary"], 0), f"{job['summary']} went back to {job['status']}"
            seen[job["summary"]] = rank
    assert len(seen) == 36 and all(job["status"] == "done" for job in updates[-1])


def test_workers_updates_arrive_in_the_order_they_were_taken():
    """Two threads updating the workers panel at once cannot deliver an older list after a newer one."""
    from invokeai_gui.server.publisher import Publisher
    from invokeai_gui.server.workerboard import WorkerBoard

    rng = random.Random(3)
    sent: list[int] = []

    class SlowEmitter:
        def emit(self, event: str, data=None, **kwargs) -> None:
            time.sleep(rng.random() * 0.002)
            sent.append(data["workers"][0]["n"])

    taken = iter(range(10**6))
    board = WorkerBoard(Publisher(SlowEmitter()), lambda: [{"n": next(taken)}])
    threads = [threading.Thread(target=lambda: [board.update() for _ in range(60)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 180 and sent == sorted(sent)
