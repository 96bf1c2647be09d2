"""The invoice page's "Share" button in headless Chromium: where the browser cannot share
files (no Web Share API with files here), it downloads the invoice PDF instead."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.browser.conftest import DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_share_falls_back_to_downloading_the_pdf(
    live_server: Any, page: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    company = factories.make_company(slug="share-browser", name="Share GmbH", plan="pro")
    invoice = factories.make_invoice(company, lines=[("Design", "1", 10000, "0")])
    page.set_viewport_size(DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # Whatever this Chromium supports, make file sharing unavailable: the fallback path.
    page.add_init_script("navigator.canShare = function () { return false; };")
    url = f"{live_server.url}/invoice/{factories.share_token(invoice)}"
    assert page.goto(url).status == 200

    share = page.get_by_role("button", name="Share")
    assert share.is_visible()
    with page.expect_download() as download_info:
        share.click()
    download = download_info.value
    assert download.suggested_filename == f"invoice-{invoice.number}.pdf"
    path = download.path()
    with open(path, "rb") as file:
        assert file.read(4) == b"%PDF"
    assert errors == []


def test_share_hands_the_pdf_to_the_share_sheet_where_files_can_be_shared(
    live_server: Any, page: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    company = factories.make_company(slug="share-sheet", name="Share GmbH", plan="pro")
    invoice = factories.make_invoice(company, lines=[("Design", "1", 10000, "0")])
    # A stand-in share sheet that records what it was given.
    page.add_init_script(
        """
        navigator.canShare = function (data) { return !!(data && data.files && data.files.length); };
        navigator.share = function (data) {
          window.__shared = { name: data.files[0].name, type: data.files[0].type,
                              size: data.files[0].size, title: data.title };
          return Promise.resolve();
        };
        """
    )
    assert page.goto(f"{live_server.url}/invoice/{factories.share_token(invoice)}").status == 200
    page.get_by_role("button", name="Share").click()
    shared = None
    for _ in range(100):  # polled from here: wait_for_function evaluates, which our CSP forbids
        shared = page.evaluate("() => window.__shared")
        if shared:
            break
        page.wait_for_timeout(100)
    assert shared, "nothing reached the share sheet"
    assert shared["name"] == f"invoice-{invoice.number}.pdf"
    assert shared["type"] == "application/pdf" and shared["size"] > 1000
    assert invoice.number in shared["title"]
