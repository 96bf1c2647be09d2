"""Staff sign-in to the admin: limited per IP and per account, lock-out and unlock audited,
and the owners' second factor (TOTP) when their company asks for it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from invoices import sign_in
from invoices.models import AuditEvent, Company, Membership, StaffSignInSettings
from tests.factories import make_staff, make_user

PASSWORD = "pw-for-tests-only"
LOGIN = "/admin/login/"

pytestmark = pytest.mark.django_db


def _post(client: Client, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def _device(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def _require_otp(company: Company) -> None:
    sign_in.sign_in_settings_save(
        settings_row=StaffSignInSettings(company=company, owners_require_otp=True),
        changed=["owners_require_otp"],
    )


def test_it_signs_staff_in_with_a_password(client: Client, tenant: Company) -> None:
    user = make_staff(tenant)
    response = _post(client, user.username)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_it_locks_an_account_out_after_five_failures_and_audits_it(
    client: Client, tenant: Company
) -> None:
    user = make_staff(tenant)
    for _ in range(5):
        assert _post(client, user.username, "wrong").status_code == 200
    # Locked: even the right password is refused, without being checked.
    response = _post(client, user.username)
    assert response.status_code == 429
    assert b"locked" in response.content
    assert not client.session.get("_auth_user_id")
    locked = AuditEvent.objects.get(action="staff.locked_out")
    assert (locked.company, locked.object_id) == (tenant, user.username)
    # Another account from elsewhere is not affected.
    other = make_staff(tenant)
    assert _post(Client(REMOTE_ADDR="10.0.0.9"), other.username).status_code == 302


def test_an_owner_unlocks_a_member_in_the_admin_and_it_is_audited(
    client: Client, tenant: Company, owner: Any
) -> None:
    user = make_staff(tenant)
    for _ in range(5):
        _post(client, user.username, "wrong")
    assert sign_in.account_locked(user.username)
    admin = Client()
    admin.force_login(owner)
    membership = Membership.objects.get(user=user)
    admin.post(
        "/admin/invoices/membership/",
        {"action": "unlock_sign_in", "_selected_action": [membership.pk]},
    )
    assert not sign_in.account_locked(user.username)
    unlocked = AuditEvent.objects.get(action="staff.unlocked")
    assert (unlocked.company, unlocked.actor, unlocked.data["was_locked"]) == (tenant, owner, True)
    # The failures before the unlock no longer count.
    assert _post(client, user.username, "wrong").status_code == 200
    assert _post(client, user.username).status_code == 302


def test_a_manager_cannot_unlock(client: Client, tenant: Company, staff: Any) -> None:
    user = make_staff(tenant)
    for _ in range(5):
        _post(Client(), user.username, "wrong")
    client.force_login(staff)
    client.post(
        "/admin/invoices/membership/",
        {"action": "unlock_sign_in", "_selected_action": [Membership.objects.get(user=user).pk]},
    )
    assert sign_in.account_locked(user.username)
    assert not AuditEvent.objects.filter(action="staff.unlocked").exists()


def test_it_limits_sign_in_posts_per_ip(client: Client, tenant: Company) -> None:
    # Spread over many accounts, so no single one is locked: the IP limit answers.
    answers = [_post(client, f"nobody-{i}", "wrong").status_code for i in range(31)]
    assert answers[:30] == [200] * 30
    assert answers[30] == 429
    # Another IP still signs in.
    user = make_staff(tenant)
    assert _post(Client(REMOTE_ADDR="10.0.0.7"), user.username).status_code == 302


def test_an_owner_signs_in_without_a_code_when_the_company_does_not_ask(
    client: Client, tenant: Company, owner: Any
) -> None:
    assert _post(client, owner.username).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_owner_needs_a_code_when_the_company_asks(
    client: Client, tenant: Company, owner: Any
) -> None:
    _require_otp(tenant)
    device = _device(owner)
    response = _post(client, owner.username)
    assert response.status_code == 200  # the code is asked for
    assert not client.session.get("_auth_user_id")
    response = _post(
        client, owner.username, otp_device=device.persistent_id, otp_token=_code(device)
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_is_refused(client: Client, tenant: Company, owner: Any) -> None:
    _require_otp(tenant)
    device = _device(owner)
    response = _post(client, owner.username, otp_device=device.persistent_id, otp_token="000000")
    assert response.status_code == 200
    assert not client.session.get("_auth_user_id")


def test_an_owner_without_an_authenticator_is_sent_to_set_one_up_when_the_company_asks(
    client: Client, tenant: Company, owner: Any
) -> None:
    _require_otp(tenant)
    response = _post(client, owner.username)
    assert response.status_code == 302
    assert response["Location"] == "/admin/authenticator/"
    # Nothing else of the admin until it is set up (tests/backoffice/test_authenticator_enrolment.py).
    assert client.get("/admin/")["Location"] == "/admin/authenticator/"


def test_a_session_without_a_code_is_refused_once_the_company_asks(
    client: Client, tenant: Company, owner: Any
) -> None:
    _device(owner)
    client.force_login(owner)
    assert client.get("/admin/").status_code == 200
    _require_otp(tenant)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_session_of_an_owner_without_an_authenticator_is_sent_to_set_one_up(
    client: Client, tenant: Company, owner: Any
) -> None:
    client.force_login(owner)
    _require_otp(tenant)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/admin/authenticator/"


def test_managers_need_no_code_when_the_company_asks_it_of_owners(
    client: Client, tenant: Company, staff: Any
) -> None:
    _require_otp(tenant)
    assert _post(client, staff.username).status_code == 302


def test_a_member_with_an_authenticator_is_asked_for_it(client: Client, tenant: Company) -> None:
    user = make_staff(tenant)
    device = _device(user)
    assert _post(client, user.username).status_code == 200
    assert (
        _post(
            client, user.username, otp_device=device.persistent_id, otp_token=_code(device)
        ).status_code
        == 302
    )


def test_only_owners_change_the_sign_in_settings(
    client: Client, tenant: Company, staff: Any, owner: Any
) -> None:
    settings_row = StaffSignInSettings.objects.create(company=tenant)
    url = f"/admin/invoices/staffsigninsettings/{settings_row.pk}/change/"
    client.force_login(staff)
    client.post(url, {"owners_require_otp": "on"})
    settings_row.refresh_from_db()
    assert not settings_row.owners_require_otp
    client.force_login(owner)
    assert client.post(url, {"owners_require_otp": "on"}).status_code == 302
    settings_row.refresh_from_db()
    assert settings_row.owners_require_otp
    assert AuditEvent.objects.filter(
        company=tenant, action="staff.sign_in_settings_changed", actor=owner
    ).exists()


def test_a_superuser_without_memberships_is_still_limited(client: Client) -> None:
    root = make_user("root", is_superuser=True)
    for _ in range(5):
        _post(client, root.username, "wrong")
    assert _post(client, root.username).status_code == 429
