"""/portal/<token>/statement, .csv and .pdf."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache

from invoices import services
from invoices.models import Company, Customer
from invoices.timezones import company_today
from payments import statements
from payments.services import payment_record_offline
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(customer: Customer) -> str:
    return factories.portal_token(customer)


@pytest.fixture
def ledger(tenant: Company, customer: Customer) -> dict[str, Any]:
    today = company_today(tenant)
    first = statements.month_start(today, 1)
    invoice = factories.make_invoice(
        tenant, customer, lines=[("A", "1", 12000, "0")], issue_date=first, due_in_days=5
    )
    paid_at = dt.datetime.combine(first + dt.timedelta(days=2), dt.time(12), tzinfo=dt.UTC)
    payment_record_offline(invoice=invoice, amount=2000, method="cash", paid_at=paid_at)
    services.credit_note_create(company=tenant, customer=customer, currency="usd", amount=500)
    return {"today": today, "first": first, "invoice": invoice}


def test_it_shows_a_month_with_its_rows_and_summary(
    client: Any, token: str, ledger: dict[str, Any]
) -> None:
    month = ledger["first"].strftime("%Y-%m")
    response = client.get(f"/portal/{token}/statement?month={month}&lang=en")
    assert response.status_code == 200
    html = response.content.decode()
    assert ledger["invoice"].number in html
    assert "$120.00" in html and "$20.00" in html and "$100.00" in html
    assert "Closing balance" in html and "Aging by due date" in html
    assert f'value="{month}" selected' in html
    assert f"statement.pdf?type=balance_forward&amp;currency=usd&amp;month={month}" in html
    assert response["Cache-Control"] == "no-store"


def test_it_shows_open_items_as_of_a_day(client: Any, token: str, ledger: dict[str, Any]) -> None:
    response = client.get(f"/portal/{token}/statement?type=open_item&lang=en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Statement of open items" in html
    assert "$100.00" in html and "-$5.00" in html and "$95.00" in html


def test_it_offers_37_months_and_a_currency_switcher(
    client: Any, tenant: Company, customer: Customer, token: str
) -> None:
    factories.make_invoice(tenant, customer)
    factories.make_invoice(tenant, customer, currency="eur")
    html = client.get(f"/portal/{token}/statement").content.decode()
    assert html.count('<option value="20') == 37
    assert 'name="currency"' in html and ">EUR<" in html and ">USD<" in html


@pytest.mark.parametrize(
    "query",
    ["?type=monthly", "?month=2020-01", "?as_of=31-12-2025", "?from=x", "?currency=gbp"],
)
def test_it_answers_400_with_a_message_for_bad_values(
    client: Any, customer: Customer, token: str, query: str
) -> None:
    factories.make_invoice(customer.company, customer)
    for suffix in ("", ".csv", ".pdf"):
        response = client.get(f"/portal/{token}/statement{suffix}{query}")
        assert response.status_code == 400
        assert 'data-testid="statement-error"' in response.content.decode()


def test_a_bad_token_gets_the_not_found_page(client: Any) -> None:
    for suffix in ("", ".csv", ".pdf"):
        response = client.get(f"/portal/not-a-token/statement{suffix}")
        assert response.status_code == 404
        assert "Invoice not found" in response.content.decode()


def test_the_csv_has_the_same_rows_with_a_bom(
    client: Any, tenant: Company, customer: Customer, token: str, ledger: dict[str, Any]
) -> None:
    month = ledger["first"].strftime("%Y-%m")
    response = client.get(f"/portal/{token}/statement.csv?month={month}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    lines = body.lstrip("\ufeff").splitlines()
    number = ledger["invoice"].number
    assert lines == [
        "date,type,number,currency,debit,credit,balance",
        f"{ledger['first'].isoformat()},opening_balance,,usd,,,0.00",
        f"{ledger['first'].isoformat()},invoice,{number},usd,120.00,,120.00",
        f"{(ledger['first'] + dt.timedelta(days=2)).isoformat()},payment,{number},usd,,20.00,100.00",
        f"{statements.month_end(ledger['first']).isoformat()},closing_balance,,usd,,,100.00",
    ]


def test_the_csv_defuses_formulas_but_not_negative_numbers(
    client: Any, tenant: Company, customer: Customer, token: str
) -> None:
    tenant.invoice_prefix = "=HYPERLINK("
    tenant.save()
    factories.make_invoice(tenant, customer, lines=[("A", "1", 100, "0")])
    services.credit_note_create(company=tenant, customer=customer, currency="usd", amount=300)
    body = client.get(f"/portal/{token}/statement.csv?type=open_item").content.decode()
    assert "'=HYPERLINK(" in body
    assert ",-3.00" in body


def test_the_pdf_is_rendered_once_and_cached(
    client: Any, token: str, ledger: dict[str, Any], monkeypatch: Any
) -> None:
    cache.clear()
    from payments import statement_document

    renders = []
    real = statement_document.render_pdf

    def counting(html: str) -> bytes:
        renders.append(html)
        return real(html)

    monkeypatch.setattr(statement_document, "render_pdf", counting)
    first = client.get(f"/portal/{token}/statement.pdf?lang=de")
    assert first.status_code == 200
    assert first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    assert client.get(f"/portal/{token}/statement.pdf?lang=de").content == first.content
    assert len(renders) == 1
    assert "Kontoauszug" in renders[0]
    # Another language is another rendering.
    client.get(f"/portal/{token}/statement.pdf?lang=fr")
    assert len(renders) == 2


def test_the_rendered_statement_is_reused_and_never_stale(
    client: Any, tenant: Company, customer: Customer, token: str, ledger: dict[str, Any]
) -> None:
    cache.clear()
    url = f"/portal/{token}/statement?type=open_item&lang=en"
    first = client.get(url).content.decode()
    assert client.get(url).content.decode().count("$95.00") == first.count("$95.00") > 0
    # A payment changes the statement: the cached table is not served for it.
    payment_record_offline(invoice=ledger["invoice"], amount=3000, method="cash")
    after = client.get(url).content.decode()
    assert "$65.00" in after and "$95.00" not in after
    # Nor is one language's table served in another.
    assert "Offene-Posten-Auszug" not in after
    assert "Offene-Posten-Auszug" in client.get(url.replace("lang=en", "lang=de")).content.decode()


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_it_speaks_each_language(
    client: Any, token: str, ledger: dict[str, Any], language: str
) -> None:
    response = client.get(f"/portal/{token}/statement?lang={language}")
    assert response.status_code == 200
    assert response["Content-Language"] == language
    expected = {
        "en": "Closing balance",
        "de": "Schlusssaldo",
        "fr": "Solde de clôture",
        "es": "Saldo final",
    }
    assert expected[language] in response.content.decode()


def test_the_portal_links_to_the_statement(client: Any, token: str) -> None:
    html = client.get(f"/portal/{token}").content.decode()
    assert f"/portal/{token}/statement?lang=" in html


def test_it_uses_a_constant_number_of_queries(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    ledger: dict[str, Any],
    django_assert_num_queries: Any,
) -> None:
    client.get(f"/portal/{token}/statement")
    for _ in range(15):
        invoice = factories.make_invoice(tenant, customer, lines=[("More", "1", 100, "0")])
        payment_record_offline(invoice=invoice, amount=50, method="cash")
    # 1 the customer and company by the token; 2-6 the ledger: invoices with their void day,
    # credit notes, payments, refunds, credit applications; "Pay balance": 7 the invoices
    # due (at most 100), 8 the credit notes, 9 whether Stripe is connected; 10 whether the
    # customer has shared documents (the Documents tab). The same for any ledger size:
    # customers open this from emails and accounts-payable clerks page through 37 months.
    for query in ("", "?type=open_item", "?month=" + ledger["first"].strftime("%Y-%m")):
        with django_assert_num_queries(10):
            assert client.get(f"/portal/{token}/statement{query}").status_code == 200
