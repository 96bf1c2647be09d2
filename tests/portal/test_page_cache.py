"""Whole customer pages served from the cache (portal.page_cache): the second open of a page is
the token lookup, view tracking and one cache read; yet every change shows at once, nothing of
one link shows on another's page, and each response has its own CSP nonce and CSRF token."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.template import engines
from django.test import Client
from django.utils import timezone

from invoices import services
from invoices.models import Company, Customer, Invoice
from portal.presenters import page_source_files
from tests import factories
from tests.csrf_checks import csrf_answer

pytestmark = pytest.mark.django_db

A_HOST = "billing.acme.example"
JS = "document.documentElement.dataset.acme = 'yes';"


def _html(response: Any) -> str:
    assert response.status_code == 200
    return str(response.content.decode())


def _header_nonce(response: Any) -> str:
    found = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert found is not None
    return found.group(1)


def _body_nonces(response: Any) -> set[str]:
    return set(re.findall(r'nonce="([^"]+)"', response.content.decode()))


def _cached(client: Any, url: str, **extra: Any) -> Any:
    """Open ``url`` twice and return the second answer (served from the page cache)."""
    client.get(url, **extra)
    return client.get(url, **extra)


# What a cached page costs ------------------------------------------------------------------


def test_it_serves_a_cached_invoice_page_with_the_lookup_and_tracking_only(
    client: Any, invoice: Invoice, token: str, django_assert_num_queries: Any
) -> None:
    first = client.get(f"/invoice/{token}")
    # 1 the token lookup: invoice, company and customer, with the Stripe connection, the last
    # payment and the comment thread's version read by the same query; 2-4 view tracking's
    # write (savepoint, the write, release: a test runs inside a transaction). Nothing else:
    # no lines, no comments, no Stripe query; the page itself is one cache read.
    with django_assert_num_queries(4):
        second = client.get(f"/invoice/{token}", REMOTE_ADDR="203.0.113.9")
    main = _html(first).split("<main", 1)[1].split("</main>")[0]
    nonce = _header_nonce(first)
    # The same page, but for this request's nonce and CSRF token.
    assert (
        _html(second)
        .split("<main", 1)[1]
        .split("</main>")[0]
        .replace(_header_nonce(second), nonce)
        .split("csrfmiddlewaretoken")[0]
        == main.split("csrfmiddlewaretoken")[0]
    )


def test_it_serves_a_cached_portal_page_with_the_lookup_only(
    client: Any,
    tenant: Company,
    customer: Customer,
    portal_token: str,
    django_assert_num_queries: Any,
) -> None:
    factories.make_invoice(tenant, customer)
    client.get(f"/portal/{portal_token}")  # the first visit creates the rows' invoice links
    first = _html(client.get(f"/portal/{portal_token}"))
    # 1 the token lookup: customer and company, with the Stripe connection, whether the
    # Documents tab shows and the portal's data version, read by the same query.
    with django_assert_num_queries(1):
        second = client.get(f"/portal/{portal_token}")
    assert (
        _html(second).split("<main", 1)[1].split("</main>")[0]
        == first.split("<main", 1)[1].split("</main>")[0]
    )


def test_it_records_every_view_of_a_cached_page(client: Any, invoice: Invoice, token: str) -> None:
    from tracking.selectors import view_stats_for_invoice

    browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
    for n in range(3):
        client.get(f"/invoice/{token}", REMOTE_ADDR=f"198.51.100.{n + 1}", HTTP_USER_AGENT=browser)
    assert view_stats_for_invoice(invoice=invoice).view_count == 3


# Per request: the nonce and the CSRF token ---------------------------------------------------


def test_it_puts_the_responses_own_nonce_in_the_body_and_the_header(
    client: Any, invoice: Invoice, token: str
) -> None:
    nonces = []
    for _ in range(3):
        response = client.get(f"/invoice/{token}")
        assert _body_nonces(response) == {_header_nonce(response)}
        nonces.append(_header_nonce(response))
    assert len(set(nonces)) == 3
    portal = factories.portal_token(invoice.customer)
    first, second = client.get(f"/portal/{portal}"), client.get(f"/portal/{portal}")
    assert _body_nonces(second) == {_header_nonce(second)} != _body_nonces(first)


def test_a_cached_page_gives_a_new_browser_a_csrf_token_django_accepts(
    invoice: Invoice, token: str
) -> None:
    Client().get(f"/invoice/{token}")  # another browser stores the page
    browser = Client(enforce_csrf_checks=True)
    response = browser.get(f"/invoice/{token}")
    page = _html(response)
    assert '<"' not in page
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None
    # The new browser's secret is set with the page, and the form's token unmasks to it.
    secret = response.cookies["csrftoken"].value
    assert csrf_answer(secret, found.group(1)) == 200
    assert csrf_answer(secret, "a" * 64) == 403


def test_a_cached_page_keeps_the_browsers_csrf_secret_under_a_fresh_mask(
    invoice: Invoice, token: str
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get(f"/invoice/{token}")  # stores the page; the browser gets its secret
    secret = browser.cookies["csrftoken"].value
    tokens = set()
    for _ in range(3):
        response = browser.get(f"/invoice/{token}")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _html(response))
        assert found is not None and len(found.group(1)) == 64
        assert found.group(1).isalnum() and secret not in found.group(1)
        tokens.add(found.group(1))
        # The cookie is renewed with the same secret, never replaced.
        assert response.cookies["csrftoken"].value == secret
        assert csrf_answer(secret, found.group(1)) == 200
    assert len(tokens) == 3


# Nothing stale ------------------------------------------------------------------------------


def test_it_shows_a_new_comment_at_once(client: Any, invoice: Invoice, token: str) -> None:
    from portal.comments.services import comment_post

    assert "No comments yet" in _html(_cached(client, f"/invoice/{token}"))
    comment_post(invoice=invoice, name="Ada", email="ada@example.com", body="Where is line 2?")
    html = _html(client.get(f"/invoice/{token}"))
    assert "Where is line 2?" in html


def test_it_shows_a_payment_and_the_status_at_once(
    client: Any, invoice: Invoice, token: str
) -> None:
    from payments.services import payment_record_offline

    assert "paid-notice" not in _html(_cached(client, f"/invoice/{token}"))
    payment_record_offline(invoice=invoice, amount=10000, method="bank_transfer")
    html = _html(client.get(f"/invoice/{token}"))
    assert 'data-testid="paid-notice"' in html and "Last payment of $100.00" in html
    assert 'data-testid="summary-amount-due">$243.81<' in html
    invoice.refresh_from_db()
    payment_record_offline(invoice=invoice, amount=invoice.amount_due, method="bank_transfer")
    html = _html(client.get(f"/invoice/{token}"))
    assert "badge-paid" in html and "badge-open" not in html


def test_it_shows_a_voided_invoice_at_once(client: Any, invoice: Invoice, token: str) -> None:
    assert "badge-open" in _html(_cached(client, f"/invoice/{token}"))
    services.invoice_transition(invoice=invoice, to_status="void")
    html = _html(client.get(f"/invoice/{token}"))
    assert "badge-void" in html and "voided" in html


def test_it_shows_company_changes_at_once(
    client: Any, tenant: Company, invoice: Invoice, token: str
) -> None:
    url = f"/invoice/{token}"
    assert "--brand: #0f766e" not in _html(_cached(client, url))
    services.company_update(company=tenant, changes={"brand_color": "#0f766e"})
    assert "--brand: #0f766e" in _html(_cached(client, url))
    services.company_update(
        company=tenant,
        changes={"bank_account_holder": "Tenant Ltd", "iban": "DE89370400440532013000"},
    )
    assert "DE89 3704 0044 0532 0130 00" in _html(_cached(client, url))
    services.company_update(company=tenant, changes={"name": "Tenant Renamed GmbH"})
    assert "Tenant Renamed GmbH" in _html(client.get(url))


def test_the_rows_digest_names_every_shown_column_by_its_content(tenant: Company) -> None:
    from django.core.files.base import ContentFile

    from portal.page_cache import rows_digest

    def digest() -> tuple[object, ...]:
        return rows_digest([Company.objects.get(pk=tenant.pk)])

    tenant.logo.save("logo.png", ContentFile(b"not read"), save=True)
    first = digest()
    (row,) = first
    columns = [f for f in Company._meta.concrete_fields if f.attname != "next_invoice_sequence"]
    assert row[0] == "Company" and len(row) == 1 + len(columns)
    # A file is its name, not the FieldFile object (whose text would differ by load).
    assert tenant.logo.name in row and not any(
        type(value).__name__ == "ImageFieldFile" for value in row
    )
    assert digest() == first
    Company.objects.filter(pk=tenant.pk).update(next_invoice_sequence=99)
    assert digest() == first
    Company.objects.filter(pk=tenant.pk).update(brand_color="#123456")
    assert digest() != first


def test_it_offers_payment_as_soon_as_stripe_connects_and_not_after(
    client: Any, tenant: Company, invoice: Invoice, token: str
) -> None:
    from payments.services import stripe_connection_save

    url = f"/invoice/{token}"
    assert "pay-action" not in _html(_cached(client, url))
    stripe_connection_save(company=tenant, secret_key="sk_test_x", webhook_secret="whsec_x")
    assert "pay-action" in _html(_cached(client, url))
    stripe_connection_save(company=tenant, secret_key=None, webhook_secret=None, active=False)
    assert "pay-action" not in _html(client.get(url))


def test_it_speaks_each_language_of_its_own(client: Any, invoice: Invoice, token: str) -> None:
    url = f"/invoice/{token}"
    assert "Amount due" in _html(_cached(client, url))
    assert "Offener Betrag" in _html(_cached(client, url, HTTP_ACCEPT_LANGUAGE="de"))
    assert "Amount due" in _html(client.get(url))
    german = _html(client.get(f"{url}?lang=de"))
    assert 'lang="de"' in german and "Offener Betrag" in german


def test_it_turns_overdue_the_day_after_the_due_date(
    client: Any, tenant: Company, customer: Customer, monkeypatch: Any
) -> None:
    invoice = factories.make_invoice(tenant, customer, due_in_days=0)
    url = f"/invoice/{factories.share_token(invoice)}"
    assert "badge-overdue" not in _html(_cached(client, url))
    tomorrow = timezone.now() + dt.timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    assert "badge-overdue" in _html(client.get(url))


def test_it_runs_the_custom_script_on_the_company_domain_only(client: Any) -> None:
    acme = factories.make_company(
        slug="acme", name="Acme", portal_domain=A_HOST, portal_custom_js=JS
    )
    url = f"/invoice/{factories.share_token(factories.make_invoice(acme))}"
    own = _cached(client, url, HTTP_HOST=A_HOST)
    assert "portal-custom-js" in _html(own)
    assert f"http://{A_HOST}/portal-assets/" in own["Content-Security-Policy"]
    shared = _cached(client, url)
    assert "portal-custom-js" not in _html(shared)
    assert "portal-assets" not in shared["Content-Security-Policy"]
    again = client.get(url, HTTP_HOST=A_HOST)
    assert "portal-custom-js" in _html(again)
    assert f"http://{A_HOST}/portal-assets/" in again["Content-Security-Policy"]


def test_it_shows_new_portal_data_and_tabs_at_once(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    from portal.documents.models import Document

    url = f"/portal/{portal_token}"
    assert 'data-tab="documents"' not in _html(_cached(client, url))
    invoice = factories.make_invoice(tenant, customer)
    assert invoice.number + "<" in _html(_cached(client, url))
    Document.objects.create(
        company=tenant,
        title="Terms",
        file="documents/terms.pdf",
        filename="terms.pdf",
        content_type="application/pdf",
        size=10,
        visibility="customers",
        audience="all_customers",
    )
    assert 'data-tab="documents"' in _html(client.get(url))


# Nothing of one link on another's page ----------------------------------------------------


def test_it_keeps_identical_pages_of_two_links_apart(client: Any, tenant: Company) -> None:
    other = factories.make_company(slug="twin", name="Tenant Ltd", plan="pro")
    pages = {}
    for company in (tenant, other, tenant):
        customer = factories.make_customer(company, name="Ada Lovelace")
        invoice = factories.make_invoice(company, customer, lines=[("Work", "1", 1000, "0")])
        token = factories.share_token(invoice)
        _cached(client, f"/invoice/{token}")
        pages[token] = _html(client.get(f"/invoice/{token}"))
    for token, html in pages.items():
        assert f"/invoice/{token}/pdf" in html
        for other_token in pages.keys() - {token}:
            assert other_token not in html


def test_it_keeps_the_portal_pages_of_two_customers_apart(client: Any, tenant: Company) -> None:
    tokens = []
    for _ in range(2):
        customer = factories.make_customer(tenant, name="Ada Lovelace")
        factories.make_invoice(tenant, customer, lines=[("Work", "1", 1000, "0")])
        tokens.append(factories.portal_token(customer))
    pages = [_html(_cached(client, f"/portal/{token}")) for token in tokens]
    for mine, theirs, html in ((0, 1, pages[0]), (1, 0, pages[1])):
        assert f"/portal/{tokens[mine]}/invoices" in html
        assert tokens[theirs] not in html


# A cache outage ------------------------------------------------------------------------------


def test_it_serves_the_pages_when_the_cache_is_down(
    client: Any, settings: Any, invoice: Invoice, token: str
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # Nothing listens on port 1: a real connection failure.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with contextlib.suppress(AttributeError, KeyError):
        del caches["default"]
    for _ in range(2):
        response = client.get(f"/invoice/{token}")
        assert invoice.number in _html(response)
        assert _body_nonces(response) == {_header_nonce(response)}
    portal = client.get(f"/portal/{factories.portal_token(invoice.customer)}")
    assert invoice.number in _html(portal)


def test_it_renders_head_requests_and_unknown_queries_as_before(
    client: Any, invoice: Invoice, token: str, django_assert_num_queries: Any
) -> None:
    head = client.head(f"/invoice/{token}")
    assert head.status_code == 200 and head.content == b""
    odd = _html(_cached(client, f"/invoice/{token}?utm_campaign=x"))
    assert "utm_campaign=x" in odd  # the language switcher keeps it, as before
    assert client.get(f"/invoice/{token}x").status_code == 404
    # Made-up values are rendered every time, never stored (they cannot fill the cache):
    # 1 the lookup, 2-4 tracking (the document fragment is cached; the lookup counted no
    # comments, so the thread asks nothing).
    client.get(f"/invoice/{token}?source=made-up")
    with django_assert_num_queries(4):
        client.get(f"/invoice/{token}?source=made-up")


def _fragments(kind: str) -> list[str]:
    cache = caches["default"]
    assert hasattr(cache, "keys"), "these tests read the keys of the Redis cache"
    return list(cache.keys(f"*portal:html:v1:{kind}:*"))


def test_a_page_cached_whole_keeps_no_copy_of_its_parts(
    client: Any, invoice: Invoice, token: str, portal_token: str
) -> None:
    client.get(f"/invoice/{token}")
    client.get(f"/portal/{portal_token}")
    assert _fragments("page:invoice") and _fragments("page:portal")
    assert _fragments("document") == [] == _fragments("cards") == _fragments("portal")
    # A page never cached whole (here: a query it does not know; a signed-in customer's) keeps
    # its parts, so the next one renders only what changed.
    client.get(f"/invoice/{token}?utm_campaign=x")
    client.get(f"/portal/{portal_token}?utm_campaign=x")
    assert len(_fragments("document")) == len(_fragments("cards")) == 1
    assert len(_fragments("portal")) == 1


@pytest.mark.parametrize(
    ("audience", "visibility", "whose", "status"),
    [
        ("all_customers", "customers", "mine", "open"),
        ("all_customers", "staff", "mine", "open"),
        ("customer", "customers", "mine", "open"),
        ("customer", "customers", "theirs", "open"),
        ("invoice", "customers", "mine", "open"),
        ("invoice", "customers", "mine", "draft"),
        ("invoice", "customers", "theirs", "open"),
    ],
)
def test_the_lookup_knows_the_documents_tab_as_the_tab_itself_does(
    tenant: Company, customer: Customer, audience: str, visibility: str, whose: str, status: str
) -> None:
    from invoices.selectors import customer_for_portal_token
    from portal.documents.models import Document
    from portal.documents.selectors import HAS_DOCUMENTS_SQL, customer_has_documents

    owner = customer if whose == "mine" else factories.make_customer(tenant)
    Document.objects.create(
        company=tenant,
        title="Terms",
        file="documents/terms.pdf",
        filename="terms.pdf",
        content_type="application/pdf",
        size=10,
        visibility=visibility,
        audience=audience,
        customer=owner if audience == "customer" else None,
        invoice=factories.make_invoice(tenant, owner, status=status)
        if audience == "invoice"
        else None,
    )
    found = customer_for_portal_token(
        factories.portal_token(customer), annotate={"has_documents": HAS_DOCUMENTS_SQL}
    )
    assert found is not None
    expected = (audience == "all_customers" and visibility == "customers") or (
        whose == "mine" and status == "open" and audience != "all_customers"
    )
    assert bool(found.has_documents) is customer_has_documents(customer=customer) is expected  # type: ignore[attr-defined]


def test_every_template_a_page_can_render_is_in_the_keys() -> None:
    """A deploy that changes any template of any engine (Django's, Jinja2's, the apps' own
    folders) changes every page's key."""
    root = Path(settings.BASE_DIR)
    ours = [
        Path(folder)
        for engine in engines.all()
        for folder in engine.template_dirs
        if Path(folder).is_relative_to(root) and ".venv" not in Path(folder).parts
    ]
    assert root / "jinja_templates" in ours
    templates = {file for folder in ours for file in folder.rglob("*.html")}
    assert root / "jinja_templates" / "portal" / "_portal_body.html" in templates
    assert templates - set(page_source_files()) == set()
