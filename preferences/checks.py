"""System checks for customer email."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning


@register(Tags.security, deploy=True)
def check_public_base_url_is_https(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Every email's List-Unsubscribe one-click URL is built on PUBLIC_BASE_URL; RFC 8058 (and
    the large mailbox providers) accept only an HTTPS one."""
    if str(settings.PUBLIC_BASE_URL).startswith("https://"):
        return []
    return [
        CheckWarning(
            "PUBLIC_BASE_URL is not an https:// origin, so the List-Unsubscribe one-click URL "
            "in every email is not HTTPS (RFC 8058).",
            hint="Set PUBLIC_BASE_URL to the portal's public https:// origin.",
            id="preferences.W001",
        )
    ]
