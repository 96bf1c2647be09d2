"""Staff notifications: a customer's comment, a payment and an invoice's first view reach the
staff who want them (owners and billing managers by default, each member's own settings),
through the one sending pipeline (SentEmail rows), and each member edits only their own
settings in the admin."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest
from django.core import mail

from invoices.models import Company, Invoice, Membership
from invoices.models.company import Role
from payments.models import PaymentMethod
from payments.services import payment_record_offline
from portal.comments.services import comment_post
from preferences.models import EmailKind, SentEmail, SentEmailStatus, StaffNotificationSettings
from tests import factories
from tracking.services import Visit, view_record

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"


@pytest.fixture
def team(tenant: Company) -> dict[str, Any]:
    return {
        "owner": factories.make_staff(tenant, Role.OWNER, username="own"),
        "manager": factories.make_staff(tenant, Role.MANAGER, username="mgr"),
        "viewer": factories.make_staff(tenant, Role.VIEWER, username="ro"),
    }


def _staff_emails(kind: str) -> list[str]:
    return sorted(
        SentEmail.objects.filter(kind=kind, status=SentEmailStatus.SENT).values_list(
            "to_email", flat=True
        )
    )


def test_it_tells_owners_and_managers_of_a_payment_but_not_who_recorded_it(
    team: dict[str, Any], invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        payment_record_offline(
            invoice=invoice, amount=1000, method=PaymentMethod.CASH, actor=team["manager"]
        )
    assert _staff_emails(EmailKind.STAFF_PAYMENT) == ["own@example.test"]
    [message] = [m for m in mail.outbox if m.to == ["own@example.test"]]
    assert message.subject.startswith("Payment of $10.00 received for invoice")
    assert f"/admin/invoices/invoice/{invoice.pk}/change/" in message.body
    assert (
        "/admin/preferences/staffnotificationsettings/" in message.extra_headers["List-Unsubscribe"]
    )


def test_it_honours_each_member_s_own_settings(
    team: dict[str, Any], invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    owner = Membership.objects.get(user=team["owner"])
    viewer = Membership.objects.get(user=team["viewer"])
    StaffNotificationSettings.objects.create(membership=owner, payments=False)
    StaffNotificationSettings.objects.create(membership=viewer, payments=True)
    with django_capture_on_commit_callbacks(execute=True):
        payment_record_offline(invoice=invoice, amount=1000, method=PaymentMethod.CASH)
    assert _staff_emails(EmailKind.STAFF_PAYMENT) == ["mgr@example.test", "ro@example.test"]


def test_it_asks_the_settings_again_when_sending(
    team: dict[str, Any], invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    from preferences.emails import email_deliver, staff_notification_queue

    with django_capture_on_commit_callbacks(execute=False):
        queued = staff_notification_queue(invoice=invoice, kind=EmailKind.STAFF_COMMENT)
    assert len(queued) == 2
    owner = Membership.objects.get(user=team["owner"])
    StaffNotificationSettings.objects.create(membership=owner, comments=False)
    for sent in queued:
        email_deliver(sent_email_id=sent.pk)
    assert _staff_emails(EmailKind.STAFF_COMMENT) == ["mgr@example.test"]
    assert SentEmail.objects.get(to_email="own@example.test").detail == "opted_out"


def test_it_tells_staff_of_a_customer_comment(
    team: dict[str, Any], invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        comment_post(invoice=invoice, name="Ada", email="ada@example.com", body="A question")
    assert _staff_emails(EmailKind.STAFF_COMMENT) == ["mgr@example.test", "own@example.test"]


def test_it_tells_staff_of_the_first_view_once(
    team: dict[str, Any], invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    for ip in ("203.0.113.5", "203.0.113.6"):
        with django_capture_on_commit_callbacks(execute=True):
            view_record(invoice=invoice, visit=Visit(ip=ip, user_agent=BROWSER))
    assert _staff_emails(EmailKind.STAFF_FIRST_VIEW) == ["mgr@example.test", "own@example.test"]


def test_it_sends_over_smtp(
    smtp_server: Any,
    team: dict[str, Any],
    invoice: Invoice,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        comment_post(invoice=invoice, name="Ada", email="ada@example.com", body="Hello")
    assert len(smtp_server.envelopes) == 2
    message = email.message_from_bytes(
        smtp_server.envelopes[0].content, policy=email.policy.default
    )
    assert "New comment on invoice" in str(message["Subject"])
    assert message["Auto-Submitted"] == "auto-generated"


class TestSettingsAdmin:
    def test_it_lets_a_member_save_their_own(
        self, client: Any, team: dict[str, Any], tenant: Company
    ) -> None:
        client.force_login(team["viewer"])
        membership = Membership.objects.get(user=team["viewer"])
        page = client.get("/admin/preferences/staffnotificationsettings/add/")
        assert page.status_code == 200
        response = client.post(
            "/admin/preferences/staffnotificationsettings/add/",
            {"membership": membership.pk, "comments": "on"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        saved = StaffNotificationSettings.objects.get(membership=membership)
        assert (saved.comments, saved.payments, saved.first_view) == (True, False, False)

    def test_it_checks_ownership(self, client: Any, team: dict[str, Any]) -> None:
        owner = Membership.objects.get(user=team["owner"])
        row = StaffNotificationSettings.objects.create(membership=owner)
        client.force_login(team["manager"])
        listing = client.get("/admin/preferences/staffnotificationsettings/")
        assert listing.status_code == 200
        assert f"/{row.pk}/change/" not in listing.content.decode()
        url = f"/admin/preferences/staffnotificationsettings/{row.pk}/change/"
        assert client.get(url).status_code in (302, 404)
        client.post(url, {"comments": ""})
        row.refresh_from_db()
        assert row.comments is True
        # Another member's membership is not a choice when adding.
        response = client.post(
            "/admin/preferences/staffnotificationsettings/add/", {"membership": owner.pk}
        )
        assert response.status_code == 200  # the form again, with the error
        assert StaffNotificationSettings.objects.count() == 1


def test_a_flush_of_first_views_queues_one_task_and_tells_staff_of_each_invoice(
    team: dict[str, Any], tenant: Company, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    from tracking.services import view_record

    invoices = [factories.make_invoice(tenant) for _ in range(3)]
    # In one transaction, as a flush writes its batch.
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        for n, invoice in enumerate(invoices):
            view_record(invoice=invoice, visit=Visit(ip=f"203.0.113.{n}", user_agent=BROWSER))
    first_views = [c for c in callbacks if type(c).__name__ == "_Together"]
    # One callback (one Celery task) for the three invoices' first views.
    assert len(first_views) == 1
    first_views[0]()
    notified = SentEmail.objects.filter(kind=EmailKind.STAFF_FIRST_VIEW)
    assert sorted(notified.values_list("invoice__number", flat=True)) == sorted(
        [invoice.number for invoice in invoices] * 2
    )


def test_first_views_in_a_savepoint_rolled_back_tell_no_one(
    team: dict[str, Any], tenant: Company, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    from preferences.notifications import event_heard

    kept, dropped = factories.make_invoice(tenant), factories.make_invoice(tenant)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event_heard(company=tenant, type="invoice.viewed", object_id=kept.public_id, data={})
        try:
            with transaction.atomic():
                event_heard(
                    company=tenant,
                    type="invoice.viewed",
                    object_id=dropped.public_id,
                    data={},
                )
                raise RuntimeError("the write failed")
        except RuntimeError:
            pass
    notified = SentEmail.objects.filter(kind=EmailKind.STAFF_FIRST_VIEW)
    assert set(notified.values_list("invoice_id", flat=True)) == {kept.pk}


def test_a_company_without_staff_costs_one_query_per_flush(
    tenant: Company, django_assert_num_queries: Any
) -> None:
    from preferences.notifications import first_views_notify

    invoices = [factories.make_invoice(tenant) for _ in range(5)]
    # 1: is there a member who could get an email at all? None: nothing else.
    with django_assert_num_queries(1):
        first_views_notify(
            company_id=tenant.pk, invoice_public_ids=[invoice.public_id for invoice in invoices]
        )
    assert not SentEmail.objects.exists()


def test_a_batch_of_views_asks_the_cache_once_which_invoices_were_seen_before(
    tenant: Company,
) -> None:
    from preferences.notifications import _first_heard, _maybe_first_view

    seen, new, other = (factories.make_invoice(tenant).public_id for _ in range(3))
    assert _maybe_first_view(seen)
    # The views of a flush, repeats included: only invoices never heard of go on, once each.
    assert _first_heard([seen, new, other]) == [new, other]
    assert _first_heard([seen, new, other]) == []
    assert not _maybe_first_view(new)
