"""Real processes for the chaos tests: Celery workers started as subprocesses against the test
Redis and the test database (SIGKILLed by the tests), a second PostgreSQL connection that holds
row locks (so a worker or a request can be caught mid-work), and the helpers to watch the
database's sessions. Nothing of ours is mocked; the shared PostgreSQL server is never
restarted: only this test database's sessions are terminated."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from portal_project.celery import app

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database as a URL, for processes of our own."""
    db = connection.settings_dict
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def needs_postgres_and_redis() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("chaos tests need PostgreSQL (sessions to terminate, row locks)")
    if not os.environ.get("REDIS_URL"):
        pytest.skip("chaos tests need Redis (REDIS_URL) as the Celery broker")


def wait_until(check: Callable[[], Any], *, timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or check}")


def admin_connection() -> psycopg.Connection[Any]:
    """A connection of the test's own, outside Django (autocommit)."""
    return psycopg.connect(database_url().replace("postgres://", "postgresql://"), autocommit=True)


def sessions_waiting_on_a_lock() -> list[int]:
    """PostgreSQL backends of the test database blocked on a lock (a worker caught mid-task)."""
    with admin_connection() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def session_alive(pid: int) -> bool:
    with admin_connection() as conn:
        return bool(conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone())


class RowLock:
    """Holds ``SELECT … FOR UPDATE`` on one row in a transaction of its own, until released."""

    def __init__(self, table: str, pk: int) -> None:
        self.conn = psycopg.connect(database_url().replace("postgres://", "postgresql://"))
        self.conn.execute(f'SELECT 1 FROM "{table}" WHERE id = %s FOR UPDATE', [pk])

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


class Worker:
    """``celery worker`` in a process group of its own: one pool process, the test database,
    the test Redis."""

    def __init__(self, env: dict[str, str]) -> None:
        self.name = f"chaos-{uuid.uuid4().hex[:8]}@localhost"
        # A file, not a pipe: nobody reads a pipe while the worker runs, and a full one would
        # block it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal_project",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname={self.name}",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pool_process(self) -> int:
        """The pid of the pool process that runs tasks (the worker's only child)."""

        def child() -> int | None:
            path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = path.read_text().split() if path.exists() else []
            return int(pids[0]) if pids else None

        return int(wait_until(child, timeout=30, what="the pool process"))

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool): a machine or container lost."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.seek(0)
        text = self.log.read().decode(errors="replace")
        self.log.close()
        return text


@pytest.fixture
def broker() -> Iterator[Any]:
    """Celery publishes to the test Redis for real (not eagerly); the queue starts empty, with
    no unacknowledged message of an earlier run."""
    needs_postgres_and_redis()
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete("celery", "unacked", "unacked_index")
    try:
        yield client
    finally:
        app.conf.task_always_eager = saved


@pytest.fixture
def start_worker() -> Iterator[Callable[..., Worker]]:
    """Start workers (``start_worker(VARIABLE=value, …)`` adds to their environment); every
    one still running is stopped after the test, and its log printed."""
    workers: list[Worker] = []

    def start(**extra: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        worker = Worker(env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        log = worker.stop()
        print(f"--- {worker.name} ---\n{log[-4000:]}")


class Mailbox:
    """What a real SMTP server (aiosmtpd, on 127.0.0.1) accepted."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        box.port = int(sock.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
