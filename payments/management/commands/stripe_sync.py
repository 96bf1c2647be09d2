"""``python manage.py stripe_sync SLUG [--since YYYY-MM-DD]``

Imports the company's customers, finalized invoices (with all their lines), credit notes and
payments from its Stripe account (see payments.stripe_sync.backfill): resumable (an
interrupted run continues where it stopped), idempotent (a second run doubles nothing), with a
progress line per list. Afterwards Stripe's webhooks keep them in sync.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from invoices.models import Company
from payments.stripe_client import PaymentProviderError
from payments.stripe_sync.backfill import SyncResult, SyncUnavailable, stripe_sync

_NOUNS = {"customers": "customers", "invoices": "invoices", "credit_notes": "credit notes"}


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be a date like 2026-01-31, not {value!r}.") from None


class Command(BaseCommand):
    help = "Import a company's customers, invoices, credit notes and payments from Stripe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--since",
            default=None,
            help="Only objects created on or after this day (YYYY-MM-DD, company time zone).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = Company.objects.filter(slug=options["slug"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['slug']!r}.")
        since = _day(options["since"]) if options["since"] else None
        interactive = self.stdout.isatty()
        shown: dict[str, int] = {}

        def progress(resource: str, done: int, result: SyncResult) -> None:
            line = f"{_NOUNS[resource]}: {done} read"
            if interactive:
                # One line per list, rewritten in place as pages arrive.
                if shown and resource not in shown:
                    self.stdout.write("")
                self.stdout.write(f"\r{line}", ending="")
                self.stdout.flush()
            elif shown.get(resource) != done:
                self.stdout.write(line)
            shown[resource] = done

        try:
            result = stripe_sync(company=company, since=since, progress=progress)
        except (SyncUnavailable, PaymentProviderError) as exc:
            if interactive:
                self.stdout.write("")
            raise CommandError(
                f"{exc.message} Run the command again to resume where it stopped."
            ) from exc
        if interactive:
            self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(f"Stripe sync of {company.slug} done: {result.summary()}")
        )
