from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from invoices.models import Company
from invoices.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a company; prints the key, alone, as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        company = Company.objects.filter(slug=options["slug"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['slug']!r}.")
        _key, raw_key = api_key_create(company=company, name=options["name"])
        self.stdout.write("Store this key now; only a hash of it is kept:")
        self.stdout.write(raw_key)
