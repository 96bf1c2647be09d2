"""Authenticator setup in headless Chromium: an owner whose company requires an authenticator
signs in with the password, lands on the setup page (QR code, key, code field), types the code
the app would show and reaches the admin; no CSP violation, no serious axe-core finding, and
the page fits 360 px."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from invoices import sign_in
from invoices.models import Company, StaffSignInSettings
from tests.browser.test_pages_browser import AXE, _no_horizontal_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/authenticator/")


def test_an_owner_sets_up_the_required_authenticator_at_sign_in(
    browser: Any,
    live_server: Any,
    tenant: Company,
    owner: Any,
    screenshot: Callable[..., Path],
) -> None:
    sign_in.sign_in_settings_save(
        settings_row=StaffSignInSettings(company=tenant, owners_require_otp=True),
        changed=["owners_require_otp"],
    )
    # axe-core is injected as a script, which the CSP refuses: this context bypasses CSP.
    audit = browser.new_context(viewport=PHONE, bypass_csp=True, locale="en-US")
    try:
        page = audit.new_page()
        _sign_in(page, live_server.url, owner.username)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == []
    finally:
        audit.close()

    context = browser.new_context(viewport=PHONE, locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        csp_errors: list[str] = []
        page.on(
            "console",
            lambda msg: (
                csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        _sign_in(page, live_server.url, owner.username)
        assert page.locator("svg").count() >= 1
        assert "requires an authenticator app" in page.inner_text("#content-main")
        _no_horizontal_scroll(page)
        screenshot(page, "setup")
        # Anything else of the admin leads back here.
        page.goto(f"{live_server.url}/admin/invoices/invoice/")
        assert page.url == f"{live_server.url}/admin/authenticator/"
        device = TOTPDevice.objects.get(user=owner, confirmed=False)
        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        page.fill("#id_confirm-code", f"{code:06d}")
        page.click("input[type=submit].default")
        page.wait_for_url(f"{live_server.url}/admin/")
        assert "Your authenticator app is set up." in page.inner_text("body")
        assert csp_errors == []
    finally:
        context.close()
    assert TOTPDevice.objects.get(user=owner).confirmed
