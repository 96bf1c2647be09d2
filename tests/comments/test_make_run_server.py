"""The ``make run`` shape, end to end: one granian ASGI process on SQLite, with no Redis (the
in-process cache, eager Celery), serves the pages, the static files and the comment streams, and
a comment posted through the page's endpoint reaches open streams at once through the
in-process fan-out.

The server is a real subprocess with its own SQLite file (migrated and given one invoice before
it starts), whatever database the rest of the suite uses: pytest's test database lives in a
transaction no other process can see, and the project's ``db.sqlite3`` belongs to ``make run``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Far below the 15 s heartbeat, after which a stream would re-read the database anyway: a
# comment arriving this fast was pushed to it.
ARRIVAL_SECONDS = 2.0

SETUP = """
from django.core.management import call_command
from tests import factories

call_command("migrate", verbosity=0)
company = factories.make_company(slug="acme", name="Acme Studio", plan="pro")
customer = factories.make_customer(company, name="Ada Lovelace", email="ada@example.com")
print(factories.share_token(factories.make_invoice(company, customer)))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(origin, share token) of a granian process started as scripts/run-local.sh starts it."""
    tmp = tmp_path_factory.mktemp("make-run")
    # The settings module unchanged, only the SQLite file moved out of the project.
    (tmp / "make_run_settings.py").write_text(
        "from portal_project.settings import *  # noqa: F403\n"
        f"DATABASES['default']['NAME'] = {str(tmp / 'db.sqlite3')!r}  # noqa: F405\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {
        "DEBUG": "1",
        "SECRET_KEY": "make-run-shape-test-secret-key-0123456789abcdefghijklmnop",
        "DJANGO_SETTINGS_MODULE": "make_run_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]),
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    setup = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0, setup.stderr
    token = setup.stdout.strip().splitlines()[-1]

    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    log_path = tmp / "granian.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("granian")),
                "--interface",
                "asginl",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--workers-kill-timeout",
                "2",
                "portal_project.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{origin}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"granian did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield origin, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _events(response: httpx.Response) -> AsyncIterator[str]:
    """The stream's frames (the retry hint, comments, heartbeats), one at a time."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            yield frame


async def _next_comment(events: AsyncIterator[str], timeout: float) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for frame in events:
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
            if fields.get("event") == "comment":
                comment: dict[str, Any] = json.loads(fields["data"])
                assert fields["id"] == str(comment["id"])
                return comment
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(first(), timeout)


def test_make_run_serves_live_comment_streams_over_asgi_without_redis(
    server: tuple[str, str],
) -> None:
    origin, token = server

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=origin, timeout=10) as client:
            page = await client.get(f"/invoice/{token}")
            assert page.status_code == 200
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert csrf, "the page has no comment form"

            async def post(body: str) -> dict[str, Any]:
                # As the page's script posts: JSON, the CSRF token from the form, the cookie.
                response = await client.post(
                    f"/invoice/{token}/comments",
                    json={"name": "Ada", "email": "ada@example.com", "body": body},
                    headers={"X-CSRFToken": csrf.group(1), "Accept": "application/json"},
                )
                assert response.status_code == 201, response.text
                comment: dict[str, Any] = response.json()["comment"]
                return comment

            url = f"/invoice/{token}/comments/stream"
            # Two viewers, as two browsers would be.
            async with client.stream("GET", url) as one, client.stream("GET", url) as two:
                for stream in (one, two):
                    assert stream.status_code == 200
                    assert stream.headers["content-type"].startswith("text/event-stream")
                viewers = [_events(one), _events(two)]
                for events in viewers:
                    assert (await anext(events)).startswith("retry:")

                # The first comment proves each stream has subscribed (a stream subscribes
                # before its first read of the database, and may deliver it from either).
                first = await post("Is the invoice final?")
                for events in viewers:
                    assert (await _next_comment(events, 10))["body"] == "Is the invoice final?"

                # The next one can only come through the fan-out, and at once.
                second = await post("Could you split it in two payments?")
                started = time.monotonic()
                for events in viewers:
                    comment = await _next_comment(events, ARRIVAL_SECONDS)
                    assert comment["id"] == first["id"] + 1 == second["id"]
                    assert comment["body"] == "Could you split it in two payments?"
                assert time.monotonic() - started < ARRIVAL_SECONDS

    asyncio.run(scenario())


def test_make_run_serves_static_files(server: tuple[str, str]) -> None:
    origin, _ = server
    response = httpx.get(f"{origin}/static/comments/thread.js", timeout=10)
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "EventSource" in response.text
    # The admin's own static files too (runserver served those as well).
    assert httpx.get(f"{origin}/static/admin/css/base.css", timeout=10).status_code == 200
    assert httpx.get(f"{origin}/static/comments/missing.js", timeout=10).status_code == 404
