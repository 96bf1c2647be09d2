"""The hosted Checkout page (``Session.url``): a plain HTML form, no JavaScript needed.

Browser tests and plain HTTP tests drive it the same way:
``GET /checkout/<cs id>`` shows the line items, total, an email field (``#email``, name
``email``), a card number field prefilled with 4242 4242 4242 4242 (``#card-number``, name
``card_number``), ``<button id="pay-button">Pay</button>`` (form ``#payment-form``, POST
``/checkout/<id>/pay``) and, when the session has a cancel_url,
``<button id="cancel-button">Cancel</button>`` (form ``#cancel-form``, POST
``/checkout/<id>/cancel``).
Paying answers 303 to ``success_url`` (``{CHECKOUT_SESSION_ID}`` filled in); a declined card
answers 402 with the page again and the message in ``#error``; cancelling answers 303 to
``cancel_url`` and leaves the session open, as on Stripe.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs

from . import actions, cards
from .core import Context, Emulator
from .errors import StripeError
from .money import format_amount
from .objects import Obj
from .wire import Request, Response, html_response, redirect

_PATH = re.compile(r"/checkout/(?P<id>cs_test_[A-Za-z0-9]+)(?:/(?P<action>pay|cancel))?")


def handle(emulator: Emulator, request: Request) -> Response | None:
    match = _PATH.fullmatch(request.path)
    if match is None:
        return None
    action = match["action"]
    if (request.method, action) not in (("GET", None), ("POST", "pay"), ("POST", "cancel")):
        return html_response(405, _message_page("Method not allowed", ""))
    try:
        account = emulator.store.owner(match["id"])
    except StripeError:
        return html_response(404, _message_page("Not found", "This checkout link is not valid."))
    with account.lock:
        session = account.get(match["id"], "checkout.session")
        if action == "pay":
            ctx = emulator.context(account, base_url=request.base_url)
            return _pay(ctx, session, parse_qs(request.text()))
        if action == "cancel":
            return _cancel(session)
        return _show(session)


def _show(session: Obj) -> Response:
    if session["status"] == "complete":
        return html_response(200, _message_page("Payment complete", "You can close this page."))
    if session["status"] == "expired":
        return html_response(410, _message_page("Expired", "This checkout session has expired."))
    return html_response(200, _checkout_page(session))


def _pay(ctx: Context, session: Obj, form: dict[str, list[str]]) -> Response:
    if session["status"] == "complete":
        # A double-submitted form must not pay twice: send the customer on, like Stripe does.
        return _success(session)
    if session["status"] != "open":
        return _show(session)
    number = (form.get("card_number") or [""])[-1]
    email = (form.get("email") or [""])[-1].strip() or None
    if not number.strip():
        page = _checkout_page(session, error="Your card number is incomplete.", email=email)
        return html_response(400, page)
    try:
        card = cards.card_for_number(number, "card_number")
        actions.checkout_session_pay(ctx, session, card=card, email=email)
    except StripeError as exc:
        if exc.type != "card_error":
            raise
        page = _checkout_page(session, error=exc.message, email=email, number=number)
        return html_response(402, page)
    return _success(session)


def _success(session: Obj) -> Response:
    url = session["success_url"]
    if url is None:
        return html_response(200, _message_page("Payment complete", "You can close this page."))
    return redirect(url.replace("{CHECKOUT_SESSION_ID}", session["id"]))


def _cancel(session: Obj) -> Response:
    if session["cancel_url"] is None:
        return _show(session)
    return redirect(session["cancel_url"])


_STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1f36;
background:#f6f9fc}
main{max-width:28rem;margin:0 auto;padding:1.5rem 1rem}
.test-mode{display:inline-block;background:#ffde92;color:#7a4b00;font-size:.75rem;
font-weight:600;padding:.1rem .5rem;border-radius:.25rem;text-transform:uppercase}
h1{font-size:2rem;margin:.5rem 0 1rem}
ul{list-style:none;padding:0;margin:0 0 1.5rem;border-top:1px solid #e3e8ee}
li{display:flex;justify-content:space-between;gap:1rem;padding:.6rem 0;
border-bottom:1px solid #e3e8ee}
.qty{color:#697386;font-size:.875rem}
label{display:block;font-size:.875rem;margin:.75rem 0 .25rem}
input{width:100%;font-size:1rem;padding:.7rem;border:1px solid #cfd7df;border-radius:.4rem}
button{width:100%;font-size:1rem;padding:.8rem;border:0;border-radius:.4rem;margin-top:1rem;
cursor:pointer}
#pay-button{background:#635bff;color:#fff;font-weight:600}
#cancel-button{background:transparent;color:#635bff}
#error{color:#df1b41;background:#fff0f3;padding:.6rem;border-radius:.4rem}
.hint{color:#697386;font-size:.8rem}
"""


def _checkout_page(
    session: Obj, *, error: str | None = None, email: str | None = None, number: str = ""
) -> str:
    esc = html.escape
    currency = session["currency"]
    items = "".join(
        f'<li class="line-item"><span><span class="name">{esc(item["description"])}</span> '
        f'<span class="qty">&times; {item["quantity"]}</span></span>'
        f'<span class="amount">{esc(format_amount(item["amount_total"], currency))}</span></li>'
        for item in session["_line_items"]
    )
    error_html = f'<p id="error" role="alert">{esc(error)}</p>' if error else ""
    cancel = ""
    if session["cancel_url"] is not None:
        cancel = (
            f'<form id="cancel-form" method="post" action="/checkout/{esc(session["id"])}/cancel">'
            '<button id="cancel-button" type="submit">Cancel</button></form>'
        )
    email_value = email or session["customer_email"] or ""
    total = esc(format_amount(session["amount_total"], currency))
    body = f"""
<p class="test-mode">Test mode</p>
<p id="pay-label">Pay</p>
<h1 id="amount-total">{total}</h1>
<ul id="line-items">{items}</ul>
{error_html}
<form id="payment-form" method="post" action="/checkout/{esc(session["id"])}/pay">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" value="{esc(email_value)}">
<label for="card-number">Card number</label>
<input id="card-number" name="card_number" inputmode="numeric" autocomplete="cc-number"
 value="{esc(number or "4242 4242 4242 4242")}">
<button id="pay-button" type="submit">Pay</button>
</form>
{cancel}
<p class="hint">Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined,
4000 0000 0000 0259 stays processing.</p>
"""
    return _document("Checkout", body, session_id=session["id"], status=session["status"])


def _message_page(title: str, text: str) -> str:
    body = f'<h1 id="message-title">{html.escape(title)}</h1><p>{html.escape(text)}</p>'
    return _document(title, body)


def _document(title: str, body: str, *, session_id: str = "", status: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<main id="checkout" data-session-id="{html.escape(session_id)}" data-status="{html.escape(status)}">
{body}
</main>
</body>
</html>
"""


# -- The hosted invoice page (Invoice.hosted_invoice_url) ------------------------------------

_INVOICE_PATH = re.compile(r"/invoice_pages/(?P<id>in_[A-Za-z0-9]+)(?:/(?P<action>pay))?")


def handle_invoice_page(emulator: Emulator, request: Request) -> Response | None:
    """``GET /invoice_pages/<in id>``: the invoice's amount due and a card form;
    ``POST …/pay`` (``card_number``) pays it as Stripe's page does (a PaymentIntent attached
    to the invoice, confirmed with the card)."""
    match = _INVOICE_PATH.fullmatch(request.path)
    if match is None:
        return None
    from . import billing  # billing builds on the actions this module uses

    try:
        account = emulator.store.owner(match["id"])
    except StripeError:
        return html_response(404, _message_page("Not found", "This invoice link is not valid."))
    with account.lock:
        invoice = account.get(match["id"], "invoice")
        amount = format_amount(invoice["amount_remaining"], invoice["currency"])
        if match["action"] == "pay" and request.method == "POST":
            ctx = emulator.context(account, base_url=request.base_url)
            number = (parse_qs(request.text()).get("card_number") or ["4242424242424242"])[-1]
            try:
                billing.invoice_pay_with_card(ctx, invoice, cards.card_for_number(number, "card"))
            except StripeError as exc:
                return html_response(402, _message_page("Payment failed", exc.message))
            return html_response(200, _message_page("Invoice paid", "You can close this page."))
        if invoice["status"] != "open":
            return html_response(200, _message_page(f"Invoice {invoice['status']}", ""))
        body = (
            f'<form id="invoice-pay-form" method="post" action="/invoice_pages/'
            f'{html.escape(invoice["id"])}/pay"><p>Amount due: {html.escape(amount)}</p>'
            '<input id="card-number" name="card_number" value="4242 4242 4242 4242">'
            '<button id="pay-button">Pay</button></form>'
        )
        return html_response(200, _message_page(f"Invoice {invoice['number']}", "") + body)
