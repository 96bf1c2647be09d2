"""The customer's statement of account: ``/portal/<token>/statement`` and its PDF and CSV.

The same portal token as the portal page (a bad one gets the one not-found page); the same
statement request (``payments.statements.statement_request``) as the API, so a bad value
answers 400 with the message that names it, never a 500.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.http import not_found
from core.i18n import activate_language
from invoices.document import brand_color
from invoices.models import Customer
from invoices.selectors import customer_for_portal_token, customer_languages
from invoices.timezones import company_today
from payments import statement_document, statements
from portal.account.layout import Account, account_context
from portal.pay_selected import pay_selected_for


@dataclass(frozen=True)
class _Asked:
    customer: Customer
    ledger: statements.Ledger
    today: dt.date
    lang: str


def _asked(request: HttpRequest, token: str) -> _Asked | None:
    customer = customer_for_portal_token(token)
    if customer is None:
        return None
    lang = activate_language(request, preferred=customer_languages(customer, customer.company))
    return _Asked(
        customer=customer,
        ledger=statements.customer_ledger(customer=customer),
        today=company_today(customer.company),
        lang=lang,
    )


def _params(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "") for name in statements.PARAMETERS}


def _page(
    request: HttpRequest,
    token: str,
    asked: _Asked,
    wanted: statements.StatementRequest | None,
    error: str = "",
) -> HttpResponse:
    company = asked.customer.company
    statement_html = None
    if wanted is not None:
        statement_html = statement_document.statement_html(
            company=company,
            customer=asked.customer,
            statement=statements.statement_build(ledger=asked.ledger, request=wanted),
            language=asked.lang,
            today=asked.today,
        )
    selected_month = wanted.month if wanted is not None else None
    frame = Account(customer=asked.customer, token=token, lang=asked.lang, today=asked.today)
    context = {
        **account_context(frame, active="statement"),
        "statement_html": statement_html,
        "error": error,
        "token": token,
        "lang": asked.lang,
        "kind": wanted.kind if wanted is not None else request.GET.get("type", ""),
        "months": statement_document.month_choices(
            today=asked.today, selected=selected_month, locale=asked.lang
        ),
        "currencies": statement_document.currency_choices(
            ledger=asked.ledger,
            selected=wanted.currency if wanted is not None else asked.ledger.default_currency(),
        ),
        "as_of": (wanted.as_of if wanted is not None else asked.today).isoformat(),
        "today": asked.today.isoformat(),
        "earliest": statements.month_start(asked.today, statements.MONTHS_OFFERED).isoformat(),
        "query": urlencode({**wanted.query(), "lang": asked.lang}) if wanted is not None else "",
        "customer_name": asked.customer.name,
        # "Pay balance": the invoices due in the statement's currency, in one payment.
        "pay_selected": pay_selected_for(
            customer=asked.customer,
            locale=asked.lang,
            currency=wanted.currency if wanted is not None else asked.ledger.default_currency(),
        ),
        "pay_heading": _("Pay balance"),
        "brand_color": brand_color(company),
        "company_name": company.name,
    }
    return render(request, "portal/statement.html", context, status=400 if error else 200)


@require_safe
def statement_page(request: HttpRequest, token: str) -> HttpResponse:
    asked = _asked(request, token)
    if asked is None:
        return not_found(request)
    try:
        wanted = statements.statement_request(
            params=_params(request), ledger=asked.ledger, today=asked.today
        )
    except statements.StatementRefused as refused:
        return _page(request, token, asked, None, error=refused.message)
    return _page(request, token, asked, wanted)


def _download(request: HttpRequest, token: str, extension: str) -> HttpResponse:
    asked = _asked(request, token)
    if asked is None:
        return not_found(request)
    try:
        wanted = statements.statement_request(
            params=_params(request), ledger=asked.ledger, today=asked.today
        )
    except statements.StatementRefused as refused:
        return _page(request, token, asked, None, error=refused.message)
    statement = statements.statement_build(ledger=asked.ledger, request=wanted)
    if extension == "csv":
        body = ("\ufeff" + statement_document.statement_csv(statement=statement)).encode()
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    else:
        body = statement_document.statement_pdf(
            company=asked.customer.company,
            customer=asked.customer,
            statement=statement,
            language=asked.lang,
            today=asked.today,
        )
        response = HttpResponse(body, content_type="application/pdf")
    filename = statement_document.statement_filename(wanted, extension)
    response["Content-Disposition"] = content_disposition_header(True, filename) or ""
    response["Content-Length"] = str(len(body))
    return response


@require_safe
def statement_csv(request: HttpRequest, token: str) -> HttpResponse:
    return _download(request, token, "csv")


@require_safe
def statement_pdf(request: HttpRequest, token: str) -> HttpResponse:
    return _download(request, token, "pdf")
