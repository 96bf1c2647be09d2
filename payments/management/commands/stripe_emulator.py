"""``python manage.py stripe_emulator [--port 8420]``: an alias of ``python -m stripe_emulator``.

The emulator is a development tool outside the apps (not in the production image): the
command runs ``python -m stripe_emulator`` in its place (the same process id, output and
signals) and never imports it, so ``manage.py help`` works without it and no app depends on it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

EMULATOR = "stripe_emulator"


class Command(BaseCommand):
    help = "Run the local Stripe emulator on 127.0.0.1 (point STRIPE_API_BASE at it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, help="default 8420; 0 for any free port")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            installed = importlib.util.find_spec(EMULATOR) is not None
        except ModuleNotFoundError:
            installed = False
        if not installed:
            raise CommandError(
                "The Stripe emulator is a development tool and is not installed here "
                "(run it from a source checkout)."
            )
        port = options["port"]
        argv = [sys.executable, "-m", EMULATOR, *([] if port is None else ["--port", str(port)])]
        # Found next to manage.py, from whatever directory the command was started in.
        paths = [str(settings.BASE_DIR), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, argv, env)
