"""``python manage.py stripe_emulator [--port 8420]``: an alias of ``python -m stripe_emulator``.

The emulator is a development tool outside the apps (not in the production image): it is
imported only when the command runs, so ``manage.py help`` works without it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the local Stripe emulator on 127.0.0.1 (point STRIPE_API_BASE at it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, help="default 8420; 0 for any free port")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from stripe_emulator.__main__ import main
        except ModuleNotFoundError as exc:
            if exc.name != "stripe_emulator":
                raise
            raise CommandError(
                "The Stripe emulator is a development tool and is not installed here "
                "(run it from a source checkout)."
            ) from exc
        port = options["port"]
        main([] if port is None else ["--port", str(port)])
