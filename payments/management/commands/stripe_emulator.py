"""``python manage.py stripe_emulator [--port 8420]``: run the local Stripe emulator."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from payments.emulator.server import DEFAULT_PORT, serve


class Command(BaseCommand):
    help = "Run the local Stripe emulator on 127.0.0.1 (point STRIPE_API_BASE at it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        serve(port=options["port"])
