"""Pipe target for the List-Unsubscribe mailto address (e.g. a Postfix alias
``unsubscribe: "|/app/.venv/bin/python /app/manage.py unsubscribe_from_email"``)."""

from __future__ import annotations

import email
import email.policy
import sys
from typing import Any

from django.core.management.base import BaseCommand

from preferences.emails import email_unsubscribe_by_mail


class Command(BaseCommand):
    help = "Read one email from stdin and apply the unsubscribe request in its subject."

    def handle(self, *args: Any, **options: Any) -> None:
        # 64 KB is plenty for the headers we need; a bigger mail is not an unsubscribe request.
        raw = sys.stdin.buffer.read(65536)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        preference = email_unsubscribe_by_mail(subject=str(message.get("Subject", "")))
        if preference is None:
            # Exit 0 all the same: the MTA must not bounce mail back to the sender.
            self.stdout.write("ignored: no valid unsubscribe request")
            return
        self.stdout.write(f"unsubscribed: {preference.email}")
