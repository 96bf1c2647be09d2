from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from invoices.models import Company
from invoices.money import UnknownCurrency
from invoices.services import company_create


class Command(BaseCommand):
    help = "Create a company (tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--currency", default="usd")
        parser.add_argument("--plan", choices=["free", "pro"], default="free")

    def handle(self, *args: Any, **options: Any) -> None:
        if Company.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"A company with slug {options['slug']!r} already exists.")
        try:
            company = company_create(
                slug=options["slug"],
                name=options["name"],
                currency=options["currency"],
                plan=options["plan"],
            )
        except UnknownCurrency as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created company {company.slug} (public key {company.public_key})")
