"""Platform vs tenant: the plan, the slug, adding and deleting companies are the platform
operator's (a superuser's); a company owner manages its own settings and staff, and a posted
plan or slug from an owner changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import Company, Membership
from tests import factories

pytestmark = pytest.mark.django_db


def _settings_post(client: Any, company: Company, **changes: Any) -> Any:
    url = reverse("admin:invoices_company_change", args=[company.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "logo"}
    return client.post(url, data | changes)


def test_it_ignores_a_plan_or_slug_posted_by_an_owner(
    client: Any, owner: Any, other_tenant: Company
) -> None:
    Membership.objects.create(user=owner, company=other_tenant, role="owner")
    client.force_login(owner)
    response = _settings_post(client, other_tenant, plan="pro", slug="taken-over", name="New")
    assert response.status_code == 302
    other_tenant.refresh_from_db()
    assert (other_tenant.plan, other_tenant.slug, other_tenant.name) == ("free", "other", "New")


def test_it_keeps_adding_companies_to_superusers(client: Any, owner: Any) -> None:
    client.force_login(owner)
    assert client.get(reverse("admin:invoices_company_add")).status_code == 403


def test_it_lets_a_superuser_change_the_plan_and_delete_a_company(
    client: Any, other_tenant: Company
) -> None:
    root = factories.make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    assert _settings_post(client, other_tenant, plan="pro").status_code == 302
    other_tenant.refresh_from_db()
    assert other_tenant.plan == "pro"
    url = reverse("admin:invoices_company_delete", args=[other_tenant.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Company.objects.filter(pk=other_tenant.pk).exists()


def test_it_lets_an_owner_manage_their_own_staff_only(
    client: Any, owner: Any, staff: Any, tenant: Company, other_tenant: Company
) -> None:
    foreign = factories.make_staff(other_tenant, "viewer", username="foreign")
    client.force_login(owner)
    mine = Membership.objects.get(user=staff, company=tenant)
    url = reverse("admin:invoices_membership_change", args=[mine.pk])
    assert client.post(url, {"role": "viewer"}).status_code == 302
    assert Membership.objects.get(pk=mine.pk).role == "viewer"
    theirs = Membership.objects.get(user=foreign)
    url = reverse("admin:invoices_membership_change", args=[theirs.pk])
    assert client.post(url, {"role": "owner"}).status_code == 404
    assert Membership.objects.get(pk=theirs.pk).role == "viewer"
