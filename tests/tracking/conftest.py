"""Tracking's fixtures: Celery without a worker, for what a request does before any flush."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal_project.celery import app


@pytest.fixture
def without_worker() -> Iterator[None]:
    """Tasks are published to the test Redis for real and nobody runs them (the test calls the
    flush itself); the queue goes with the cache's flush after the test."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = saved
