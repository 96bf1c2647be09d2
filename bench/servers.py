"""The production processes a benchmark runs against: granian (WSGI) and a Celery worker, each
in a process group of its own so stopping it stops its children too."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


def port_in(first: int, last: int) -> int:
    """The first free port of the range on 127.0.0.1."""
    for port in range(first, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    sys.exit(f"No free port in {first}-{last} on 127.0.0.1.")


def redis_flush(url: str) -> None:
    """Empty the one Redis database of ``url`` (its cache, rate-limit counters, Celery queue)."""
    import redis

    client = redis.Redis.from_url(url)
    db = client.connection_pool.connection_kwargs.get("db", 0)
    if not db:
        sys.exit(f"Refusing to flush Redis database 0 ({url}): give the benchmark its own.")
    client.flushdb()
    client.close()


class Process:
    """A child in its own process group, its output in a temporary file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> str:
        """SIGTERM to the main process, which stops its children gracefully (a Celery worker
        finishes the tasks it runs); SIGKILL to the whole group after 30 seconds."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # any child left behind
        text = self.output()
        self.log.close()
        return text


def celery_worker(
    env: dict[str, str], *, concurrency: int = 2, hostname: str = "bench-pages@%h"
) -> Process:
    """A worker with the production settings (docker-compose.yml): prefork, 2 processes,
    recycled after 200 tasks. Returns once it is ready to take tasks."""
    worker = Process(
        "celery worker",
        [
            str(BIN / "celery"),
            "-A",
            "portal_project",
            "worker",
            f"--concurrency={concurrency}",
            "--max-tasks-per-child=200",
            "--without-gossip",
            "--without-mingle",
            f"--hostname={hostname}",
            "--loglevel=INFO",
        ],
        env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if " ready." in worker.output():
            return worker
        if not worker.alive():
            break
        time.sleep(0.3)
    print(worker.stop()[-3000:])
    sys.exit("The Celery worker did not start.")


def celery_beat(env: dict[str, str], *, schedule: Path) -> Process:
    """Celery beat (the periodic tasks of settings.CELERY_BEAT_SCHEDULE), as in production."""
    beat = Process(
        "celery beat",
        [
            str(BIN / "celery"),
            "-A",
            "portal_project",
            "beat",
            f"--schedule={schedule}",
            "--loglevel=INFO",
        ],
        env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "beat: Starting" in beat.output():
            return beat
        if not beat.alive():
            break
        time.sleep(0.3)
    print(beat.stop()[-3000:])
    sys.exit("Celery beat did not start.")


def granian_wsgi(
    env: dict[str, str], *, port: int, workers: int, threads: int, app: str, ready_path: str
) -> Process:
    """granian serving ``app`` over WSGI; returns once ``ready_path`` answers."""
    server = Process(
        "granian",
        [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(workers),
            # A thread waiting on PostgreSQL or Redis lets another run; each keeps a database
            # connection (2 x 8 = 16; PostgreSQL allows 100 by default).
            "--blocking-threads",
            str(threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            app,
        ],
        env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=2):
                return server
        except OSError:
            if not server.alive():
                break
            time.sleep(0.3)
    print(server.stop()[-3000:])
    sys.exit("granian did not start.")
