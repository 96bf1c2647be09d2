"""``python manage.py connect_stripe SLUG --secret-key KEY --webhook-secret WHSEC``

Connects a company's Stripe account (secrets encrypted at rest) and prints the webhook URL
path, alone, as its last line (the contract). ``--register-with-emulator`` also registers
PUBLIC_BASE_URL + that path as a webhook endpoint of the local Stripe emulator at
STRIPE_API_BASE (its ``/_emulator/`` control API), which is how ``make run`` wires the demo.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from invoices.models import Company
from payments import services


def _emulator_call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        settings.STRIPE_API_BASE + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # local emulator only
        return json.loads(response.read() or b"{}")


class Command(BaseCommand):
    help = "Connect a company's Stripe account; prints the webhook URL path as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--secret-key", required=True)
        parser.add_argument("--webhook-secret", required=True)
        parser.add_argument(
            "--publishable-key",
            default=None,
            help="pk_… for the card form on the invoice page (optional; Checkout works without).",
        )
        parser.add_argument(
            "--register-with-emulator",
            action="store_true",
            help="Also register the webhook URL with the local Stripe emulator at STRIPE_API_BASE.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = Company.objects.filter(slug=options["slug"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['slug']!r}.")
        secret_key: str = options["secret_key"]
        publishable_key = options["publishable_key"]
        # The emulator pairs pk_test_X with sk_test_X (real Stripe keys are unrelated).
        emulated = options["register_with_emulator"] and secret_key.startswith("sk_test_")
        if publishable_key is None and emulated:
            publishable_key = "pk_test_" + secret_key.removeprefix("sk_test_")
        try:
            connection = services.stripe_connection_save(
                company=company,
                secret_key=secret_key,
                webhook_secret=options["webhook_secret"],
                publishable_key=publishable_key,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        path = services.webhook_path(connection)
        if options["register_with_emulator"]:
            self._register(secret_key, options["webhook_secret"], settings.PUBLIC_BASE_URL + path)
        self.stdout.write(
            f"Connected Stripe for {company.slug} (key …{connection.secret_key_hint})."
        )
        self.stdout.write(path)

    def _register(self, secret_key: str, webhook_secret: str, url: str) -> None:
        if not settings.STRIPE_API_BASE.startswith(("http://127.0.0.1", "http://localhost")):
            raise CommandError("--register-with-emulator needs STRIPE_API_BASE on 127.0.0.1.")
        try:
            existing = _emulator_call("GET", "/_emulator/webhook_endpoints").get("data", [])
            if not any(ep.get("url") == url for ep in existing):
                _emulator_call(
                    "POST",
                    "/_emulator/webhook_endpoints",
                    {"api_key": secret_key, "url": url, "secret": webhook_secret},
                )
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CommandError(f"Could not reach the Stripe emulator: {exc}") from exc
        self.stdout.write(f"Registered {url} with the Stripe emulator.")
