"""Deployment check: the one-click unsubscribe URL in every email must be HTTPS."""

from __future__ import annotations

from typing import Any

from django.core.checks import run_checks


def _ids(**kwargs: Any) -> set[str]:
    return {message.id for message in run_checks(**kwargs) if message.id}


def test_it_warns_when_emails_would_carry_a_plain_http_unsubscribe_url(settings: Any) -> None:
    settings.PUBLIC_BASE_URL = "http://portal.example.com"
    assert "preferences.W001" in _ids(include_deployment_checks=True)
    # Only a deployment check: `make run` on http://127.0.0.1 is not warned about.
    assert "preferences.W001" not in _ids()


def test_it_accepts_an_https_origin(settings: Any) -> None:
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    assert "preferences.W001" not in _ids(include_deployment_checks=True)
