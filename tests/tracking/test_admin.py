"""The views badge in the admin invoice list and the view log on the invoice page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoices.models import Company, Invoice
from tests import factories
from tracking.services import Visit, view_record

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def open_invoice(invoice: Invoice, ip: str, when: dt.datetime | None = None, **fields: Any) -> None:
    fields.setdefault("user_agent", BROWSER)
    view_record(invoice=invoice, visit=Visit(ip=ip, **fields), now=when)


def badge_of(html: str, number: str) -> str:
    """The views cell of the row showing invoice ``number``."""
    row = next(r for r in html.split("<tr") if f">{number}<" in r)
    cell = re.search(r'<td class="field-views_badge">(.*?)</td>', row, re.S)
    assert cell is not None, row
    return cell.group(1)


def test_it_shows_a_badge_with_count_and_first_last_on_hover(
    client: Any, staff: Any, tenant: Company
) -> None:
    invoice = factories.make_invoice(tenant)
    first = timezone.now() - dt.timedelta(hours=2)
    open_invoice(invoice, "203.0.113.1", first)
    open_invoice(invoice, "203.0.113.2")
    client.force_login(staff)

    html = client.get(reverse("admin:invoices_invoice_changelist")).content.decode()

    badge = badge_of(html, invoice.number)
    assert re.search(
        r'<span class="view-badge" title="First viewed [^"]+ last viewed [^"]+">2<', badge
    )
    assert first.strftime("%Y-%m-%d %H:%M") in badge
    assert 'title="viewed recently"' in badge


def test_it_drops_the_recent_marker_after_a_day(client: Any, staff: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    open_invoice(invoice, "203.0.113.1", timezone.now() - dt.timedelta(days=3))
    client.force_login(staff)

    badge = badge_of(
        client.get(reverse("admin:invoices_invoice_changelist")).content.decode(), invoice.number
    )
    assert ">1<" in badge
    assert "viewed recently" not in badge


def test_it_shows_zero_for_an_unviewed_invoice(client: Any, staff: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    # Only a scanner looked: recorded, not a view.
    open_invoice(invoice, "203.0.113.1", user_agent="Slackbot-LinkExpanding 1.0")
    client.force_login(staff)

    badge = badge_of(
        client.get(reverse("admin:invoices_invoice_changelist")).content.decode(), invoice.number
    )
    assert 'class="view-badge view-badge--none"' in badge
    assert ">0<" in badge


def test_it_keeps_the_invoice_list_constant_in_queries(
    client: Any, staff: Any, tenant: Company, django_assert_max_num_queries: Any
) -> None:
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_changelist")
    invoice = factories.make_invoice(tenant)
    open_invoice(invoice, "203.0.113.1")
    with CaptureQueriesContext(connection) as one_row:
        client.get(url)

    for n in range(10):
        open_invoice(factories.make_invoice(tenant), f"203.0.113.{n + 10}")
    # The badge reads view_stats from the list query (select_related): ten more viewed
    # invoices must not add a single query. The budget is whatever one row took.
    with django_assert_max_num_queries(len(one_row)):
        html = client.get(url).content.decode()
    assert html.count('class="view-badge"') == 11


def test_it_shows_the_view_log_on_the_invoice_page(
    client: Any, staff: Any, tenant: Company
) -> None:
    invoice = factories.make_invoice(tenant)
    open_invoice(invoice, "198.51.100.7")
    open_invoice(invoice, "198.51.100.8", method="HEAD")
    client.force_login(staff)

    html = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk])).content.decode()

    assert 'class="view-log"' in html
    assert "1 view" in html
    assert "198.51.100.7" in html and "198.51.100.8" in html
    assert "HEAD request" in html  # the uncounted open, with its reason
    assert "tracking/admin.css" in html


def test_it_hides_another_companys_view_log(client: Any, outsider: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    open_invoice(invoice, "198.51.100.7")
    client.force_login(outsider)

    response = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    assert response.status_code == 404
    assert b"198.51.100.7" not in response.content


def test_it_lists_every_recorded_open_for_the_invoice(
    client: Any, staff: Any, tenant: Company, other_tenant: Company
) -> None:
    invoice = factories.make_invoice(tenant)
    open_invoice(invoice, "198.51.100.7")
    open_invoice(factories.make_invoice(other_tenant), "198.51.100.99")
    client.force_login(staff)

    url = reverse("admin:tracking_viewrecord_changelist") + f"?invoice__id__exact={invoice.pk}"
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "198.51.100.7" in html
    assert "198.51.100.99" not in html  # another company's opens never show


def test_it_keeps_view_records_read_only(client: Any, staff: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    open_invoice(invoice, "198.51.100.7")
    client.force_login(staff)

    assert client.get(reverse("admin:tracking_viewrecord_add")).status_code == 403
    record_url = reverse("admin:tracking_viewrecord_delete", args=[invoice.view_records.get().pk])
    assert client.post(record_url, {"post": "yes"}).status_code == 403
    assert invoice.view_records.count() == 1


def test_it_renders_the_add_invoice_page(client: Any, staff: Any) -> None:
    client.force_login(staff)
    assert client.get(reverse("admin:invoices_invoice_add")).status_code == 200
