"""Roles by every registered admin by add/change/delete/actions, generated from the admin
registry: an admin added tomorrow is in the matrix at once, and fails it until it has a factory
here and follows the rules (TenantScopedAdmin, actions declared with ``tenant_action``).

The main case is the "mixed" user: read-only (or manager) in company A, owner of company B.
Whatever B lets them do, nothing may be written into A beyond what their role in A allows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.forms import ModelChoiceField, model_to_dict
from django.test import RequestFactory
from django.utils import timezone

from invoices.admin_scoping import TenantScopedAdmin, company_id_of
from invoices.customer_sessions.models import CustomerSession
from invoices.models import (
    AuditEvent,
    Company,
    CreditNote,
    Membership,
    StaffInvitation,
    StaffSignInSettings,
)
from invoices.models.company import Role
from invoices.services import api_key_create
from invoices.tenancy import ROLE_CAPABILITIES, Capability
from invoices.webhooks.models import WebhookDelivery, WebhookEndpoint
from invoices.webhooks.models import WebhookEvent as OutgoingEvent
from payments.models import Payment, StripeConnection, WebhookEvent
from portal.comments.models import CustomerTotpDevice
from portal.documents.models import Document
from portal.embed.models import EmbedSettings
from preferences.models import EmailPreference, ReminderSent, SentEmail
from tests import factories
from tracking.models import ViewRecord

pytestmark = pytest.mark.django_db

# Admins of accounts (users, groups, staff authenticator devices): superusers only, through
# Django's own model permissions, which no staff member of a company holds.
GLOBAL_ADMINS = {"auth.user", "auth.group", "otp_totp.totpdevice"}

# role in A, role in B (None: no membership)
ROLES: dict[str, tuple[str | None, str | None]] = {
    "owner": (Role.OWNER, None),
    "manager": (Role.MANAGER, None),
    "viewer": (Role.VIEWER, None),
    "mixed_viewer": (Role.VIEWER, Role.OWNER),
    "mixed_manager": (Role.MANAGER, Role.OWNER),
    "outsider": (None, Role.OWNER),
}


def _invoice(company: Company) -> Any:
    return factories.make_invoice(company, factories.make_customer(company), lines=1)


def _payment(company: Company) -> Payment:
    invoice = _invoice(company)
    return Payment.objects.create(
        company=company,
        invoice=invoice,
        amount=500,
        currency="usd",
        provider_payment_intent_id=f"pi_{company.slug}",
        method="checkout",
        source="webhook",
    )


def _endpoint(company: Company) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        company=company, url="https://hooks.example.com/in", events=["invoice.paid"]
    )


def _delivery(company: Company) -> WebhookDelivery:
    event = OutgoingEvent.objects.create(
        company=company,
        type="invoice.paid",
        object_id="inv_x",
        payload="{}",
        created_at=timezone.now(),
    )
    return WebhookDelivery.objects.create(event=event, endpoint=_endpoint(company))


def _connection(company: Company) -> StripeConnection:
    return StripeConnection.objects.create(
        company=company, secret_key_encrypted="x", webhook_secret_encrypted="x"
    )


FACTORIES: dict[str, Callable[[Company], Model]] = {
    "invoices.company": lambda company: company,
    "invoices.membership": lambda company: Membership.objects.create(
        user=factories.make_user(), company=company, role=Role.VIEWER
    ),
    "invoices.staffinvitation": lambda company: StaffInvitation.objects.create(
        company=company, email="new@example.com", token_hash=f"h{company.pk}"
    ),
    "invoices.customer": lambda company: factories.make_customer(company),
    "invoices.invoice": _invoice,
    "invoices.creditnote": lambda company: CreditNote.objects.create(
        company=company,
        customer=factories.make_customer(company),
        number="CN-1",
        currency="usd",
        amount=500,
    ),
    "invoices.apikey": lambda company: api_key_create(company=company)[0],
    "invoices.staffsigninsettings": lambda company: StaffSignInSettings.objects.create(
        company=company
    ),
    "customer_sessions.customersession": lambda company: CustomerSession.objects.create(
        company=company,
        customer=factories.make_customer(company),
        selector=f"{company.pk:032x}",
        opened_by="email_link",
        expires_at=timezone.now() + dt.timedelta(days=1),
    ),
    "embed.embedsettings": lambda company: EmbedSettings.objects.create(company=company),
    # A stored name only: the role matrix writes no file.
    "documents.document": lambda company: Document.objects.create(
        company=company,
        title="Price list",
        file="documents/price-list.pdf",
        filename="Price list.pdf",
        content_type="application/pdf",
        size=1024,
        audience="all_customers",
    ),
    "comments.customertotpdevice": lambda company: CustomerTotpDevice.objects.create(
        company=company, customer=factories.make_customer(company)
    ),
    "payments.stripeconnection": _connection,
    "webhooks.webhookendpoint": _endpoint,
    "webhooks.webhookdelivery": _delivery,
    "payments.payment": _payment,
    "payments.webhookevent": lambda company: WebhookEvent.objects.create(
        connection=_connection(company), event_id=f"evt_{company.pk}", type="x", payload={}
    ),
    "tracking.viewrecord": lambda company: ViewRecord.objects.create(
        company=company, invoice=_invoice(company), viewed_at=timezone.now(), counted=True
    ),
    "preferences.emailpreference": lambda company: EmailPreference.objects.create(
        company=company, email="ada@example.com", selector=f"sel{company.pk}"
    ),
    "preferences.sentemail": lambda company: SentEmail.objects.create(
        company=company, to_email="ada@example.com", kind="invoice", category="documents"
    ),
    "preferences.remindersent": lambda company: ReminderSent.objects.create(
        invoice=_invoice(company), step="due_soon"
    ),
}

REGISTRY = sorted(
    (model._meta.label_lower, model_admin) for model, model_admin in admin.site._registry.items()
)
# Admins of a person's own settings (in every company they belong to): each user sees and
# changes only their own rows, whatever their roles; checked below, not by the role matrix.
PERSONAL_ADMINS = {"preferences.staffnotificationsettings"}
TENANT_ADMINS = [
    (label, ma) for label, ma in REGISTRY if label not in GLOBAL_ADMINS | PERSONAL_ADMINS
]


def _caps(role: str | None) -> frozenset[Capability]:
    return ROLE_CAPABILITIES[role] if role else frozenset()


def _request(user: Any) -> Any:
    request = RequestFactory().post("/admin/")
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    a = factories.make_company(slug="a", name="A")
    b = factories.make_company(slug="b", name="B")
    users = {}
    for name, (role_a, role_b) in ROLES.items():
        user = factories.make_user(name)
        for company, role in ((a, role_a), (b, role_b)):
            if role:
                Membership.objects.create(user=user, company=company, role=role)
        users[name] = user
    return {"a": a, "b": b, "users": users}


def test_every_registered_admin_is_in_the_matrix() -> None:
    for label, model_admin in TENANT_ADMINS:
        assert isinstance(model_admin, TenantScopedAdmin), f"{label}: not tenant-scoped"
        assert label in FACTORIES, f"{label}: add a factory to the role matrix"


@pytest.mark.parametrize("label", sorted(GLOBAL_ADMINS))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_it_keeps_account_admins_to_superusers(
    world: dict[str, Any], label: str, role: str
) -> None:
    model_admin = next(ma for lbl, ma in REGISTRY if lbl == label)
    request = _request(world["users"][role])
    assert not model_admin.has_module_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.mark.parametrize("label,model_admin", TENANT_ADMINS, ids=[lbl for lbl, _ in TENANT_ADMINS])
@pytest.mark.parametrize("role", sorted(ROLES))
def test_roles_hold_in_every_admin(
    world: dict[str, Any], label: str, model_admin: Any, role: str
) -> None:
    a: Company = world["a"]
    user = world["users"][role]
    caps_a = _caps(ROLES[role][0])
    obj = FACTORIES[label](a)
    obj.refresh_from_db()  # as stored: services may have set fields on another instance
    assert company_id_of(obj, model_admin.company_field) == a.pk
    write = model_admin.write_capability
    delete = model_admin.delete_capability or write
    request = _request(user)

    # Read: exactly the members of A.
    assert model_admin.has_view_permission(request, obj) == (Capability.READ in caps_a)
    assert model_admin.get_queryset(request).filter(pk=obj.pk).exists() == (
        Capability.READ in caps_a
    )
    # Change and delete of A's object: never beyond the role in A.
    if model_admin.has_change_permission(request, obj):
        assert write in caps_a
    if model_admin.has_delete_permission(request, obj):
        assert delete in caps_a

    snapshot = model_to_dict(obj)
    audit_before = AuditEvent.objects.filter(company=a).count()

    # Add: whatever the form offers belongs to companies where the role may write.
    if model_admin.has_add_permission(request):
        form = model_admin.get_form(request, None)()
        for name, field in form.fields.items():
            if not isinstance(field, ModelChoiceField):
                continue
            for choice in field.queryset:
                lookup = "pk" if choice._meta.label_lower == "invoices.company" else None
                if lookup is None and not any(f.name == "company" for f in choice._meta.fields):
                    continue
                company_id = company_id_of(choice, lookup or "company")
                assert company_id != a.pk or write in caps_a, f"{label}.{name} offers A"

    # Saving into A (as a new object or a change) re-checks the company of what it writes.
    if write not in caps_a:
        form = SimpleNamespace(cleaned_data=model_to_dict(obj), changed_data=["name"])
        for change in (True, False):
            if change and not model_admin.has_change_permission(request):
                continue
            if not change and not model_admin.has_add_permission(request):
                continue
            with pytest.raises(PermissionDenied):
                model_admin.save_model(request, obj, form, change)
    if delete not in caps_a:
        model_admin.delete_queryset(request, type(obj)._default_manager.filter(pk=obj.pk))
        assert type(obj)._default_manager.filter(pk=obj.pk).exists()

    # Actions: every one is declared with its capability and skips rows that lack it.
    for name, (func, _name, _description) in model_admin.get_actions(request).items():
        if name == "delete_selected":
            continue
        capability = getattr(func, "capability", None)
        assert capability is not None, f"{label}.{name}: declare it with tenant_action"
        if capability in caps_a:
            continue
        func(model_admin, request, type(obj)._default_manager.filter(pk=obj.pk))

    if type(obj)._default_manager.filter(pk=obj.pk).exists():
        obj.refresh_from_db()
        assert model_to_dict(obj) == snapshot
    if not (write in caps_a or delete in caps_a):
        assert AuditEvent.objects.filter(company=a).count() == audit_before
        assert not SentEmail.objects.filter(
            company=a, kind="invoice", to_email__contains="customer"
        ).exists()


def test_roles_split_capabilities() -> None:
    assert Capability.MANAGE_STAFF in ROLE_CAPABILITIES[Role.OWNER]
    assert Capability.MANAGE_STAFF not in ROLE_CAPABILITIES[Role.MANAGER]
    assert Capability.MANAGE_MONEY in ROLE_CAPABILITIES[Role.MANAGER]
    assert ROLE_CAPABILITIES[Role.VIEWER] == {Capability.READ}
    assert all(Capability.ADMINISTER not in caps for caps in ROLE_CAPABILITIES.values())


@pytest.mark.parametrize("label", sorted(PERSONAL_ADMINS))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_personal_admins_show_each_user_only_their_own(
    world: dict[str, Any], label: str, role: str
) -> None:
    model_admin = next(ma for lbl, ma in REGISTRY if lbl == label)
    model = model_admin.model
    user = world["users"][role]
    # Someone else's row in company A, and the user's own rows in each of their companies.
    colleague = Membership.objects.create(
        user=factories.make_user(f"colleague-{role}"), company=world["a"], role=Role.OWNER
    )
    theirs = model.objects.create(membership=colleague)
    own = [model.objects.create(membership=m) for m in Membership.objects.filter(user=user)]
    request = _request(user)

    assert set(model_admin.get_queryset(request)) == set(own)
    assert not model_admin.has_view_permission(request, theirs)
    assert not model_admin.has_change_permission(request, theirs)
    assert not model_admin.has_delete_permission(request, theirs)
    with pytest.raises(PermissionDenied):
        model_admin.save_model(request, theirs, None, True)
    for row in own:
        assert model_admin.has_change_permission(request, row)
    form = model_admin.get_form(request, None)()
    assert not form.fields["membership"].queryset.exclude(user=user).exists()
