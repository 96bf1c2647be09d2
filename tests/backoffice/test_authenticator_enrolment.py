"""Staff set up their own authenticator (TOTP) in the admin: a QR code, then a code from the
app before it counts; replacing or removing it takes a code of the current one; owners whose
company requires one are sent to set it up at sign-in (not locked out) and reach nothing else
until they have; every change is audited in the account's companies."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from invoices import sign_in
from invoices.models import AuditEvent, Company, StaffSignInSettings
from tests.factories import make_staff

PASSWORD = "pw-for-tests-only"
LOGIN = "/admin/login/"
PAGE = "/admin/authenticator/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle(settings: Any) -> None:
    # django-otp makes a device wait a second after a wrong code; these tests follow a wrong
    # code with the right one at once.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def _code(device: TOTPDevice, offset: int = 0) -> str:
    # offset: the next time step's code (django-otp refuses a code used once already).
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + offset)
    return f"{value:06d}"


def _pending(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=False)


def _confirm(client: Client, code: str, current_code: str = "") -> Any:
    return client.post(
        PAGE,
        {"action": "confirm", "confirm-code": code, "confirm-current_code": current_code},
    )


def _require_otp(company: Company) -> None:
    sign_in.sign_in_settings_save(
        settings_row=StaffSignInSettings(company=company, owners_require_otp=True),
        changed=["owners_require_otp"],
    )


def test_a_member_sets_up_an_authenticator_with_a_qr_code_and_a_code(
    client: Client, tenant: Company
) -> None:
    user = make_staff(tenant)
    client.force_login(user)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "QR code for your authenticator app" in html
    device = _pending(user)
    # The key to type is the one in the QR code (base32, in groups of four).
    assert re.search(r"<code>([A-Z2-7 ]+)</code>", html)
    # Not active before a code confirms it: signing in does not ask for it yet.
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    wrong = _confirm(client, "000000")
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert _confirm(client, _code(device)).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    event = AuditEvent.objects.get(action="staff.authenticator_enrolled")
    assert (event.company, event.actor, event.object_id) == (tenant, user, user.username)
    # From now on signing in asks for its code.
    fresh = Client()
    assert fresh.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 200
    assert not fresh.session.get("_auth_user_id")


def test_reloading_the_page_keeps_the_same_secret_until_it_is_confirmed(
    client: Client, tenant: Company
) -> None:
    user = make_staff(tenant)
    client.force_login(user)
    first = re.search(r"<code>(.+?)</code>", client.get(PAGE).content.decode())
    second = re.search(r"<code>(.+?)</code>", client.get(PAGE).content.decode())
    assert first and second and first.group(1) == second.group(1)
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_replacing_it_needs_a_code_of_the_current_one(client: Client, tenant: Company) -> None:
    user = make_staff(tenant)
    old = TOTPDevice.objects.create(user=user, name="old phone", confirmed=True)
    client.force_login(user)
    client.get(PAGE)
    new = _pending(user)
    refused = _confirm(client, _code(new), current_code="000000")
    assert refused.status_code == 400
    assert "current authenticator app is not right" in refused.content.decode()
    assert TOTPDevice.objects.get(pk=old.pk).confirmed
    assert _confirm(client, _code(new, 1), current_code=_code(old)).status_code == 302
    assert list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed")) == [
        (new.pk, True)
    ]
    assert AuditEvent.objects.filter(action="staff.authenticator_replaced", actor=user).exists()


def test_removing_it_needs_a_code_of_it(client: Client, tenant: Company) -> None:
    user = make_staff(tenant)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    refused = client.post(PAGE, {"action": "remove", "remove-current_code": "000000"})
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    removed = client.post(PAGE, {"action": "remove", "remove-current_code": _code(device)})
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    event = AuditEvent.objects.get(action="staff.authenticator_removed")
    assert (event.company, event.actor) == (tenant, user)


def test_an_owner_who_must_have_one_cannot_remove_it(
    client: Client, tenant: Company, owner: Any
) -> None:
    device = TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    _require_otp(tenant)
    client.post(
        LOGIN,
        {
            "username": owner.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": _code(device),
        },
    )
    refused = client.post(PAGE, {"action": "remove", "remove-current_code": _code(device, 1)})
    assert refused.status_code == 400
    assert "replace it, not remove it" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()


def test_an_owner_required_to_use_one_is_sent_to_set_it_up_at_sign_in(
    client: Client, tenant: Company, owner: Any
) -> None:
    _require_otp(tenant)
    response = client.post(LOGIN, {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == PAGE
    # Until it is set up, every other admin page sends the session back there.
    for url in ("/admin/", "/admin/invoices/invoice/", "/admin/invoices/membership/"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer["Location"] == PAGE, url
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "requires an authenticator app for owners" in page.content.decode()
    assert _confirm(client, _code(_pending(owner))).status_code == 302
    # Confirmed with a code: this session is verified and reaches the admin.
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="staff.authenticator_enrolled", actor=owner).exists()


def test_a_session_waiting_for_setup_can_sign_out(
    client: Client, tenant: Company, owner: Any
) -> None:
    _require_otp(tenant)
    client.post(LOGIN, {"username": owner.username, "password": PASSWORD})
    assert client.post("/admin/logout/").status_code == 200
    assert not client.session.get("_auth_user_id")


def test_the_page_needs_a_signed_in_staff_account(client: Client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not TOTPDevice.objects.exists()


def test_the_admin_links_the_page(client: Client, tenant: Company) -> None:
    client.force_login(make_staff(tenant))
    assert f'href="{PAGE}"' in client.get("/admin/").content.decode()
