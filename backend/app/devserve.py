"""`python -m app.devserve`: the development server (what `uvicorn --reload` was, but faster).

uvicorn's reloader starts a fresh interpreter on every save, which re-imports FastAPI, pydantic,
SQLAlchemy, Socket.IO, the Hume SDK, openai, scipy... (seconds). Here one long-lived parent holds
the listening socket and has imported those third-party modules, and never anything from `app`
but this file's package marker. On a change it forks a worker that imports `app.main` (only the
app's own code is new) and serves on the inherited socket, and stops the previous worker
gracefully (its lifespan shutdown runs; connections wait in the socket's backlog, none is
refused). A worker that fails to import prints the traceback, and the next save tries again.

Which third-party modules to preload is learnt, not listed: each worker reports the modules it
has loaded (after start-up and at exit) and the parent imports those it lacks, so a new
dependency is warm from the next reload on. The file watcher (watchfiles, as uvicorn uses) runs
in its own small process so the parent stays single-threaded when it forks.

Development only: production runs `python -m app.serve`. An edit of this file itself, or of a
dependency, takes effect when the process restarts (Tilt rebuilds the image on pyproject.toml).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import importlib.util
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

APP_PACKAGE = "app"
# Package data the app reads besides its modules (pyproject's package-data).
WATCHED_SUFFIXES = (".py", ".json", ".txt", ".ini", ".mako")
# A worker that has not exited this long after SIGTERM is killed (uvicorn's graceful shutdown
# waits for open connections; the lifespan drains background jobs for up to 10 s).
STOP_GRACE_SECONDS = 15.0

logger = logging.getLogger("app.devserve")


def is_app_module(name: str) -> bool:
    return name == APP_PACKAGE or name.startswith(APP_PACKAGE + ".")


def app_modules_loaded() -> list[str]:
    """The parent's `app` modules besides the package marker: always [] (the tests check)."""
    return sorted(m for m in sys.modules if is_app_module(m) and m != APP_PACKAGE)


# ---- the watcher process -----------------------------------------------------------------------


def watch(directories: Sequence[str]) -> None:
    """Print one JSON list of changed paths per batch of changes (ends when the parent has gone:
    the next print fails on the closed pipe)."""
    import watchfiles

    watch_filter = watchfiles.PythonFilter(extra_extensions=WATCHED_SUFFIXES[1:])
    print("[]", flush=True)  # ready: changes from now on are seen
    for changes in watchfiles.watch(
        *directories, watch_filter=watch_filter, debounce=1600, step=50
    ):
        print(json.dumps(sorted({path for _, path in changes})), flush=True)


# ---- a worker (forked child) -------------------------------------------------------------------


@dataclass(frozen=True)
class ServeOptions:
    app: str
    host: str
    port: int
    log_level: str | None
    pycache: str


def report_modules(fd: int) -> None:
    names = [m for m in sys.modules if not is_app_module(m) and m != "__main__"]
    with contextlib.suppress(OSError):
        os.write(fd, (json.dumps(names) + "\n").encode())


def run_worker(sock: socket.socket, report_fd: int, options: ServeOptions) -> int:
    """Import the app afresh and serve it on `sock`; returns the exit status."""
    started, started_cpu = time.perf_counter(), time.process_time()
    # The parent's log handler: the app and uvicorn install their own.
    logging.root.handlers.clear()
    # The parent's `app` package marker (this file's package) may be stale: drop it.
    for name in [m for m in sys.modules if is_app_module(m)]:
        del sys.modules[name]
    # Compiled app code cached outside the synced tree (the parent deletes a changed file's entry,
    # so a save within the same second at the same size is never served stale).
    sys.dont_write_bytecode = False
    sys.pycache_prefix = options.pycache
    import uvicorn

    module_name, _, attribute = options.app.partition(":")
    # No collections while importing: the lifespan's gc.collect() follows anyway.
    gc.disable()
    try:
        module = importlib.import_module(module_name)
        asgi_app = getattr(module, attribute)
    except BaseException as exc:
        if isinstance(exc, SystemExit):  # the settings check printed its message already
            return exc.code if isinstance(exc.code, int) else 1
        if isinstance(exc, KeyboardInterrupt):  # Ctrl+C while importing: no traceback
            return 130
        traceback.print_exc()
        print("devserve: the app failed to import; waiting for the next change", file=sys.stderr)
        return 1
    finally:
        gc.enable()
    imported, imported_cpu = time.perf_counter(), time.process_time()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                logger.info(
                    "devserve: worker %d imported the app in %.2f s (%.2f s CPU), "
                    "started in %.2f s",
                    os.getpid(),
                    imported - started,
                    imported_cpu - started_cpu,
                    time.perf_counter() - imported,
                )
                report_modules(report_fd)

    config = uvicorn.Config(
        asgi_app, host=options.host, port=options.port, log_level=options.log_level
    )
    server = Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits so when the lifespan start-up fails
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        report_modules(report_fd)
    return 0


# ---- the parent --------------------------------------------------------------------------------


@dataclass
class Worker:
    pid: int
    report: int  # read end of the worker's module report pipe
    buffer: bytes = b""
    stop_deadline: float | None = None


@dataclass
class Supervisor:
    sock: socket.socket
    options: ServeOptions
    directories: list[str]
    workers: list[Worker] = field(default_factory=list)
    current: Worker | None = None

    def fork_worker(self) -> None:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            status = 1
            try:
                os.close(read_fd)
                for worker in self.workers:
                    os.close(worker.report)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                status = run_worker(self.sock, write_fd, self.options)
                logging.shutdown()
                atexit._run_exitfuncs()
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        os.close(write_fd)
        worker = Worker(pid, read_fd)
        self.workers.append(worker)
        self.current = worker

    def stop(self, worker: Worker) -> None:
        if worker.stop_deadline is None:
            worker.stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)

    def reload(self, changed: list[str]) -> None:
        shown = ", ".join(os.path.relpath(p) for p in changed[:5])
        logger.warning("devserve: changes in %s; reloading", shown)
        self.forget_compiled(changed)
        if self.current is not None:
            self.stop(self.current)
        self.fork_worker()

    def forget_compiled(self, changed: list[str]) -> None:
        saved = sys.pycache_prefix
        sys.pycache_prefix = self.options.pycache
        try:
            for path in changed:
                if path.endswith(".py"):
                    with contextlib.suppress(OSError, ValueError):
                        os.unlink(importlib.util.cache_from_source(path))
        finally:
            sys.pycache_prefix = saved

    def preload(self, names: list[str]) -> None:
        """Import what a worker had loaded, so the next worker finds it in memory."""
        new = [n for n in names if n not in sys.modules and not is_app_module(n)]
        for name in new:
            # Not BaseException: SIGTERM (SystemExit) must still stop the parent here.
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        if new:
            # Out of every worker's GC passes (the lifespan's gc.collect() then scans only the
            # app's objects) and never written to, so the pages stay shared with the workers.
            gc.collect()
            gc.freeze()
            logger.info(
                "devserve: parent preloaded %d modules (%d in memory, app modules: %s)",
                len(new),
                len(sys.modules),
                app_modules_loaded() or "none",
            )

    def read_report(self, worker: Worker) -> bool:
        """False at end of file (the worker has exited or closed it)."""
        try:
            data = os.read(worker.report, 1 << 16)
        except OSError:
            return False
        if not data:
            return False
        worker.buffer += data
        while b"\n" in worker.buffer:
            line, _, worker.buffer = worker.buffer.partition(b"\n")
            with contextlib.suppress(ValueError):
                self.preload([str(n) for n in json.loads(line)])
        return True

    def reap(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            pid, status = os.waitpid(worker.pid, os.WNOHANG)
            if pid == 0:
                if worker.stop_deadline is not None and now > worker.stop_deadline:
                    logger.warning("devserve: worker %d did not stop; killing it", worker.pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.pid, signal.SIGKILL)
                continue
            while self.read_report(worker):
                pass
            os.close(worker.report)
            self.workers.remove(worker)
            if worker is self.current:
                self.current = None
                code = os.waitstatus_to_exitcode(status)
                logger.warning(
                    "devserve: worker %d exited (%d); waiting for the next change", pid, code
                )

    def run(self) -> None:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "app.devserve", "--watch", *self.directories],
            stdout=subprocess.PIPE,
        )
        assert watcher.stdout is not None
        # Raw reads on the descriptors: a buffered readline could keep a line select misses.
        watched, pending = watcher.stdout.fileno(), b""
        try:
            while b"\n" not in pending:  # the watcher's first line: it is ready
                data = os.read(watched, 1 << 16)
                if not data:
                    raise SystemExit("devserve: the file watcher did not start")
                pending += data
            pending = pending.partition(b"\n")[2]
            logger.info(
                "devserve: parent %d watching %s (app modules in the parent: %s)",
                os.getpid(),
                ", ".join(self.directories),
                app_modules_loaded() or "none",
            )
            self.fork_worker()
            while True:
                reports = {w.report: w for w in self.workers}
                ready, _, _ = select.select([watched, *reports], [], [], 0.2)
                for fd in ready:
                    if fd != watched:
                        self.read_report(reports[fd])
                        continue
                    data = os.read(watched, 1 << 16)
                    if not data:
                        raise SystemExit("devserve: the file watcher exited")
                    pending += data
                    changed: set[str] = set()
                    while b"\n" in pending:
                        line, _, pending = pending.partition(b"\n")
                        changed.update(json.loads(line))
                    if changed:
                        self.reload(sorted(changed))
                self.reap()
        finally:
            for worker in self.workers:
                self.stop(worker)
            for worker in self.workers:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(worker.pid, 0)
            watcher.kill()
            watcher.wait()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextlib.contextmanager
def pycache_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="dimini-devserve-pycache-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m app.devserve", description="development server with fast reloads"
    )
    parser.add_argument("--app", default="app.main:socket_app", help="module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--reload-dir",
        action="append",
        help="directory to watch (repeatable); default: the app package's directory",
    )
    parser.add_argument("--log-level", default=None, help="uvicorn's log level")
    parser.add_argument("--watch", nargs="+", help=argparse.SUPPRESS)  # the watcher process
    args = parser.parse_args(argv)
    if args.watch:
        with contextlib.suppress(KeyboardInterrupt):
            watch(args.watch)
        return

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    package_dir = str(Path(__file__).resolve().parent)
    directories = [str(Path(d).resolve()) for d in args.reload_dir or [package_dir]]
    signal.signal(signal.SIGTERM, _stop)
    sock = bind(args.host, args.port)
    with pycache_dir() as pycache:
        options = ServeOptions(args.app, args.host, args.port, args.log_level, pycache)
        try:
            Supervisor(sock, options, directories).run()
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()


if __name__ == "__main__":
    main()
