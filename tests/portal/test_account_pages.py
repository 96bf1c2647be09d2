"""The customer's account under the portal token: the home's cards, the activity lists and
their filters, the exports (CSV, ZIP of PDFs), payment receipts; isolation, headers and query
counts that stay the same from 1 to 500 invoices."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from django.utils import timezone

from invoices import services
from invoices.models import Company, Customer, Invoice
from invoices.timezones import company_today
from payments.services import payment_record_offline
from tests import factories

pytestmark = pytest.mark.django_db

SUB_PAGES = (
    "",
    "/invoices",
    "/invoices.csv",
    "/invoices.zip",
    "/credit-notes",
    "/payments",
    "/statement",
)


def _html(response: Any) -> str:
    return response.content.decode()


def _between(html: str, start: str, end: str = "</dd>") -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def _copies(template: Invoice, count: int, **changes: Any) -> list[Invoice]:
    """``count`` copies of a real invoice, in one insert (500 through the services would take
    minutes)."""
    copies = []
    for n in range(count):
        values = {f.attname: getattr(template, f.attname) for f in Invoice._meta.concrete_fields}
        values.update(
            id=None,
            public_id=f"inv_copy{template.pk}x{n}",
            sequence=10_000 + template.pk * 1000 + n,
            number=f"COPY-{template.pk}-{n}",
            **changes,
        )
        copies.append(Invoice(**values))
    return Invoice.objects.bulk_create(copies)


# The home -----------------------------------------------------------------------------------


def test_it_shows_the_cards_per_currency_never_summed(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    today = company_today(tenant)
    # USD: one not yet due (100), one due today (20), one 10 days late (30), one 45 days
    # late (40), one 100 days late (50); EUR: one 70 days late (9.99).
    for amount, due_in in ((10000, 5), (2000, 0), (3000, -10), (4000, -45), (5000, -100)):
        factories.make_invoice(
            tenant,
            customer,
            lines=[("Work", "1", amount, "0")],
            issue_date=today - dt.timedelta(days=120),
            due_in_days=120 + due_in,
        )
    factories.make_invoice(
        tenant,
        customer,
        currency="eur",
        lines=[("Arbeit", "1", 999, "0")],
        issue_date=today - dt.timedelta(days=100),
        due_in_days=30,
    )
    paid = factories.make_invoice(tenant, customer, lines=[("Old", "1", 700, "0")])
    payment_record_offline(invoice=paid, amount=700, method="bank_transfer")
    services.credit_note_create(company=tenant, customer=customer, currency="eur", amount=250)

    html = _html(client.get(f"/portal/{portal_token}"))
    usd = _between(html, 'data-testid="cards-usd"', "</section>")
    eur = _between(html, 'data-testid="cards-eur"', "</section>")
    assert _between(usd, 'data-testid="due-now">') == "$140.00"
    assert _between(usd, 'data-testid="overdue">').startswith("$120.00")
    assert '"overdue-count">3 invoices<' in usd
    assert _between(usd, 'data-testid="not-yet-due">') == "$100.00"
    assert _between(usd, 'data-testid="credit-available">') == "$0.00"
    assert _between(usd, 'data-testid="last-payment">').startswith("$7.00")
    aging = _between(usd, 'data-testid="aging"', "</table>")
    for label, amount in (
        ("Current", "$120.00"),
        ("1–30 days", "$30.00"),  # noqa: RUF001
        ("31–60 days", "$40.00"),  # noqa: RUF001
        ("61–90 days", "$0.00"),  # noqa: RUF001
        ("Over 90 days", "$50.00"),
    ):
        assert f'data-label="{label}">{amount}<' in aging
    assert _between(eur, 'data-testid="overdue">').startswith("€9.99")
    assert '"overdue-count">1 invoice<' in eur
    assert 'data-label="61–90 days">€9.99<' in eur  # noqa: RUF001
    assert _between(eur, 'data-testid="credit-available">') == "€2.50"
    assert "No payments yet" in _between(eur, 'data-testid="last-payment">')
    # Never one figure adding dollars and euros.
    assert "$149.99" not in html and "$240.00" not in usd.replace("$240.00", "x")


def test_it_counts_days_in_the_company_time_zone(
    client: Any, tenant: Company, customer: Customer, portal_token: str, monkeypatch: Any
) -> None:
    tenant.time_zone = "Pacific/Kiritimati"  # UTC+14: often a day ahead of UTC
    tenant.save(update_fields=["time_zone"])
    moment = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # 11 March, 02:00 there
    monkeypatch.setattr(timezone, "now", lambda: moment)
    factories.make_invoice(
        tenant,
        customer,
        lines=[("Work", "1", 1000, "0")],
        issue_date=dt.date(2026, 3, 1),
        due_in_days=9,  # due 10 March: overdue there, not yet in UTC
    )
    html = _html(client.get(f"/portal/{portal_token}"))
    assert _between(html, 'data-testid="overdue">').startswith("$10.00")
    assert 'data-label="1–30 days">$10.00<' in html  # noqa: RUF001


def test_it_says_when_nothing_is_due(client: Any, portal_token: str) -> None:
    html = _html(client.get(f"/portal/{portal_token}"))
    assert 'data-testid="nothing-due"' in html
    assert 'aria-current="page">Home<' in html


def test_it_offers_pay_everything_due_only_with_stripe(
    client: Any, tenant: Company, customer: Customer, portal_token: str, request: Any
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    assert "Pay everything due" not in _html(client.get(f"/portal/{portal_token}"))
    request.getfixturevalue("stripe_connected")
    html = _html(client.get(f"/portal/{portal_token}"))
    form = _between(html, 'class="pay-due"', "</form>")
    assert f'action="/portal/{portal_token}/pay?lang=en"' in form
    assert f'name="invoice" value="{invoice.public_id}"' in form
    assert "Pay everything due in USD" in form


def test_it_puts_the_tabs_on_every_account_page(
    client: Any, customer: Customer, portal_token: str
) -> None:
    for path, current in (
        ("", "Home"),
        ("/invoices", "Invoices"),
        ("/credit-notes", "Credit notes"),
        ("/payments", "Payments"),
        ("/statement", "Statement"),
    ):
        html = _html(client.get(f"/portal/{portal_token}{path}"))
        nav = _between(html, '<nav class="account-nav"', "</nav>")
        assert f'aria-current="page">{current}<' in nav, path
        assert nav.count('aria-current="page"') == 1
        # Documents and Billing details wait for their pages to say they have something.
        assert "Documents" not in nav and "Billing details" not in nav


# The invoices list ----------------------------------------------------------------------------


@pytest.fixture
def mixed(tenant: Company, customer: Customer) -> dict[str, Invoice]:
    today = company_today(tenant)
    made = {
        "open": factories.make_invoice(
            tenant, customer, lines=[("A", "1", 1000, "0")], issue_date=today
        ),
        "overdue": factories.make_invoice(
            tenant,
            customer,
            lines=[("B", "1", 3000, "0")],
            issue_date=today - dt.timedelta(days=60),
        ),
        "paid": factories.make_invoice(
            tenant,
            customer,
            lines=[("C", "1", 2000, "0")],
            issue_date=today - dt.timedelta(days=10),
        ),
        "void": factories.make_invoice(
            tenant,
            customer,
            lines=[("D", "1", 4000, "0")],
            issue_date=today - dt.timedelta(days=5),
            status="void",
        ),
        "draft": factories.make_invoice(tenant, customer, status="draft"),
    }
    payment_record_offline(invoice=made["paid"], amount=2000, method="bank_transfer")
    made["paid"].refresh_from_db()
    assert made["paid"].status == "paid"
    return made


def _listed(html: str) -> list[str]:
    body = html.split('data-testid="invoice-list"', 1)
    if len(body) < 2:
        return []
    rows = body[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    return [row.split('">', 2)[2].split("</a>")[0] for row in rows]


def test_it_filters_invoices_by_status(
    client: Any, portal_token: str, mixed: dict[str, Invoice]
) -> None:
    url = f"/portal/{portal_token}/invoices"

    def numbers(*keys: str) -> set[str]:
        return {mixed[key].number for key in keys}

    assert set(_listed(_html(client.get(url)))) == numbers("open", "overdue", "paid")
    assert set(_listed(_html(client.get(url + "?status=all")))) == numbers(
        "open", "overdue", "paid"
    )
    assert set(_listed(_html(client.get(url + "?status=open")))) == numbers("open", "overdue")
    assert set(_listed(_html(client.get(url + "?status=overdue")))) == numbers("overdue")
    assert set(_listed(_html(client.get(url + "?status=paid")))) == numbers("paid")
    assert set(_listed(_html(client.get(url + "?status=void")))) == numbers("void")
    # Drafts never, whatever is asked.
    for status in ("all", "open", "overdue", "paid", "void"):
        assert mixed["draft"].number not in _html(client.get(f"{url}?status={status}"))


def test_it_filters_by_dates_and_number_and_sorts(
    client: Any, tenant: Company, portal_token: str, mixed: dict[str, Invoice]
) -> None:
    url = f"/portal/{portal_token}/invoices"
    today = company_today(tenant)
    since = (today - dt.timedelta(days=10)).isoformat()
    assert set(_listed(_html(client.get(f"{url}?from={since}")))) == {
        mixed["open"].number,
        mixed["paid"].number,
    }
    until = (today - dt.timedelta(days=10)).isoformat()
    assert set(_listed(_html(client.get(f"{url}?to={until}")))) == {
        mixed["overdue"].number,
        mixed["paid"].number,
    }
    # Both ends inclusive.
    assert _listed(_html(client.get(f"{url}?from={since}&to={since}"))) == [mixed["paid"].number]
    part = mixed["paid"].number[-3:]
    assert mixed["paid"].number in _listed(_html(client.get(f"{url}?q={part}")))
    assert _listed(_html(client.get(f"{url}?q=no-such-number"))) == []
    assert "No invoices match this filter." in _html(client.get(f"{url}?q=no-such-number"))
    by_total = _listed(_html(client.get(f"{url}?sort=total&order=asc")))
    assert by_total == [mixed[k].number for k in ("open", "paid", "overdue")]
    by_due = _listed(_html(client.get(f"{url}?sort=amount_due&order=desc")))
    assert by_due == [mixed[k].number for k in ("overdue", "open", "paid")]
    newest = _listed(_html(client.get(url)))
    assert newest == [mixed[k].number for k in ("open", "paid", "overdue")]
    assert _listed(_html(client.get(f"{url}?sort=issue_date&order=asc"))) == newest[::-1]
    # Unknown parameters are ignored.
    assert _listed(_html(client.get(f"{url}?colour=blue&utm_source=x"))) == newest


def test_it_paginates_with_the_filter_in_the_links(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    template = factories.make_invoice(tenant, customer)
    _copies(template, 11)
    url = f"/portal/{portal_token}/invoices"
    first = _html(client.get(f"{url}?per_page=10&status=open"))
    assert len(_listed(first)) == 10 and "Page 1 of 2" in first
    assert 'href="?status=open&amp;page=2&amp;per_page=10&amp;lang=en"' in first
    second = _html(client.get(f"{url}?per_page=10&status=open&page=2"))
    assert len(_listed(second)) == 2
    assert not set(_listed(first)) & set(_listed(second))


@pytest.mark.parametrize(
    "query",
    [
        "per_page=7",
        "per_page=abc",
        "sort=password",
        "order=sideways",
        "status=draft",
        "from=2026-02-30",
        "to=yesterday",
        "from=2026-05-01&to=2026-04-01",
        "q=" + "x" * 101,
        "page=0",
        "page=-1",
        "page=1.5",
        "page=5",  # beyond the last page
    ],
)
def test_it_refuses_values_out_of_range_with_the_page(
    client: Any, portal_token: str, mixed: dict[str, Invoice], query: str
) -> None:
    for path in ("/invoices", "/invoices.csv", "/invoices.zip"):
        response = client.get(f"/portal/{portal_token}{path}?{query}")
        if path != "/invoices" and query == "page=5":
            # The exports take every page; the page number is not theirs.
            assert response.status_code == 200
            continue
        assert response.status_code == 400, (path, query)
        html = _html(response)
        assert 'data-testid="filter-error"' in html
        assert 'class="account-nav"' in html  # the page, not a bare error
        assert response["Cache-Control"] == "no-store"


def test_it_shows_pay_checkboxes_only_for_payable_rows(
    client: Any, tenant: Company, portal_token: str, mixed: dict[str, Invoice], request: Any
) -> None:
    url = f"/portal/{portal_token}/invoices"
    assert 'data-testid="pay-select"' not in _html(client.get(url))
    request.getfixturevalue("stripe_connected")
    html = _html(client.get(url))
    assert html.count('data-testid="pay-select"') == 2
    for key in ("open", "overdue"):
        assert f'value="{mixed[key].public_id}" form="pay-selected"' in html
    assert mixed["paid"].public_id not in html
    assert (
        f'<form id="pay-selected" class="pay-selected" method="post" action="/portal/{portal_token}/pay?lang=en">'
        in html
    )


# Exports ------------------------------------------------------------------------------------


def test_it_exports_the_filter_as_csv(
    client: Any, tenant: Company, customer: Customer, portal_token: str, mixed: dict[str, Invoice]
) -> None:
    payment_record_offline(invoice=mixed["open"], amount=250, method="cash")
    yen = factories.make_invoice(
        tenant, customer, currency="jpy", lines=[("Work", "1", 12345, "0")]
    )
    response = client.get(f"/portal/{portal_token}/invoices.csv?sort=number&order=asc")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="invoices.csv"' in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "number,issue_date,due_date,status,currency,total,amount_paid,amount_due"
    rows = {line.split(",")[0]: line for line in lines[1:]}
    assert set(rows) == {mixed[k].number for k in ("open", "overdue", "paid")} | {yen.number}
    open_invoice = mixed["open"]
    assert rows[open_invoice.number] == (
        f"{open_invoice.number},{open_invoice.issue_date},{open_invoice.due_date},"
        "open,USD,10.00,2.50,7.50"
    )
    assert rows[yen.number].endswith(",open,JPY,12345,0,12345")
    assert rows[mixed["paid"].number].endswith(",paid,USD,20.00,20.00,0.00")
    # The filter applies; void only when asked, with nothing due.
    void = client.get(f"/portal/{portal_token}/invoices.csv?status=void").content.decode()
    assert void.splitlines()[1].endswith(",void,USD,40.00,0.00,0.00")
    assert len(void.splitlines()) == 2


def test_it_keeps_formulas_out_of_the_csv(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    from portal.account.exports import safe_cell

    for text in ("=1+2", "+SUM(A1)", "-cmd", "@HYPERLINK()", "\t=x", "\r=x"):
        assert safe_cell(text) == "'" + text
    for text in ("-12.50", "+3", "12", "INV-0001", "2026-01-01"):
        assert safe_cell(text) == text
    invoice = factories.make_invoice(tenant, customer)
    Invoice.objects.filter(pk=invoice.pk).update(number='=HYPERLINK("http://x")')
    body = client.get(f"/portal/{portal_token}/invoices.csv").content.decode("utf-8-sig")
    assert body.splitlines()[1].startswith('"\'=HYPERLINK(""http://x"")",')


def test_it_exports_the_pdfs_as_a_zip(
    client: Any, tenant: Company, customer: Customer, portal_token: str, mixed: dict[str, Invoice]
) -> None:
    response = client.get(f"/portal/{portal_token}/invoices.zip?status=open&lang=de")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="invoices.zip"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == sorted(
        f"{mixed[k].number}.pdf" for k in ("open", "overdue")
    )
    for name in archive.namelist():
        assert archive.read(name).startswith(b"%PDF-")
    # The same PDF the invoice's own link serves (through the PDF store).
    token = factories.share_token(mixed["open"])
    own = client.get(f"/invoice/{token}/pdf?lang=de").content
    assert archive.read(f"{mixed['open'].number}.pdf") == own


def test_it_refuses_a_zip_of_more_than_200_invoices(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    template = factories.make_invoice(tenant, customer)
    _copies(template, 200)
    response = client.get(f"/portal/{portal_token}/invoices.zip")
    assert response.status_code == 400
    assert "at most 200 invoices" in _html(response)
    page = _html(client.get(f"/portal/{portal_token}/invoices"))
    assert 'data-testid="zip-limit"' in page and 'data-testid="export-zip"' not in page
    # Narrowed to 200, it is offered again.
    assert 'data-testid="export-zip"' in _html(
        client.get(f"/portal/{portal_token}/invoices?q=COPY")
    )


# Credit notes, payments, receipts -------------------------------------------------------------


def test_it_lists_credit_notes_with_what_is_left(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    note = services.credit_note_create(
        company=tenant, customer=customer, currency="usd", amount=5000, reason="Goodwill"
    )
    invoice = factories.make_invoice(tenant, customer, lines=[("A", "1", 1500, "0")])
    services.credit_note_apply(note=note, invoice=invoice, amount=1500)
    other = factories.make_customer(tenant)
    services.credit_note_create(company=tenant, customer=other, currency="usd", amount=777)
    html = _html(client.get(f"/portal/{portal_token}/credit-notes"))
    assert note.number in html and "Goodwill" in html
    assert 'data-label="Amount">$50.00<' in html
    assert 'data-label="Applied">$15.00<' in html
    assert 'data-label="Remaining">$35.00<' in html
    assert "$7.77" not in html


def test_it_lists_payments_with_allocations_and_receipts(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("A", "1", 10000, "0")])
    payment = payment_record_offline(
        invoice=invoice, amount=4000, method="bank_transfer", reference="SEPA-42"
    )
    neighbour = factories.make_customer(tenant)
    theirs = payment_record_offline(
        invoice=factories.make_invoice(tenant, neighbour), amount=500, method="cash"
    )
    html = _html(client.get(f"/portal/{portal_token}/payments"))
    assert "$40.00" in html and "Bank transfer" in html and "SEPA-42" in html
    assert f">{invoice.number}</a>: $40.00" in html
    receipt_url = f"/portal/{portal_token}/payments/{payment.public_id}/receipt.pdf"
    assert f'href="{receipt_url}?lang=en"' in html
    assert theirs.public_id not in html
    response = client.get(receipt_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert "attachment" in response["Content-Disposition"]
    # Another customer's payment through this token: the one not-found page.
    missing = client.get(f"/portal/{portal_token}/payments/{theirs.public_id}/receipt.pdf")
    assert missing.status_code == 404
    assert missing.content == client.get("/portal/nope").content


def test_it_refuses_list_pages_out_of_range(client: Any, portal_token: str) -> None:
    for path in ("/credit-notes", "/payments"):
        assert client.get(f"/portal/{portal_token}{path}?page=2").status_code == 400
        assert client.get(f"/portal/{portal_token}{path}?page=x").status_code == 400
        ok = client.get(f"/portal/{portal_token}{path}?page=1&unknown=1")
        assert ok.status_code == 200


# Tokens, isolation, headers, languages --------------------------------------------------------


def test_it_answers_every_bad_token_on_every_sub_page_with_the_same_page(
    client: Any, tenant: Company, customer: Customer
) -> None:
    from invoices.tokens import SHARE_LINK_PURPOSE, make_token, new_selector

    revoked = factories.portal_token(customer)
    services.portal_link_revoke(customer=customer)
    invoice_token = factories.share_token(factories.make_invoice(tenant, customer))
    unknown = make_token(new_selector(), purpose=SHARE_LINK_PURPOSE)
    reference = client.get("/portal/nope")
    for bad in (unknown, revoked, "nope", revoked[:-1] + "A", invoice_token):
        for path in (*SUB_PAGES, "/payments/pay_x/receipt.pdf"):
            response = client.get(f"/portal/{bad}{path}")
            assert response.status_code == 404, (bad, path)
            assert response.content == reference.content


def test_it_shows_nothing_of_other_customers_or_companies(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer, portal_token: str
) -> None:
    factories.make_invoice(tenant, customer)
    neighbour = factories.make_customer(tenant, name="Charles Babbage")
    theirs = factories.make_invoice(tenant, neighbour, lines=[("Secret", "1", 777700, "0")])
    stranger = factories.make_customer(other_tenant, name="Grace Hopper")
    factories.make_invoice(other_tenant, stranger, lines=[("F", "1", 424200, "0")])
    for path in SUB_PAGES:
        response = client.get(f"/portal/{portal_token}{path}?status=all")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        # (Numbers count per company: the foreign invoice may share ours, so its amount tells.)
        for leak in (theirs.number, "7,777.00", "4,242.00", "Babbage", "Hopper"):
            assert leak.encode() not in body, (path, leak)


def test_it_sends_the_customer_headers_on_every_account_page(
    client: Any, portal_token: str, mixed: dict[str, Invoice]
) -> None:
    payment = payment_record_offline(invoice=mixed["open"], amount=100, method="cash")
    for path in (
        *SUB_PAGES,
        "/invoices?per_page=7",
        f"/payments/{payment.public_id}/receipt.pdf",
    ):
        response = client.get(f"/portal/{portal_token}{path}")
        assert response["Cache-Control"] == "no-store", path
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert response["Referrer-Policy"] == "no-referrer"
        assert "Content-Security-Policy" in response
    for path in SUB_PAGES:
        assert client.post(f"/portal/{portal_token}{path}").status_code in (403, 405)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("de", ("Rechnungen", "Gutschriften", "Zahlungen", "Filter anwenden")),
        ("fr", ("Factures", "Avoirs", "Paiements", "Appliquer le filtre")),
        ("es", ("Facturas", "Notas de crédito", "Pagos", "Aplicar filtro")),
    ],
)
def test_it_speaks_the_customers_language(
    client: Any, portal_token: str, mixed: dict[str, Invoice], lang: str, words: tuple[str, ...]
) -> None:
    html = _html(client.get(f"/portal/{portal_token}/invoices?lang={lang}"))
    for word in words:
        assert word in html, (lang, word)
    refused = _html(client.get(f"/portal/{portal_token}/invoices?lang={lang}&per_page=7"))
    assert "per_page" in refused and "must be one of" not in refused


# Query counts -------------------------------------------------------------------------------


def test_it_uses_a_constant_number_of_queries_from_1_to_500_invoices(
    client: Any, tenant: Company, django_assert_num_queries: Any, request: Any
) -> None:
    request.getfixturevalue("stripe_connected")
    one = factories.make_customer(tenant)
    payment_record_offline(invoice=factories.make_invoice(tenant, one), amount=100, method="cash")
    services.credit_note_create(company=tenant, customer=one, currency="usd", amount=100)
    many = factories.make_customer(tenant)
    template = factories.make_invoice(tenant, many)
    payment_record_offline(invoice=template, amount=100, method="cash")
    services.credit_note_create(company=tenant, customer=many, currency="usd", amount=100)
    _copies(template, 499)
    # Why each count matters: customers with long histories open these pages most; a query
    # per row would make their pages the slowest.
    expected = {
        # 1 the token, 2 the count, 3 one page of invoices, 4 whether Stripe is connected,
        # 5 the rows' share links.
        "/invoices?per_page=100": 5,
        "/invoices?status=open&sort=amount_due&order=asc&q=0&from=2000-01-01": 5,
        # 1 the token, 2 the invoices (all of them, streamed from one query).
        "/invoices.csv": 2,
        # 1 the token, 2 the count, 3 one page of credit notes.
        "/credit-notes": 3,
        # 1 the token, 2 the count, 3 one page of payments with their invoices, 4 the
        # invoices' share links.
        "/payments": 4,
    }
    for who in (one, many):
        token = factories.portal_token(who)
        for path in expected:
            client.get(f"/portal/{token}{path}")  # the first visit creates row links
        for path, count in expected.items():
            with django_assert_num_queries(count):
                response = client.get(f"/portal/{token}{path}")
            assert response.status_code == 200, path
