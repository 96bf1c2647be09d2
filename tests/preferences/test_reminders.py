"""Reminders: "due soon" and "overdue" on each company's cadence, once per invoice per step,
never for paid, void or draft invoices. Time travels by passing ``now`` to the service."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection

from invoices import services
from invoices.models import Company, Customer, Invoice
from preferences.emails import reminders_queue
from preferences.models import ReminderSent, SentEmail, SentEmailStatus
from preferences.services import email_preference_ensure, email_preferences_update
from tests import factories

pytestmark = pytest.mark.django_db

ISSUED = dt.date(2030, 1, 1)
DUE = dt.date(2030, 1, 31)  # issued + 30 days


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture
def due_invoice(tenant: Company, customer: Customer) -> Invoice:
    # The tenant's defaults: due soon 3 days before, overdue 7 days after.
    return factories.make_invoice(tenant, customer, issue_date=ISSUED, due_in_days=30)


def _run(capture: Any, now: dt.datetime) -> int:
    with capture(execute=True):
        return reminders_queue(now=now)


def _kinds() -> list[str]:
    return list(SentEmail.objects.order_by("created_at", "id").values_list("kind", flat=True))


class TestSchedule:
    def test_it_sends_each_step_once_on_the_company_cadence(
        self, due_invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        run = lambda now: _run(django_capture_on_commit_callbacks, now)  # noqa: E731
        assert run(at(DUE - days(4))) == 0  # too early
        assert run(at(DUE - days(3))) == 1  # due soon
        assert run(at(DUE - days(2))) == 0  # already sent
        assert run(at(DUE)) == 0
        assert run(at(DUE + days(6))) == 0  # overdue, but not 7 days yet
        assert run(at(DUE + days(7))) == 1  # overdue
        assert run(at(DUE + days(30))) == 0  # once only
        assert _kinds() == ["reminder_due_soon", "reminder_overdue"]
        assert len(mail.outbox) == 2
        assert "is due on" in mail.outbox[0].subject
        assert "was due on" in mail.outbox[1].subject
        assert mail.outbox[1].extra_headers["Auto-Submitted"] == "auto-generated"

    def test_it_follows_each_company_s_settings(
        self, tenant: Company, due_invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        Company.objects.filter(pk=tenant.pk).update(
            reminder_days_before_due=10, reminder_days_after_due=1
        )
        assert _run(django_capture_on_commit_callbacks, at(DUE - days(10))) == 1
        assert _run(django_capture_on_commit_callbacks, at(DUE + days(1))) == 1
        assert _kinds() == ["reminder_due_soon", "reminder_overdue"]

    def test_it_catches_up_after_a_missed_run(
        self, due_invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        # The beat was down on the exact day; the next run still sends the step.
        assert _run(django_capture_on_commit_callbacks, at(DUE - days(1))) == 1
        assert _kinds() == ["reminder_due_soon"]

    def test_it_sends_no_due_soon_once_the_invoice_is_overdue(
        self, due_invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        assert _run(django_capture_on_commit_callbacks, at(DUE + days(8))) == 1
        assert _kinds() == ["reminder_overdue"]

    def test_it_uses_the_company_s_own_date(
        self, tenant: Company, due_invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        Company.objects.filter(pk=tenant.pk).update(time_zone="Pacific/Auckland")
        # 20:00 UTC on Jan 27 is already Jan 28 in Auckland: 3 days before the due date there.
        assert _run(django_capture_on_commit_callbacks, at(DUE - days(4), hour=20)) == 1

    @pytest.mark.parametrize("status", ["paid", "void", "draft", "uncollectible"])
    def test_it_never_reminds_about_closed_or_draft_invoices(
        self,
        tenant: Company,
        customer: Customer,
        status: str,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        factories.make_invoice(tenant, customer, issue_date=ISSUED, status=status)
        assert _run(django_capture_on_commit_callbacks, at(DUE - days(1))) == 0
        assert _run(django_capture_on_commit_callbacks, at(DUE + days(10))) == 0
        assert not SentEmail.objects.exists()
        assert mail.outbox == []

    def test_it_skips_an_invoice_paid_between_queueing_and_sending(
        self, due_invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert reminders_queue(now=at(DUE - days(1))) == 1
        services.invoice_transition(invoice=due_invoice, to_status="paid")
        for callback in callbacks:
            callback()
        sent = SentEmail.objects.get()
        assert sent.status == SentEmailStatus.SKIPPED
        assert sent.detail == "not_due"
        assert mail.outbox == []

    def test_it_takes_the_step_but_sends_nothing_to_an_opted_out_address(
        self,
        tenant: Company,
        customer: Customer,
        due_invoice: Invoice,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        preference = email_preference_ensure(company_id=tenant.pk, email=customer.email)
        email_preferences_update(preference=preference, changes={"reminders": False}, source="t")
        assert _run(django_capture_on_commit_callbacks, at(DUE - days(1))) == 1
        assert SentEmail.objects.get().status == SentEmailStatus.SKIPPED
        assert mail.outbox == []
        # Opting back in later does not resend a step that was already due.
        email_preferences_update(preference=preference, changes={"reminders": True}, source="t")
        assert _run(django_capture_on_commit_callbacks, at(DUE)) == 0

    def test_it_asks_a_bounded_number_of_queries(
        self,
        tenant: Company,
        customer: Customer,
        django_assert_max_num_queries: Any,
    ) -> None:
        for _ in range(3):
            factories.make_invoice(tenant, customer, issue_date=ISSUED, due_in_days=60)
        # Nothing due: 1 companies with open invoices + 2 windows for the one company. The
        # scan must not grow with the number of invoices that need nothing.
        with django_assert_max_num_queries(3):
            assert reminders_queue(now=at(DUE)) == 0


class TestBeat:
    def test_it_is_scheduled(self) -> None:
        entry = settings.CELERY_BEAT_SCHEDULE["preferences-send-reminders"]
        assert entry["task"] == "preferences.tasks.send_reminders"

    def test_it_runs_the_task_at_the_real_time(
        self, tenant: Company, customer: Customer, django_capture_on_commit_callbacks: Any
    ) -> None:
        from preferences.tasks import send_reminders

        factories.make_invoice(tenant, customer, due_in_days=1)
        with django_capture_on_commit_callbacks(execute=True):
            assert send_reminders.delay().get() == 1
        assert ReminderSent.objects.get().step == "due_soon"
        assert len(mail.outbox) == 1


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locking")
@pytest.mark.django_db(transaction=True)
def test_it_sends_a_step_once_when_two_runs_race(tenant: Company, customer: Customer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    factories.make_invoice(tenant, customer, issue_date=ISSUED, due_in_days=30)

    def run() -> int:
        try:
            return reminders_queue(now=at(DUE - days(1)))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run(), range(2)))
    assert sorted(results) == [0, 1]
    assert ReminderSent.objects.count() == 1
    assert SentEmail.objects.count() == 1
    assert len(mail.outbox) == 1
