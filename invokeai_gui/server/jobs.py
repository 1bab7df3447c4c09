"""The job queue: worker slots (one in-process, or one per pool worker) run requests, clients taking
turns, and the queue survives a crash in SQLite."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldm.invoke.errors import GenerationCanceled, UserError, is_user_error

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running", "paused")
FINISHED = ("done", "failed", "canceled")
KEEP_FINISHED = 20
# The table as earlier versions made it; columns added since are added to an old table when it is opened.
JOBS_TABLE = ("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, "
              "payload TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL)")  # finished jobs still listed in queueUpdate, newest last
STUDIO_CLIENT = "studio"  # the studio's own jobs (the model load at start) and rows saved before clients were
MAX_CLIENT_NAME = 100  # characters of a client id kept in its key

# request_id: the client's request id, echoed in the job's events; client: who asked (rows of an earlier
# version have none: they count as the studio's own).
ADDED_COLUMNS = {"request_id": "TEXT", "client": "TEXT"}

Handler = Callable[["Job"], None]
# Which of the idle slots should run a waiting job (None: none of them; the job waits for another).
Chooser = Callable[["Job", list[int]], "int | None"]
POISON_LIMIT = 2  # a job that has taken down this many workers is failed instead of killing another


class WorkerLost(UserError):
    """The worker process running a job died (killed, out of memory, its machine gone)."""


@dataclass
class Job:
    """One request waiting for, or having had, its turn on the worker."""

    id: str
    kind: str
    payload: dict[str, Any]
    summary: str
    seq: int
    status: str = "queued"
    persist: bool = True  # model changes are not worth resuming after a crash; generations are
    private: bool = False  # its failure message is for the client that asked, not every queue panel
    message: str = ""
    created: float = field(default_factory=time.time)
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    results: list[dict[str, Any]] = field(default_factory=list, repr=False)  # ImageInfo of what it made
    slot: int = 0  # the worker slot running it
    client: str = STUDIO_CLIENT  # who asked (see client_key): waiting jobs of different clients take turns
    worker: str | None = None  # the name of the worker running it
    request_id: str | None = None  # ours: the client's name for its request, echoed as requestId

    def ids(self) -> dict[str, str]:
        """What each event of this job carries to name it: ``jobId``, and ``requestId`` when the client sent one."""
        return {"jobId": self.id, **({"requestId": self.request_id} if self.request_id else {})}

    def raise_if_canceled(self) -> None:
        if self.cancel_requested.is_set():
            raise GenerationCanceled()

    def public(self) -> dict[str, Any]:
        """The job as ``queueUpdate`` lists it."""
        out = {"id": self.id, "status": self.status, "summary": self.summary, "kind": self.kind}
        if self.request_id:
            out["requestId"] = self.request_id
        if self.message and not self.private:
            out["message"] = self.message
        if self.status == "running" and self.worker:
            out["worker"] = self.worker
        return out


def client_key(kind: str, name: object = None) -> str:
    """The key a client's jobs share: ``browser:ID`` (a browser's persisted client id), ``sid:SID`` (a
    Socket.IO client without one) or ``api-user:NAME`` / ``api-address:ADDR`` (an HTTP API caller)."""
    text = str(name or "").strip()[:MAX_CLIENT_NAME]
    return f"{kind}:{text}" if text else kind


class JobQueue:
    """Runs jobs one at a time per worker slot (one slot in-process; a pool of workers has one slot
    each, and ``choose`` picks which idle slot takes a job). Waiting jobs of different clients take
    turns (round robin, the client served longest ago first); one client's jobs keep their order.

    Jobs are written to SQLite as they are queued and forgotten once finished. Whatever is still
    there when the process starts (it died, or was closed with work waiting) comes back
    ``paused``: a job that crashed the process must not crash it again without being asked.
    ``resume()`` queues paused jobs again. A job whose worker died (``WorkerLost``) goes back to
    the front of the queue and continues where it got to; one that has lost ``POISON_LIMIT``
    workers fails.
    """

    def __init__(
        self,
        db_path: Path,
        on_change: Callable[[list[dict[str, Any]]], None] = lambda jobs: None,
        on_failure: Callable[[Job, BaseException], None] = lambda job, exc: None,
        on_cancel: Callable[[Job], None] = lambda job: None,
        choose: Chooser = lambda job, idle: idle[0],
        on_worker_lost: Callable[[int], None] = lambda slot: None,
    ) -> None:
        self._handlers: dict[str, Handler] = {}
        self._on_change = on_change
        self._on_failure = on_failure
        self._on_cancel = on_cancel
        self._cond = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._choose = choose
        self._on_worker_lost = on_worker_lost
        self._slots: list[Job | None] = []  # the job each slot runs (or was handed), None when idle
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._db_path = db_path
        self._db: sqlite3.Connection | None = None
        self._seq = 0
        self._closed = False
        self._bad_rows: list[Any] = []
        self._turn = 0  # counts hand-outs; _served[client] is the count when that client last had a turn
        self._served: dict[str, int] = {}
        self._names: list[str] = []
        # queueUpdate's lists, each taken under the lock by the change that made it, sent in that order
        # (by whichever thread holds _sending): a client never gets an older list after a newer one.
        self._unsent: deque[list[dict[str, Any]]] = deque()
        self._sending = threading.RLock()
        self._last_sent: list[dict[str, Any]] | None = None

    # -- persistence ----------------------------------------------------------------------------

    def _open(self) -> None:
        """Opens the database and takes over what the last session left (only when the server starts,
        so a second process that fails to bind its port never touches a running server's queue).
        A database that cannot be read is moved aside (``queue.sqlite3.corrupt-DATE``) and a new one
        started; rows that cannot be read are skipped, each named in the log."""
        self._db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db, rows = self._connect()
        except sqlite3.DatabaseError as exc:
            aside = self._db_path.with_name(f"{self._db_path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self._db_path}{suffix}")
                if part.exists():
                    part.replace(f"{aside}{suffix}")
            log.warning("The queue database %s could not be read (%s); it was moved to %s and a new, empty "
                        "queue started.", self._db_path, exc, aside.name)
            db, rows = self._connect()
        rows.sort(key=lambda r: r[1] if isinstance(r[1], int) else 0)
        for row in rows:
            job = self._restored(row)
            if job is not None:
                self._seq = max(self._seq, job.seq)
                if job.status in ACTIVE:
                    job.status = "paused"
                    self._jobs[job.id] = job
        db.execute("DELETE FROM jobs WHERE status NOT IN ('queued', 'running', 'paused')")
        db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in self._bad_rows])
        db.execute("UPDATE jobs SET status = 'paused'")
        self._db = db
        if self._jobs:
            log.warning("%d job(s) from the last session are paused; resume them from the queue.", len(self._jobs))

    def _connect(self) -> tuple[sqlite3.Connection, list[tuple]]:
        db = sqlite3.connect(str(self._db_path), check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(JOBS_TABLE)
            present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:  # a table of an earlier version: its rows get NULL
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
            rows = db.execute("SELECT id, seq, kind, payload, summary, status, created, request_id, client "
                              "FROM jobs").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db, rows

    def _restored(self, row: tuple) -> Job | None:
        """A saved row as a job, or None (and one log line naming it) when it cannot be read."""
        job_id, seq, kind, payload, summary, status, created, request_id, client = row
        try:
            data = json.loads(payload)
            if not isinstance(data, dict) or not isinstance(job_id, str) or not isinstance(seq, int):
                raise ValueError("not a job")
            if kind not in self._handlers:
                raise ValueError(f"no such kind of job {kind!r}")
            return Job(job_id, str(kind), data, str(summary), seq, str(status),
                       created=float(created) if isinstance(created, (int, float)) else time.time(),
                       request_id=request_id if isinstance(request_id, str) else None,
                       client=client if isinstance(client, str) and client else STUDIO_CLIENT)
        except (TypeError, ValueError) as exc:
            log.warning("Skipped the saved job %s (%s): it cannot be read (%s).", job_id, summary, exc)
            self._bad_rows.append(job_id)
            return None

    def _save(self, job: Job) -> None:
        if not job.persist or self._db is None or self._closed:
            return
        if job.status in FINISHED:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (id, seq, kind, payload, summary, status, created, request_id, client) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, job.seq, job.kind, json.dumps(job.payload), job.summary, job.status, job.created,
                 job.request_id, job.client),
            )

    # -- the public side --------------------------------------------------------------------------

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def submit(self, kind: str, payload: dict[str, Any], summary: str, persist: bool = True,
               private: bool = False, request_id: str | None = None, client: str = STUDIO_CLIENT) -> Job:
        if kind not in self._handlers:
            raise KeyError(f"no handler for job kind {kind!r}")
        with self._cond:
            self._seq += 1
            job = Job(uuid.uuid4().hex[:16], kind, payload, summary, self._seq, persist=persist, private=private,
                      request_id=request_id, client=client)
            self._jobs[job.id] = job
            self._save(job)
            self._cond.notify_all()
            self._note_change()
        self._send_changes()
        return job

    def record(self, job: Job) -> None:
        """Saves a running job's payload again (how far it got), so that a restart resumes from there."""
        with self._cond:
            self._save(job)

    def cancel(self, job_id: str | None = None, client: str | None = None) -> Job | None:
        """Stops a running job at its next step or drops a waiting one: the job ``job_id``, else
        ``client``'s oldest running job, else the oldest running job."""
        with self._cond:
            if job_id is None:
                own = [j for j in self.running_jobs() if j.client == client]
                job = own[0] if own else self.running
            else:
                job = self._jobs.get(job_id)
            if job is None or job.status in FINISHED:
                return None
            job.cancel_requested.set()
            if job.status != "running":
                job.status = "canceled"
                self._save(job)
                self._cond.notify_all()
                self._note_change()
        self._send_changes()
        return job

    def resume(self) -> int:
        """Queues every paused job again, in its original order."""
        with self._cond:
            paused = [j for j in self._jobs.values() if j.status == "paused"]
            for job in paused:
                job.status = "queued"
                self._save(job)
            self._cond.notify_all()
            if paused:
                self._note_change()
        self._send_changes()
        return len(paused)

    def snapshot(self) -> list[dict[str, Any]]:
        """Active jobs and the last few finished ones, oldest first."""
        with self._cond:
            jobs = sorted(self._jobs.values(), key=lambda j: j.seq)
            finished = [j for j in jobs if j.status in FINISHED][-KEEP_FINISHED:]
            return [j.public() for j in jobs if j.status in ACTIVE or j in finished]

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    @property
    def running(self) -> Job | None:
        """The oldest running job."""
        jobs = [j for j in self._slots if j is not None]
        return min(jobs, key=lambda j: j.seq) if jobs else None

    def running_jobs(self) -> list[Job]:
        with self._cond:
            return sorted((j for j in self._slots if j is not None), key=lambda j: j.seq)

    def counts(self) -> dict[str, int]:
        with self._cond:
            counts = dict.fromkeys(ACTIVE, 0)
            for job in self._jobs.values():
                if job.status in counts:
                    counts[job.status] += 1
            return counts

    def wait_finished(self, job: Job, timeout: float | None = None) -> bool:
        """True once ``job`` is done, failed or canceled (a caller waiting for its answer, say an HTTP API)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while job.status not in FINISHED:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once nothing is running or queued (paused jobs do not count)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while any(j is not None for j in self._slots) or any(j.status == "queued" for j in self._jobs.values()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- the worker -------------------------------------------------------------------------------

    def start(self, workers: int = 1, names: list[str] | None = None) -> None:
        """Restores the saved queue (paused) and starts one thread per worker slot (``names``: the
        workers' names, which running jobs carry)."""
        if not self._threads:
            with self._cond:
                self._open()
                self._slots = [None] * max(1, workers)
                self._names = list(names or [])
            for slot in range(len(self._slots)):
                name = "job-worker" if len(self._slots) == 1 else f"job-worker-{slot}"
                thread = threading.Thread(target=self._work, args=(slot,), name=name, daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self, cancel_running: bool = True, timeout: float = 60.0) -> None:
        """Stops the workers; running jobs are canceled or finished first. Waiting jobs stay saved."""
        with self._cond:
            self._stopping = True
            for job in self._slots:
                if cancel_running and job is not None:
                    job.cancel_requested.set()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._cond:
            self._closed = True
            if self._db is not None:
                self._db.close()

    def poke(self) -> None:
        """Looks again for work to hand out (a worker came back, or learned which models it has)."""
        with self._cond:
            self._dispatch()
        self._send_changes()

    def _dispatch(self) -> None:
        if self._hand_out():
            self._cond.notify_all()
            self._note_change()

    def _hand_out(self) -> bool:
        """Hands waiting jobs to idle slots in turn order (with the lock held): a slot is never idle
        while a job it may run waits."""
        handed = False
        if self._stopping:
            return handed
        for job in self._in_turn():
            idle = [i for i, running in enumerate(self._slots) if running is None]
            if not idle:
                return handed
            slot = self._choose(job, idle) if len(self._slots) > 1 else idle[0]
            if slot is not None and slot in idle:
                job.status, job.slot = "running", slot
                job.worker = self._names[slot] if slot < len(self._names) else None
                self._slots[slot] = job
                self._save(job)
                self._turn += 1
                self._served[job.client] = self._turn
                handed = True
        return handed

    def _in_turn(self) -> list[Job]:
        """The waiting jobs in the order they get a worker: a job sent back by a dead worker first;
        then one job per client in turn, the client served longest ago (or never) first, each
        client's own jobs in the order they came."""
        waiting = sorted((j for j in self._jobs.values() if j.status == "queued"), key=lambda j: j.seq)
        first = [j for j in waiting if j.payload.get("lost_on")]
        lines: dict[str, list[Job]] = {}
        for job in waiting:
            if job not in first:
                lines.setdefault(job.client, []).append(job)
        served = {client: self._served.get(client, 0) for client in lines}
        order = list(first)
        while lines:
            client = min(lines, key=lambda c: (served[c], lines[c][0].seq))
            order.append(lines[client].pop(0))
            served[client] = self._turn + len(order)  # after everyone who is waiting now
            if not lines[client]:
                del lines[client]
        return order

    def _work(self, slot: int) -> None:
        while True:
            with self._cond:
                self._dispatch()
                while not self._stopping and self._slots[slot] is None:
                    self._cond.wait()
                    self._dispatch()
                if self._stopping:
                    job = self._slots[slot]
                    if job is not None and job.status == "running":  # handed out, never started
                        job.status = "queued"
                        self._save(job)
                    return
                job = self._slots[slot]
                assert job is not None
                self._cond.notify_all()
            self._send_changes()
            lost = self._run(job)
            if lost:
                self._safely(self._on_worker_lost, slot)
            with self._cond:
                self._slots[slot] = None
                self._save(job)
                self._forget_old()
                self._note_change()  # how it ended, before the next job is handed out
                self._dispatch()
                self._cond.notify_all()
            self._send_changes()

    def _run(self, job: Job) -> bool:
        """Runs the job's handler; True when the worker died under it."""
        try:
            self._handlers[job.kind](job)
            job.status = "done"
        except WorkerLost as exc:
            return self._worker_lost(job, exc)
        except GenerationCanceled:
            job.status = "canceled"
            self._safely(self._on_cancel, job)
        except Exception as exc:  # a failing job must never take the worker down
            job.status = "failed"
            job.message = str(exc) or type(exc).__name__
            log.warning("Job %s (%s) failed: %s", job.id, job.summary, exc, exc_info=not is_user_error(exc))
            self._safely(self._on_failure, job, exc)
        return False

    def _worker_lost(self, job: Job, exc: WorkerLost) -> bool:
        lost_on = [*job.payload.get("lost_on", []), job.slot]
        job.payload["lost_on"] = lost_on
        if job.cancel_requested.is_set():
            job.status = "canceled"
            self._safely(self._on_cancel, job)
        elif len(lost_on) >= POISON_LIMIT:
            job.status = "failed"
            job.message = (f"The job “{job.summary}” was stopped: the worker running it died {len(lost_on)} times "
                           f"({exc}); it is not run again, so it cannot take down another worker.")
            log.warning("Job %s failed: %s", job.id, job.message)
            self._safely(self._on_failure, job, WorkerLost(job.message))
        else:
            log.warning("The worker running job %s died (%s); the job goes back to the front of the queue.",
                        job.id, exc)
            with self._cond:
                job.status = "queued"  # it keeps its place (seq): the front of the queue
                self._save(job)
                self._note_change()
                self._dispatch()
        return True

    @staticmethod
    def _safely(callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("A job event could not be sent.")

    def _forget_old(self) -> None:
        finished = [j for j in sorted(self._jobs.values(), key=lambda j: j.seq) if j.status in FINISHED]
        for job in finished[:-KEEP_FINISHED]:
            del self._jobs[job.id]

    def _note_change(self) -> None:
        """Keeps the queue as it is now for the next ``queueUpdate`` (called with the lock held, by
        the change itself, so that two changes made at once on two threads are two lists in order)."""
        self._unsent.append(self.snapshot())

    def _send_changes(self) -> None:
        """Sends the lists noted so far, oldest first, skipping one that repeats the list sent before."""
        with self._sending:
            while True:
                with self._cond:
                    if not self._unsent:
                        return
                    jobs = self._unsent.popleft()
                if jobs != self._last_sent:
                    self._last_sent = jobs
                    self._safely(self._on_change, jobs)
