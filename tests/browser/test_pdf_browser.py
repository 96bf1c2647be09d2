"""The invoice page's "PDF preview" in headless Chromium: the page frames the PDF (served
inline, frameable by our own pages only) and the browser does not block it."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.browser.conftest import DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_the_pdf_inline_in_the_page_preview(
    live_server: Any, page: Any, screenshot: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    company = factories.make_company(slug="pdf-browser", name="Preview GmbH", plan="pro")
    invoice = factories.make_invoice(company, lines=[("Design", "1", 10000, "0")])
    url = f"{live_server.url}/invoice/{factories.share_token(invoice)}"
    page.set_viewport_size(DESKTOP)
    assert page.goto(url).status == 200
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if "frame" in msg.text else None)

    with page.expect_response(lambda r: "/pdf?inline=1" in r.url) as pdf_response:
        page.get_by_role("link", name="PDF preview").click()
    response = pdf_response.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert int(response.headers["content-length"]) > 1000

    frame = page.locator(".pdf-frame").element_handle().content_frame()
    frame.wait_for_load_state()
    # A refused frame lands on chrome-error://; ours stays on the PDF's URL.
    assert frame.url.startswith(live_server.url) and "/pdf?inline=1" in frame.url, frame.url
    assert blocked == []
    page.wait_for_timeout(500)  # let the viewer paint, for the screenshot
    screenshot(page, "pdf-preview")
