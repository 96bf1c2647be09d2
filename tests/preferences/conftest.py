"""Fixtures for emails and preferences: a local SMTP server (aiosmtpd) and shortcuts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from invoices.models import Company, Customer, Invoice
from preferences.models import EmailPreference
from preferences.services import email_preference_ensure, email_preference_token
from tests import factories


class RecordingHandler:
    """Accepts every message and keeps the envelopes (what a real MTA received)."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[RecordingHandler]:
    """A real SMTP server on 127.0.0.1, with Django's SMTP backend pointed at it."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def invoice(tenant: Company, customer: Customer) -> Invoice:
    return factories.make_invoice(tenant, customer, lines=[("Consulting", "2", 5000, "0")])


@pytest.fixture
def preference(tenant: Company, customer: Customer) -> EmailPreference:
    return email_preference_ensure(company_id=tenant.pk, email=customer.email)


@pytest.fixture
def token(preference: EmailPreference) -> str:
    return email_preference_token(preference)
