"""The server's settings, as one plain object built from the command line or by the desktop app."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ldm.invoke.globals import outputs_dir

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
VITE_DEV_ORIGIN = "http://localhost:5173"
DEFAULT_FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend" / "dist"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def split_origins(values: list[str] | tuple[str, ...] | str | None) -> list[str]:
    """``--cors`` takes origins space- or comma-separated; trailing slashes are not part of an origin."""
    if not values:
        return []
    if isinstance(values, str):
        values = [values]
    origins: list[str] = []
    for value in values:
        for part in value.replace(",", " ").split():
            origin = part.strip().rstrip("/")
            if origin and origin not in origins:
                origins.append(origin)
    return origins


def parse_api_auth(text: str | None) -> list[tuple[str, str]]:
    """``user:pass,user2:pass2`` as (user, password) pairs; a password may itself hold colons."""
    pairs: list[tuple[str, str]] = []
    for item in (text or "").split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError(f"--api-auth takes user:password pairs separated by commas, got {item.strip()!r}")
        pairs.append((user, password))
    return pairs


@dataclass
class ServerConfig:
    """Everything ``create_app`` needs; nothing else is read from globals or the environment."""

    root: Path
    outdir: Path | None = None  # default: outputs/img-samples under the root
    host: str = "127.0.0.1"
    port: int = 9090
    cors: list[str] = field(default_factory=list)
    web_develop: bool = False
    web_verbose: bool = False
    no_auth: bool = False
    require_token: bool = False  # loopback asks for the token too (a machine other people log in to)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # --api-auth user:pass[,user2:pass2]: HTTP Basic on /sdapi and /v1, as AUTOMATIC1111's flag (loopback too).
    api_auth: list[tuple[str, str]] = field(default_factory=list)
    frontend_dir: Path = DEFAULT_FRONTEND_DIR
    # The desktop window's pywebview bridge evaluates strings in the page: its UI page then allows
    # 'unsafe-eval' (a browser on the same server gets the same page; everything else is unchanged).
    allow_eval: bool = False

    # The engine: passed to ldm.invoke.generate.Generate on the worker thread.
    model: str | None = None
    precision: str = "auto"
    device: str = "auto"
    compile: bool = False  # --compile: the UNet runs through torch.compile
    attention: str = "auto"  # --attention: sdpa or sliced (ldm/invoke/attention.py)
    free_gpu_mem: bool = False
    seamless: bool = False
    load_model_at_start: bool = True

    # A pool of workers on Ray (pool.py): None runs the one worker in-process.
    cluster: str | None = None  # "local", "auto" or a head's HOST:PORT
    cluster_workers: int | None = None  # default: one per GPU, else one
    cluster_threads: int | None = None  # torch threads per CPU worker (default: the CPUs shared out)

    # Limits on what clients may send.
    max_upload_bytes: int = 50 * 1024 * 1024
    max_upload_pixels: int = 64 * 1024 * 1024
    page_size: int = 50
    gallery_poll_seconds: float = 2.0

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().resolve()
        if self.outdir is None:
            self.outdir = outputs_dir(self.root)
        self.outdir = Path(self.outdir).expanduser()
        if not self.outdir.is_absolute():
            self.outdir = self.root / self.outdir
        self.outdir = self.outdir.resolve()
        self.frontend_dir = Path(self.frontend_dir)
        self.cors = split_origins(self.cors)
        if isinstance(self.api_auth, str):
            self.api_auth = parse_api_auth(self.api_auth)
        if self.web_develop and VITE_DEV_ORIGIN not in self.cors:
            self.cors.append(VITE_DEV_ORIGIN)

    @property
    def requires_token(self) -> bool:
        """A server reachable from the network asks every client for the access token."""
        if self.require_token:
            return True
        return not is_loopback(self.host) and not self.no_auth

    @property
    def databases_dir(self) -> Path:
        return self.root / "databases"
