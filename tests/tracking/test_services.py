"""Recording views through the real service: sources, IPs, first/last, honest counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from core.http import client_ip
from invoices.models import Company, Invoice
from tests import factories
from tracking.models import InvoiceViewer, InvoiceViewStats, ViewRecord
from tracking.selectors import view_stats_for_invoice
from tracking.services import (
    RECORD_LIMIT,
    Visit,
    view_record,
    visit_classify,
)

pytestmark = pytest.mark.django_db

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def visit(ip: str = "203.0.113.7", **fields: Any) -> Visit:
    fields.setdefault("user_agent", BROWSER)
    return Visit(ip=ip, **fields)


@pytest.fixture
def invoice(tenant: Company, customer: Any) -> Invoice:
    return factories.make_invoice(tenant, customer)


@pytest.mark.parametrize("source", ["link", "email", "portal", "api"])
def test_it_records_the_source(invoice: Invoice, source: str) -> None:
    view_record(invoice=invoice, visit=visit(), source=source)
    assert ViewRecord.objects.get(invoice=invoice).source == source


def test_it_records_an_unknown_source_as_link(invoice: Invoice) -> None:
    view_record(invoice=invoice, visit=visit(), source="<script>")
    assert ViewRecord.objects.get(invoice=invoice).source == "link"


def test_it_records_time_ip_agent_and_tenant(invoice: Invoice) -> None:
    record = view_record(invoice=invoice, visit=visit("198.51.100.4"))
    assert record is not None
    stored = ViewRecord.objects.get(pk=record.pk)
    assert stored.ip == "198.51.100.4"
    assert stored.user_agent == BROWSER
    assert stored.company_id == invoice.company_id
    assert abs((timezone.now() - stored.viewed_at).total_seconds()) < 60
    assert stored.counted and stored.reason == ""


def test_it_cuts_a_long_user_agent(invoice: Invoice) -> None:
    view_record(invoice=invoice, visit=visit(user_agent=BROWSER + "x" * 5000))
    stored = ViewRecord.objects.get(invoice=invoice)
    assert len(stored.user_agent) == 400
    assert stored.user_agent.startswith("Mozilla/5.0")


def test_it_strips_control_characters_from_the_user_agent(invoice: Invoice) -> None:
    # NUL cannot be stored in PostgreSQL text: left in, it would fail the write.
    view_record(invoice=invoice, visit=visit(user_agent="Mozilla/5.0\x00 (X11)\r\n Firefox/133.0"))
    assert ViewRecord.objects.get(invoice=invoice).user_agent == "Mozilla/5.0 (X11) Firefox/133.0"


# Client IP ------------------------------------------------------------------------------


def test_it_uses_the_socket_address_without_trusted_proxies() -> None:
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert client_ip(meta, 0) == "203.0.113.9"


def test_it_takes_the_address_the_trusted_proxy_appended() -> None:
    # The client forged "1.2.3.4"; our one proxy appended the real peer, 198.51.100.20.
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.20"}
    assert client_ip(meta, 1) == "198.51.100.20"


def test_it_counts_hops_from_the_right_behind_two_proxies() -> None:
    meta = {
        "REMOTE_ADDR": "10.0.0.3",
        "HTTP_X_FORWARDED_FOR": "1.2.3.4, 5.6.7.8, 198.51.100.20, 10.0.0.2",
    }
    assert client_ip(meta, 2) == "198.51.100.20"


def test_it_falls_back_to_the_socket_when_the_header_is_short_or_garbage() -> None:
    assert client_ip({"REMOTE_ADDR": "10.0.0.2"}, 1) == "10.0.0.2"
    assert client_ip({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "a, b"}, 2) == "10.0.0.2"
    assert client_ip({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 2) == (
        "10.0.0.2"
    )


def test_it_normalises_ipv6_and_mapped_ipv4() -> None:
    assert client_ip({"REMOTE_ADDR": "::ffff:192.0.2.1"}, 0) == "192.0.2.1"
    assert client_ip({"REMOTE_ADDR": "2001:DB8::0001"}, 0) == "2001:db8::1"
    assert client_ip({"REMOTE_ADDR": ""}, 0) is None


# First / last / unique ------------------------------------------------------------------


def test_it_sets_first_viewed_once_and_moves_last_viewed(invoice: Invoice) -> None:
    t0 = timezone.now() - dt.timedelta(days=2)
    view_record(invoice=invoice, visit=visit("203.0.113.1"), now=t0)
    view_record(invoice=invoice, visit=visit("203.0.113.2"), now=t0 + dt.timedelta(hours=5))
    # An older timestamp arriving late (a slow request) must not move last_viewed back.
    view_record(invoice=invoice, visit=visit("203.0.113.3"), now=t0 + dt.timedelta(hours=1))

    stats = view_stats_for_invoice(invoice=invoice)
    assert stats.view_count == 3
    assert stats.first_viewed_at == t0
    assert stats.last_viewed_at == t0 + dt.timedelta(hours=5)


def test_it_counts_unique_ips(invoice: Invoice) -> None:
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.1"]:
        view_record(invoice=invoice, visit=visit(ip))
        cache.clear()  # the refresh-storm window ends: the same IP may count again

    stats = view_stats_for_invoice(invoice=invoice)
    assert (stats.view_count, stats.unique_ips) == (3, 2)
    assert InvoiceViewer.objects.filter(invoice=invoice).count() == 2


def test_it_reports_zeros_before_the_first_view(invoice: Invoice) -> None:
    stats = view_stats_for_invoice(invoice=invoice)
    assert (stats.view_count, stats.unique_ips, stats.first_viewed_at) == (0, 0, None)


def test_it_keeps_stats_per_invoice(tenant: Company, invoice: Invoice) -> None:
    other = factories.make_invoice(tenant)
    view_record(invoice=invoice, visit=visit())
    assert view_stats_for_invoice(invoice=other).view_count == 0
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


# Honest counts --------------------------------------------------------------------------


def test_it_counts_one_view_per_ip_in_a_refresh_storm(invoice: Invoice) -> None:
    for _ in range(10):
        view_record(invoice=invoice, visit=visit("203.0.113.50"))
    view_record(invoice=invoice, visit=visit("203.0.113.51"))

    assert view_stats_for_invoice(invoice=invoice).view_count == 2
    records = ViewRecord.objects.filter(invoice=invoice)
    assert records.count() == 11
    assert records.filter(counted=False, reason="rate_limited").count() == 9


def test_it_stops_writing_rows_past_the_record_limit(invoice: Invoice) -> None:
    results = [view_record(invoice=invoice, visit=visit()) for _ in range(RECORD_LIMIT + 5)]

    assert results[-1] is None
    assert ViewRecord.objects.filter(invoice=invoice).count() == RECORD_LIMIT
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


def test_it_rate_limits_per_invoice_not_globally(tenant: Company, invoice: Invoice) -> None:
    other = factories.make_invoice(tenant)
    view_record(invoice=invoice, visit=visit())
    view_record(invoice=other, visit=visit())
    assert view_stats_for_invoice(invoice=other).view_count == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"method": "HEAD"}, "head"),
        ({"prefetch": True}, "prefetch"),
        ({"staff": True}, "staff"),
        ({"user_agent": ""}, "scanner"),
    ],
)
def test_it_records_but_does_not_count(
    invoice: Invoice, fields: dict[str, Any], reason: str
) -> None:
    record = view_record(invoice=invoice, visit=visit(**fields))

    assert record is not None
    stored = ViewRecord.objects.get(pk=record.pk)
    assert (stored.counted, stored.reason) == (False, reason)
    assert not InvoiceViewStats.objects.filter(invoice=invoice).exists()


SCANNERS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) SkypeUriPreview Preview/0.5",
    "Proofpoint URL Defense",
    "Mimecast URL Protect",
    "Barracuda Sentinel (EE)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "python-requests/2.32.3",
    "curl/8.5.0",
    # Snapchat's link-preview fetcher (developers.snap.com/robots).
    "Snap URL Preview Service; bot; snapchat; https://developers.snap.com/robots",
]


@pytest.mark.parametrize("agent", SCANNERS)
def test_it_does_not_count_previews_and_scanners(agent: str) -> None:
    assert visit_classify(visit(user_agent=agent)) == "scanner"


@pytest.mark.parametrize(
    "agent",
    [
        BROWSER,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        # A person reading the link in Snapchat's in-app browser.
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Snapchat/13.13.0.38 (like Safari/8618.2.12.10.6, "
        "panda)",
    ],
)
def test_it_counts_real_browsers(agent: str) -> None:
    assert visit_classify(visit(user_agent=agent)) == ""


def test_it_records_previews_without_blocking_the_real_open(invoice: Invoice) -> None:
    # Outlook's scanner and a prefetch hit first, from the same address; the person's click
    # right after them is still the one counted view.
    view_record(invoice=invoice, visit=visit(user_agent="Microsoft Office/16.0"))
    view_record(invoice=invoice, visit=visit(prefetch=True))
    view_record(invoice=invoice, visit=visit())

    assert view_stats_for_invoice(invoice=invoice).view_count == 1
    assert ViewRecord.objects.filter(invoice=invoice).count() == 3


def test_it_caps_counted_views_per_invoice_across_addresses(
    invoice: Invoice, monkeypatch: Any
) -> None:
    # Many addresses padding one link: past the per-invoice window limit (500 in production,
    # 3 here to keep the test fast) opens are recorded as rate-limited.
    monkeypatch.setattr("tracking.services.INVOICE_COUNT_LIMIT", 3)
    for n in range(5):
        view_record(invoice=invoice, visit=visit(f"203.0.113.{n + 1}"))

    assert view_stats_for_invoice(invoice=invoice).view_count == 3
    assert ViewRecord.objects.filter(invoice=invoice, reason="rate_limited").count() == 2
