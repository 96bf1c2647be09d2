"""Comment-stream benchmark: what N open SSE viewers cost the ASGI process, in one run.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        .venv/bin/python bench/bench_comments_stream.py [--viewers 300] [--plain-viewers 30]

Starts granian (ASGI, one worker) on our entry point ``portal_project.asgi:application``, opens
``--viewers`` streams of one invoice, then posts a comment through the service (as the WSGI
process would) and times its arrival at every viewer. While the streams are open it counts the
worker's threads, its PostgreSQL connections and the Redis subscribers. Then it does the same
with Django's stock ASGI handler (``django.core.asgi:get_asgi_application``) for
``--plain-viewers`` streams (kept small: each holds a PostgreSQL connection there, and the
server's limit is shared).

Targets: with our entry point, threads and PostgreSQL connections do not grow with viewers
(at most 10 threads and 3 connections); every viewer gets the comment.
Needs PostgreSQL and Redis (the fan-out is Redis pub/sub); creates its rows and deletes them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")

if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
    sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the stream fan-out needs both.")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from invoices.models import Company, Invoice  # noqa: E402
from portal.comments.services import comment_post  # noqa: E402
from tests import factories  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVER_APPLICATION_NAME = f"bench-comments-stream-{os.getpid()}"


def start_server(target: str, *, factory: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        "asginl",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-ws",
        "--no-access-log",
        "--log-level",
        "warning",
        *(["--factory"] if factory else []),
        target,
    ]
    # As docker-compose.yml's realtime service: no connection pool. Its sessions carry their
    # own application name, so only they are counted (not a finished run's on their way out).
    env = {**os.environ, "DB_POOL": "0", "PGAPPNAME": SERVER_APPLICATION_NAME}
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit(f"granian did not start for {target}")


def worker_pid(process: subprocess.Popen[bytes]) -> int:
    children = subprocess.run(
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return int(children[0]) if children else process.pid


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def pg_connections() -> int:
    """The server's sessions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            [SERVER_APPLICATION_NAME],
        )
        return int(cursor.fetchone()[0])


def redis_subscribers(channel: str) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    counts = dict(cast(list[tuple[bytes, int]], client.pubsub_numsub(channel)))
    return int(counts.get(channel.encode(), 0))


async def measure(
    port: int, token: str, viewers: int, last: int, while_open: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Open the streams, call ``while_open`` (in a thread: it uses the ORM) while they are all
    open, then wait for every viewer to receive the comment it posts."""
    url = f"http://127.0.0.1:{port}/invoice/{token}/comments/stream"
    opened: list[int] = []
    arrivals: list[float] = []

    async def viewer(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", url, headers={"Last-Event-ID": str(last)}) as response:
            opened.append(response.status_code)
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    arrivals.append(time.monotonic())
                    return

    limits = httpx.Limits(max_connections=viewers + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        tasks = [asyncio.create_task(viewer(client)) for _ in range(viewers)]
        while len(opened) < viewers:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # let every stream reach its first wait
        result = await asyncio.to_thread(while_open)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    latencies = sorted(t - result["posted"] for t in arrivals)
    return result | {
        "ok": sum(1 for status in opened if status == 200),
        "received": len(latencies),
        "median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
    }


def run(target: str, *, factory: bool, viewers: int, invoice: Any, token: str) -> dict[str, Any]:
    from portal.comments.realtime import channel_name

    process, port = start_server(target, factory=factory)
    pid = worker_pid(process)
    idle_threads = threads_of(pid)
    last = invoice.comments.count()

    def while_open() -> dict[str, Any]:
        counts = {
            "open_threads": threads_of(pid),
            "pg": pg_connections(),
            "subscribers": redis_subscribers(channel_name(invoice.pk)),
            "posted": time.monotonic(),
        }
        comment_post(invoice=invoice, name="Bench", email="bench@example.com", body="fan-out")
        connection.close()
        return counts

    try:
        result = asyncio.run(measure(port, token, viewers, last, while_open))
    finally:
        process.terminate()
        process.wait(timeout=20)
    return result | {"viewers": viewers, "idle_threads": idle_threads}


def report(name: str, r: dict[str, Any]) -> None:
    print(
        f"{name:<34} viewers {r['viewers']:>4} (200 OK: {r['ok']}), threads {r['idle_threads']}"
        f" -> {r['open_threads']}, PostgreSQL connections {r['pg']}, Redis subscribers "
        f"{r['subscribers']}; received {r['received']}, median {r['median_ms']:.0f} ms, "
        f"max {r['max_ms']:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--plain-viewers", type=int, default=30)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    company = factories.make_company(slug=f"bench-stream-{os.getpid()}", name="Bench Streams")
    try:
        invoice = factories.make_invoice(company)
        token = factories.share_token(invoice)
        connection.close()  # the server processes must not wait behind this one's transaction
        ours = run(
            "portal_project.asgi:application",
            factory=False,
            viewers=args.viewers,
            invoice=invoice,
            token=token,
        )
        plain = run(
            "django.core.asgi:get_asgi_application",
            factory=True,
            viewers=args.plain_viewers,
            invoice=invoice,
            token=token,
        )
    finally:
        Invoice.objects.filter(company=company).delete()
        Company.objects.filter(pk=company.pk).delete()

    report("our entry point", ours)
    report("Django's stock ASGI handler", plain)
    grown_threads = ours["open_threads"] - ours["idle_threads"]
    ok = ours["received"] == ours["viewers"] and ours["open_threads"] <= 10 and ours["pg"] <= 3
    print(
        f"our entry point: +{grown_threads} threads and {ours['pg']} PostgreSQL connection(s) for "
        f"{ours['viewers']} viewers (stock handler: +{plain['open_threads'] - plain['idle_threads']}"
        f" threads, {plain['pg']} connections for {plain['viewers']}) "
        f"{'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
