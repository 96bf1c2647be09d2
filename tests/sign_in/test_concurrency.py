"""A sign-in link works once, even when several posts race for it (real PostgreSQL
transactions in threads, each with its own connection)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from invoices.customer_sessions import services as sessions
from invoices.customer_sessions.models import CustomerSession, SignInLink, SignInSource
from invoices.customer_sessions.services import SignInLinkInvalid
from invoices.models import AuditEvent
from tests import factories


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_concurrent_posts_signs_in() -> None:
    company = factories.make_company(slug="race", name="Race Ltd")
    customer = factories.make_customer(company, name="Ada", email="ada@example.com")
    link = sessions.sign_in_link_create(customer=customer, source=SignInSource.API)
    token = sessions.sign_in_link_token(link)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def post() -> None:
        try:
            barrier.wait()
            sessions.sign_in_link_redeem(token=token)
            outcomes.append("signed_in")
        except SignInLinkInvalid:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["signed_in"]
    assert CustomerSession.objects.count() == 1
    assert SignInLink.objects.get().used_at is not None
    assert AuditEvent.objects.filter(action="customer.signed_in").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_http_posts_sign_in_once(live_server: Any) -> None:
    import urllib.error
    import urllib.request

    company = factories.make_company(slug="race-http", name="Race Ltd")
    customer = factories.make_customer(company, name="Ada", email="ada@example.com")
    link = sessions.sign_in_link_create(customer=customer, source=SignInSource.EMAIL)
    url = f"{live_server.url}/sign-in/{sessions.sign_in_link_token(link)}"
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def post() -> None:
        barrier.wait()
        try:
            with opener.open(urllib.request.Request(url, data=b"", method="POST"), timeout=30) as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 404, 404, 404]
