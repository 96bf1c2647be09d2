"""Through the admin's own pages: the attacks that worked before roles were per company, and
staff attached by email invitation."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from invoices.models import ApiKey, AuditEvent, Company, CreditNote, Membership, StaffInvitation
from invoices.models.company import Role
from invoices.services import api_key_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(tenant: Company, other_tenant: Company) -> Any:
    """Read-only in ``tenant``, owner of ``other_tenant``."""
    user = factories.make_staff(tenant, Role.VIEWER, username="mixed")
    Membership.objects.create(user=user, company=other_tenant, role=Role.OWNER)
    return user


def test_it_refuses_making_anyone_owner_of_a_company_read_only_to_them(
    client: Any, mixed: Any, tenant: Company
) -> None:
    client.force_login(mixed)
    response = client.post(
        reverse("admin:invoices_membership_add"),
        {"company": tenant.pk, "email": "mixed@example.com", "role": Role.OWNER},
    )
    assert response.status_code == 200  # the form again: A is not a choice
    assert not Membership.objects.filter(company=tenant, role=Role.OWNER).exists()


def test_it_refuses_minting_a_key_or_a_credit_note_in_a_read_only_company(
    client: Any, mixed: Any, tenant: Company, customer: Any
) -> None:
    client.force_login(mixed)
    client.post(reverse("admin:invoices_apikey_add"), {"company": tenant.pk, "name": "x"})
    client.post(
        reverse("admin:invoices_creditnote_add"),
        {
            "company": tenant.pk,
            "customer": customer.pk,
            "number": "CN-9",
            "status": "issued",
            "currency": "usd",
            "amount": 999999,
            "amount_applied": 0,
        },
    )
    assert not ApiKey.objects.filter(company=tenant).exists()
    assert not CreditNote.objects.filter(company=tenant).exists()


def test_it_refuses_a_customer_of_another_company_on_a_credit_note(
    client: Any, owner: Any, tenant: Company, other_tenant: Company
) -> None:
    Membership.objects.create(user=owner, company=other_tenant, role=Role.VIEWER)
    theirs = factories.make_customer(other_tenant)
    client.force_login(owner)
    client.post(
        reverse("admin:invoices_creditnote_add"),
        {
            "company": tenant.pk,
            "customer": theirs.pk,
            "number": "CN-9",
            "status": "issued",
            "currency": "usd",
            "amount": 100,
            "amount_applied": 0,
        },
    )
    assert not CreditNote.objects.exists()


def test_it_lets_a_manager_of_money_issue_a_credit_note_with_an_audit_row(
    client: Any, staff: Any, tenant: Company, customer: Any
) -> None:
    client.force_login(staff)
    client.post(
        reverse("admin:invoices_creditnote_add"),
        {
            "company": tenant.pk,
            "customer": customer.pk,
            "currency": "usd",
            "amount_text": "1.00",
            "applications-TOTAL_FORMS": "0",
            "applications-INITIAL_FORMS": "0",
        },
    )
    note = CreditNote.objects.get(company=tenant)
    assert note.amount == 100
    assert AuditEvent.objects.filter(
        company=tenant, action="credit_note.issued", object_id=note.public_id
    ).exists()


def test_it_keeps_viewers_from_revoking_keys(client: Any, viewer: Any, tenant: Company) -> None:
    key, _raw = api_key_create(company=tenant)
    client.force_login(viewer)
    client.post(
        reverse("admin:invoices_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is None


def test_it_keeps_plan_slug_and_deletion_to_superusers(
    client: Any, owner: Any, staff: Any, tenant: Company
) -> None:
    for user in (owner, staff):
        client.force_login(user)
        url = reverse("admin:invoices_company_change", args=[tenant.pk])
        page = client.get(url).content.decode()
        assert 'name="plan"' not in page and 'name="slug"' not in page
        assert (
            client.post(reverse("admin:invoices_company_delete", args=[tenant.pk])).status_code
            == 403
        )
    tenant.refresh_from_db()
    assert tenant.plan == "pro"


def test_it_lets_only_owners_change_company_settings_with_an_audit_row(
    client: Any, owner: Any, staff: Any, tenant: Company
) -> None:
    client.force_login(staff)
    url = reverse("admin:invoices_company_change", args=[tenant.pk])
    assert 'name="name"' not in client.get(url).content.decode()
    client.force_login(owner)
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "logo"}
    data.update(name="Renamed Ltd")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant.refresh_from_db()
    assert tenant.name == "Renamed Ltd"
    event = AuditEvent.objects.get(company=tenant, action="company.settings_changed")
    assert "name" in event.data["fields"]


def test_it_attaches_people_by_email_never_from_a_list_of_users(
    client: Any, owner: Any, tenant: Company, other_tenant: Any
) -> None:
    someone = factories.make_user("someone")
    someone.email = "someone@example.com"
    someone.save(update_fields=["email"])
    client.force_login(owner)
    page = client.get(reverse("admin:invoices_membership_add")).content.decode()
    assert 'name="user"' not in page and "someone" not in page
    client.post(
        reverse("admin:invoices_membership_add"),
        {"company": tenant.pk, "email": "Someone@Example.com", "role": Role.MANAGER},
    )
    assert Membership.objects.get(user=someone, company=tenant).role == Role.MANAGER
    assert AuditEvent.objects.filter(company=tenant, action="membership.added").exists()


def test_it_invites_a_new_address_and_the_link_creates_the_account_once(
    client: Any, owner: Any, tenant: Company, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:invoices_membership_add"),
            {"company": tenant.pk, "email": "new@example.com", "role": Role.VIEWER},
        )
    invitation = StaffInvitation.objects.get(company=tenant)
    assert AuditEvent.objects.filter(company=tenant, action="membership.invited").exists()
    link = next(line for line in mail.outbox[0].body.splitlines() if "/staff/invitation/" in line)
    path = link[link.index("/staff/invitation/") :]
    client.logout()
    assert client.get(path).status_code == 200
    response = client.post(path, {"username": "newbie", "password": "a-long-pass-phrase-42"})
    assert response.status_code == 303
    membership = Membership.objects.get(company=tenant, user__username="newbie")
    assert membership.role == Role.VIEWER and membership.user.is_staff
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert (
        client.post(path, {"username": "again", "password": "a-long-pass-phrase-42"}).status_code
        == 404
    )
    assert AuditEvent.objects.filter(company=tenant, action="membership.accepted").exists()


def test_it_audits_role_changes_and_removals(
    client: Any, owner: Any, viewer: Any, tenant: Company
) -> None:
    membership = Membership.objects.get(user=viewer)
    client.force_login(owner)
    client.post(
        reverse("admin:invoices_membership_change", args=[membership.pk]), {"role": Role.MANAGER}
    )
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER
    client.post(reverse("admin:invoices_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    actions = set(AuditEvent.objects.filter(company=tenant).values_list("action", flat=True))
    assert {"membership.role_changed", "membership.removed"} <= actions
