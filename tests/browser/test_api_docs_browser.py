"""Developers' first step: /api/v1/docs lists the API's operations in a real browser under our
Content-Security-Policy (Swagger UI served from our own static files, no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_lists_the_operations_on_the_docs_page(
    page: Any, live_server: Any, screenshot: Callable[..., Path]
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((live_server.url, "data:"))
            else None
        ),
    )
    response = page.goto(f"{live_server.url}/api/v1/docs")
    assert response is not None and response.status == 200
    operations = page.locator(".opblock")
    operations.first.wait_for()
    assert operations.count() >= 10
    assert page.get_by_text("/api/v1/invoices/{invoice_id}/finalize").count() >= 1
    screenshot(page, "desktop")
    assert outside == []  # nothing from a CDN
    assert [v for v in violations if "script" in v] == []
