"""A loopback HTTP server for download tests: static files with HTTP Range support (like GitHub's release
downloads), an optional connection cut in the middle of a file, and the part of the Hugging Face hub
API that ``huggingface_hub.snapshot_download`` uses (repo info, file tree, resolve)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}  # URL path -> content
        self.cut_once: set[str] = set()  # paths whose next full (non-Range) GET stops half way
        self.repos: dict[str, dict[str, bytes]] = {}  # HF repo id -> {path in repo: content}
        self.lfs_sha_override: dict[tuple[str, str], str] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass

    def _send_json(self, data) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        rng = self.headers.get("Range")
        with self.server.lock:
            self.server.requests.append((self.command, path, rng))
        m = re.match(r"^/api/models/(.+?)/revision/([^/]+)$", path)
        if m and m.group(1) in self.server.repos:
            files = self.server.repos[m.group(1)]
            return self._send_json({"id": m.group(1), "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]})
        m = re.match(r"^/api/models/(.+?)/tree/([^/]+)(?:/(.*))?$", path)
        if m and m.group(1) in self.server.repos:
            return self._send_json(self._tree(m.group(1)))
        m = re.match(r"^/(.+?)/resolve/([^/]+)/(.+)$", path)
        if m and m.group(1) in self.server.repos:
            content = self.server.repos[m.group(1)].get(m.group(3))
            if content is None:
                return self._not_found()
            return self._body(content, rng, head, path, {"X-Repo-Commit": COMMIT,
                                                        "ETag": f'"{hashlib.sha256(content).hexdigest()}"'})
        content = self.server.files.get(path)
        if content is None:
            return self._not_found()
        return self._body(content, rng, head, path, {})

    def _tree(self, repo: str) -> list[dict]:
        out = []
        for name, content in sorted(self.server.repos[repo].items()):
            entry = {"type": "file", "path": name, "size": len(content), "oid": hashlib.sha1(content).hexdigest()}
            if name.endswith(".safetensors"):
                sha = self.server.lfs_sha_override.get((repo, name), hashlib.sha256(content).hexdigest())
                entry["lfs"] = {"oid": sha, "size": len(content), "pointerSize": 134}
            out.append(entry)
        return out

    def _body(self, content: bytes, rng: str | None, head: bool, path: str, extra: dict[str, str]) -> None:
        start = 0
        if rng:
            m = re.match(r"bytes=(\d+)-$", rng)
            if not m:
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(m.group(1))
            if start >= len(content):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(content)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        body = content[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if head:
            return
        cut = False
        with self.server.lock:
            if not rng and path in self.server.cut_once:
                self.server.cut_once.discard(path)
                cut = True
        if cut:  # promise the whole file, send half, hang up: a dropped connection
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextmanager
def serve() -> Iterator[FileServer]:
    server = FileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
