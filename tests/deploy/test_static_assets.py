"""The production shape serves its own assets: collectstatic into a fresh folder, a server
started with DEBUG=0 (no Django static serving, no proxy), a customer page loaded, and every
stylesheet, script and icon it references answers 200, with hashed names, a year's immutable
cache and a gzip copy for browsers that take one; the page itself is gzipped too."""

from __future__ import annotations

import gzip
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests import factories

ROOT = Path(__file__).resolve().parents[2]
PORT = 8961

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or ""
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def _get(url: str, **headers: str) -> Any:
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=10)


def test_it_serves_every_asset_of_a_customer_page_with_debug_off(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the server process needs the test database on PostgreSQL")
    invoice = factories.make_invoice(factories.make_company(slug="static-co"), lines=1)
    token = factories.share_token(invoice)
    env = {
        **os.environ,
        "DEBUG": "0",
        "DATABASE_URL": _database_url(),
        "STATIC_ROOT": str(tmp_path / "static"),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert (tmp_path / "static" / "staticfiles.json").exists()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(PORT, server)
        base = f"http://127.0.0.1:{PORT}"
        plain = _get(f"{base}/invoice/{token}")
        assert plain.headers.get("Content-Encoding") is None
        page = plain.read().decode()
        packed = _get(f"{base}/invoice/{token}", **{"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert invoice.number in gzip.decompress(packed.read()).decode()

        assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js|svg))"', page)
        assert any(a.endswith(".svg") for a in assets), "the page names no icon"
        assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
        for asset in assets:
            # Hashed names (cache-busting), served by the app with a year's cache.
            assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", asset), asset
            identity = _get(f"{base}{asset}")
            assert identity.status == 200, asset
            assert identity.headers.get("Content-Encoding") is None, asset
            response = _get(f"{base}{asset}", **{"Accept-Encoding": "gzip"})
            assert response.status == 200, asset
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.headers.get("Content-Encoding") == "gzip", asset
            assert "Accept-Encoding" in response.headers.get("Vary", ""), asset
            assert gzip.decompress(response.read()) == identity.read(), asset
        # Browsers ask for /favicon.ico whatever the page names.
        icon = _get(f"{base}/favicon.ico")
        assert icon.status == 200
        assert icon.headers["Content-Type"] == "image/x-icon"
    finally:
        server.terminate()
        server.wait(timeout=10)
