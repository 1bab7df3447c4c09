"""The ``invokeai`` command: flags → the web server (--web), the desktop window (--gui) or the interactive CLI."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ldm.invoke import APP_NAME, __version__
from ldm.invoke.flags import add_engine_flags
from ldm.invoke.threads import use_physical_cores

if TYPE_CHECKING:
    from invokeai_gui.server.config import ServerConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invokeai",
        description=f"{APP_NAME} {__version__}: a local Stable Diffusion studio. "
        "With no mode flag it starts the interactive invoke> command line.",
    )
    mode = parser.add_argument_group("mode")
    mode.add_argument("--web", action="store_true", help="start the web server")
    mode.add_argument("--gui", action="store_true", help="desktop mode: the server plus a native window")
    mode.add_argument("--configure", action="store_true", help="set up the root dir and download weights")
    mode.add_argument("--on_close", choices=["cancel", "finish"], default=None,
                      help="desktop mode: when the window closes, cancel the running job (default) or let it finish")

    web = parser.add_argument_group("web server")
    web.add_argument("--host", default="127.0.0.1",
                     help="listen address (default 127.0.0.1; 0.0.0.0 for the LAN, which then needs the access token)")
    web.add_argument("--port", type=int, default=9090, help="port to listen on (default 9090)")
    web.add_argument("--cors", nargs="*", default=[], metavar="ORIGIN",
                     help="extra allowed origins, space- or comma-separated (same origin only by default)")
    web.add_argument("--web_develop", action="store_true",
                     help="development mode: the UI comes from the Vite dev server, whose origin is allowed")
    web.add_argument("--web_verbose", action="store_true", help="verbose Socket.IO / Engine.IO logging")
    web.add_argument("--require-token", dest="require_token", action="store_true",
                     help="ask for the access token on loopback too (on a machine other users log in to, any of "
                          "them can reach a loopback port); the printed URL and the desktop window carry it")
    web.add_argument("--no-auth", dest="no_auth", action="store_true",
                     help="do not require the access token on a non-loopback --host (anyone on the network may use it)")

    web.add_argument("--api-auth", dest="api_auth", default=None, type=_api_auth, metavar="USER:PASS[,USER2:PASS2]",
                     help="HTTP Basic credentials the HTTP APIs (/sdapi/v1, /v1) ask for, as AUTOMATIC1111's flag; "
                          "applies on loopback too")
    cluster = parser.add_argument_group("cluster (pip install \"invokeai-desktop[cluster]\")")
    cluster.add_argument("--cluster", metavar="ADDRESS", default=None,
                         help="run jobs on a pool of workers on Ray: 'local' (a private Ray on this machine, kept on "
                              "127.0.0.1), 'auto' (RAY_ADDRESS) or a head's HOST:PORT as `ray start --head` prints it")
    cluster.add_argument("--cluster-workers", dest="cluster_workers", type=int, default=None, metavar="N",
                         help="how many workers (default: one per GPU, each holding one; else one)")
    cluster.add_argument("--cluster-threads", dest="cluster_threads", type=int, default=None, metavar="T",
                         help="torch threads per CPU worker (default: the CPUs shared among the workers)")

    add_engine_flags(parser.add_argument_group("engine"))
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser


def _api_auth(text: str) -> list[tuple[str, str]]:
    from invokeai_gui.server.config import parse_api_auth

    try:
        return parse_api_auth(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The web server's settings from parsed flags (the desktop window builds its server with this too)."""
    from invokeai_gui.server.config import ServerConfig
    from ldm.invoke.globals import resolve_root

    return ServerConfig(
        root=resolve_root(args.root),
        outdir=Path(args.outdir) if args.outdir else None,
        host=args.host,
        port=args.port,
        cors=args.cors,
        web_develop=args.web_develop,
        web_verbose=args.web_verbose,
        no_auth=args.no_auth,
        require_token=args.require_token,
        api_auth=args.api_auth or [],
        model=args.model,
        precision=args.precision,
        device=args.device,
        compile=args.compile,
        attention=args.attention,
        free_gpu_mem=args.free_gpu_mem,
        seamless=args.seamless,
        cluster=getattr(args, "cluster", None),
        cluster_workers=getattr(args, "cluster_workers", None),
        cluster_threads=getattr(args, "cluster_threads", None),
    )


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format=">> %(message)s")
    for name in ("invokeai_gui", "ldm"):
        logging.getLogger(name).setLevel(logging.INFO)
    if verbose:
        for name in ("werkzeug", "engineio", "socketio"):
            logging.getLogger(name).setLevel(logging.INFO)
    from invokeai_gui.server.logfilters import install_log_filters

    install_log_filters()  # ?token= values and the token cookie never reach the log


def run_web(args: argparse.Namespace) -> int:
    from invokeai_gui.server import PortInUseError, create_app
    from invokeai_gui.server.config import is_loopback
    from invokeai_gui.server.logfilters import install_log_filters

    config = server_config_from_args(args)
    server = create_app(config)
    install_log_filters(config.token)  # after create_app: Engine.IO may have added a handler of its own
    try:
        server.bind()
    except PortInUseError as exc:
        print(f"invokeai: {exc.strerror}", file=sys.stderr)
        return 1
    print(f">> {APP_NAME} {__version__}; images go to {config.outdir}", flush=True)
    if config.requires_token:
        where = "Listening on the network" if not is_loopback(config.host) else "--require-token"
        print(f">> {where}: the address below carries an access token; "
              "share it only with people who may use this server.", flush=True)
    elif config.no_auth and config.host not in ("127.0.0.1", "localhost", "::1"):
        print(">> WARNING: --no-auth: anyone on your network can use this server.", flush=True)
    print(f">> Point your browser at {server.url}", flush=True)
    # SIGTERM (kill, systemd, docker stop) stops the server as Ctrl-C does: the running job is
    # canceled, waiting jobs stay in the queue database and come back paused next start.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()  # returns on Ctrl-C (Werkzeug turns it into a clean stop)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(">> Stopped.", flush=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _exit_past_lingering_threads(code: int) -> int:
    """Ends the process once the server has shut down cleanly.

    The queue is saved and images are written atomically by then; but a worker thread may still be
    inside native code that cannot be interrupted (a model load), and CPython finalising around
    such a thread can abort the process. So when threads linger, flush and leave at once.
    """
    lingering = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    if lingering:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _missing(what: str, module: str, exc: ImportError) -> int:
    print(f"invokeai: {what} is not available in this installation ({module}: {exc}).", file=sys.stderr)
    return 1


def _ray_available(address: str) -> bool:
    """Ray is an optional extra; without it ``--cluster`` says, in one line, what to install."""
    from invokeai_gui.server.pool import CLUSTER_EXTRA, keep_ray_on_loopback

    if address == "local":
        keep_ray_on_loopback()  # before Ray is imported
    try:
        import ray  # noqa: F401
    except ImportError:
        print(f"invokeai: --cluster: {CLUSTER_EXTRA}", file=sys.stderr)
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    use_physical_cores()  # before anything imports torch: web, desktop and CLI compute alike
    if "--configure" in raw:
        # `invokeai --configure ...` is `invokeai-configure ...`: every other flag is configure's.
        try:
            from ldm.invoke.configure import main as configure
        except ImportError as exc:
            return _missing("invokeai-configure", "ldm.invoke.configure", exc)
        return int(configure([a for a in raw if a != "--configure"]) or 0)
    args = build_parser().parse_args(argv)
    _setup_logging(args.web_verbose)
    if (args.web or args.gui) and args.cluster and not _ray_available(args.cluster):
        return 2
    if args.web:
        return _exit_past_lingering_threads(run_web(args))
    if args.gui:
        try:
            from invokeai_gui.desktop.window import run as run_window
        except ImportError as exc:
            return _missing("Desktop mode", "invokeai_gui.desktop.window", exc)
        on_close = getattr(args, "on_close", None)
        default_port = args.port == build_parser().get_default("port")
        return _exit_past_lingering_threads(int(run_window(server_config_from_args(args), on_close, default_port) or 0))
    try:
        from ldm.invoke.cli import main as cli_main
    except ImportError as exc:
        return _missing("The interactive command line", "ldm.invoke.cli", exc)
    return int(cli_main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
