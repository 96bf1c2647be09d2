"""A real Celery worker runs below the web server's CPU priority."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.conftest import Worker

pytestmark = [pytest.mark.postgres_only]


def _niceness(pid: int) -> int:
    # Field 19 of /proc/<pid>/stat, counted after the command name's closing parenthesis.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_a_worker_runs_below_the_web_servers_priority(
    broker: Any, start_worker: Callable[..., Worker]
) -> None:
    from django.conf import settings

    worker = start_worker()
    pool = worker.pool_process()
    assert settings.WORKER_NICENESS > 0
    assert _niceness(pool) == min(_niceness(os.getpid()) + settings.WORKER_NICENESS, 19)
    assert _niceness(worker.process.pid) == _niceness(pool)
