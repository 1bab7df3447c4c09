"""Shared pytest fixtures: a test root dir with the demo models, free ports, running servers, Socket.IO clients."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Nothing may reach a model hub during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# `make test` runs pytest on two processes (pytest-xdist): a file's tests stay on one of them (they
# share module fixtures), and these files share one process because they share something costly:
# the session's two --compile launches, or one Ray on 127.0.0.1 at a time.
_SHARED_PROCESS = {
    "test_compile.py": "compile", "test_bench_gpu.py": "compile",
    "test_cluster.py": "ray", "test_cluster_nodes.py": "ray",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Those costly files first (a stable sort), so that neither process is left with them at the end."""
    items.sort(key=lambda item: item.path.name not in _SHARED_PROCESS)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") not in ("load", "loadfile"):
        return None  # another --dist the user chose (loadscope, worksteal, ...) is theirs
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # hand the files out in the order above

    class ByFile(LoadFileScheduling):
        """xdist's ``loadfile``, with the files above sent to one process together."""

        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return _SHARED_PROCESS.get(Path(path).name, path)

    return ByFile(config, log)


# What a server's private root holds of its own (everything else is linked from the shared test root).
_PER_SERVER = {"databases", "thumbnails", "outputs"}


@pytest.fixture(scope="session")
def test_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root dir built once per session: models.yaml, the demo models and random-weight postprocessor files."""
    from tests.support.make_root import build_root

    return build_root(tmp_path_factory.mktemp("root"))


def private_root(shared: Path, where: Path) -> Path:
    """A root dir of its own (queue and gallery databases) that shares the models of ``shared`` by symlink."""
    where.mkdir(parents=True, exist_ok=True)
    for entry in shared.iterdir():
        if entry.name not in _PER_SERVER and not (where / entry.name).exists():
            (where / entry.name).symlink_to(entry)
    return where


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerFactory:
    """Starts real servers (Flask-SocketIO on a free loopback port, in a thread) and stops them all later.

    ``factory(**config_fields)`` returns the ``InvokeServer``; each gets its own root (its own queue and
    gallery databases) linking the test root's models, and its own output folder.
    """

    def __init__(self, base: Path, shared_root: Path) -> None:
        self.base = base
        self.shared_root = shared_root
        self.servers: list[Any] = []

    def __call__(self, **fields: Any) -> Any:
        from invokeai_gui.server import ServerConfig, create_app

        n = len(self.servers)
        fields.setdefault("root", private_root(self.shared_root, self.base / f"root{n}"))
        fields.setdefault("outdir", self.base / f"outputs{n}")
        fields.setdefault("port", 0)
        fields.setdefault("gallery_poll_seconds", 0.5)
        server = create_app(ServerConfig(**fields))
        server.start()
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.shutdown(cancel_running=True)


@pytest.fixture
def server_factory(tmp_path: Path, test_root: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path, test_root)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory: pytest.TempPathFactory, test_root: Path) -> Iterator[ServerFactory]:
    """The same, for servers shared by the tests of one module."""
    factory = ServerFactory(tmp_path_factory.mktemp("servers"), test_root)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def compile_launches(tmp_path_factory: pytest.TempPathFactory):
    """(root, first, second): two ``--compile`` launches on one demo root, made once per session
    (tests/support/compile_launches.py); the root's ROOT/cache/compile then holds the compiled UNet."""
    from tests.support.compile_launches import compile_root, launch

    root = compile_root(tmp_path_factory.mktemp("compile-root"))
    first = launch(root, tmp_path_factory.mktemp("compile-first") / "out")
    second = launch(root, tmp_path_factory.mktemp("compile-second") / "out")
    return root, first, second


@pytest.fixture(scope="module")
def server(module_server_factory):
    """A server shared by a module's tests, with the demo model loaded (a module may define its own)."""
    srv = module_server_factory()
    assert srv.studio.wait_until_loaded(180), "the demo model did not load"
    return srv


class SocketRecorder:
    """A real ``socketio.Client`` that records every event it receives, with helpers to wait for them."""

    def __init__(self, url: str, **connect_kwargs: Any) -> None:
        import socketio

        self.events: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.connect(url, wait_timeout=15, **connect_kwargs)

    def _record(self, event: str, *args: Any) -> None:
        with self._cond:
            self.events.append((event, args[0] if len(args) == 1 else args or None))
            self._cond.notify_all()

    def emit(self, event: str, *args: Any) -> None:
        """Emits with Socket.IO positional arguments, as the browser UI does."""
        if not args:
            self.client.emit(event)
        else:
            self.client.emit(event, args if len(args) > 1 else args[0])

    def call(self, event: str, *args: Any, timeout: float = 30) -> Any:
        """Emits and waits for the handler's acknowledgement (our handlers answer job requests with {jobId})."""
        if not args:
            return self.client.call(event, timeout=timeout)
        return self.client.call(event, args if len(args) > 1 else args[0], timeout=timeout)

    def of(self, event: str) -> list[Any]:
        with self._cond:
            return [data for name, data in self.events if name == event]

    def wait_for(
        self, event: str, predicate: Callable[[Any], bool] = lambda d: True, timeout: float = 60, count: int = 1,
        after: int = 0,
    ) -> list[Any]:
        """Waits until ``count`` events named ``event`` matching ``predicate`` arrived (from index ``after``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [d for name, d in self.events[after:] if name == event and predicate(d)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [name for name, _ in self.events[-15:]]
                    raise TimeoutError(f"waited {timeout}s for {count} × {event}; got {len(found)}; last events {seen}")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def close(self) -> None:
        if self.client.connected:
            # python-socketio's websocket close waits ~3 s for a closing frame its own reader thread
            # has already taken; let that finish in the background instead of stalling every test.
            threading.Thread(target=self.client.disconnect, daemon=True).start()


@pytest.fixture
def connect() -> Iterator[Callable[..., SocketRecorder]]:
    """``connect(url, headers=..., ...)`` → a connected SocketRecorder; all are disconnected afterwards."""
    clients: list[SocketRecorder] = []

    def open_client(url: str, **kwargs: Any) -> SocketRecorder:
        client = SocketRecorder(url.rstrip("/"), **kwargs)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
