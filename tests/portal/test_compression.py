"""Pages and JSON go out gzipped to browsers that ask for it (Lighthouse's "enable text
compression"); files that are compressed already, and streams, go out as they are."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from invoices.models import Invoice

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def test_it_gzips_the_invoice_page(client: Any, invoice: Invoice, token: str) -> None:
    plain = client.get(f"/invoice/{token}")
    packed = client.get(f"/invoice/{token}", **GZIP)
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    page = gzip.decompress(packed.content).decode()
    assert invoice.number in page
    assert len(packed.content) < len(plain.content) / 2
    assert packed["Cache-Control"] == "no-store"  # still a personal page


def test_it_pads_each_page_differently(client: Any, token: str) -> None:
    # Django's "Heal the BREACH" padding: the size of a page says little about its content.
    sizes = {len(client.get(f"/invoice/{token}", **GZIP).content) for _ in range(8)}
    assert len(sizes) > 1


def test_it_gzips_the_portal_and_the_comment_json(
    client: Any, token: str, portal_token: str
) -> None:
    assert client.get(f"/portal/{portal_token}", **GZIP)["Content-Encoding"] == "gzip"
    # Too short to be worth it: under 200 bytes nothing is compressed.
    comments = client.get(f"/invoice/{token}/comments", **GZIP)
    assert comments.status_code == 200
    assert "Content-Encoding" not in comments


def test_it_leaves_the_pdf_as_it_is(client: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}/pdf", **GZIP)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "Content-Encoding" not in response


def test_it_leaves_the_api_as_it_is(client: Any) -> None:
    # Programs, not browsers: the API's answers are not compressed (core.compression).
    response = client.get("/api/v1/docs", **GZIP)
    assert response.status_code == 200
    assert len(response.content) > 200
    assert "Content-Encoding" not in response
