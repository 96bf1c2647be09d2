"""The embeddable portal: ``/embed.js`` (the loader a company's site includes) and the frame
``/embed/<company-public-key>`` it mounts (list, invoice, PDF, pay, payment status).

Every frame request carries the snippet's credentials (``customer``, ``hash``, ``expires``)
in its query string and is authorised afresh by ``portal.embed.access``: third-party frames
get no cookies in most browsers, so there is no session to lean on. The frame may be framed
only by the company's allowed origins (``frame-ancestors``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.i18n import negotiate_language, supported_languages
from invoices.document import brand_color, invoice_document
from invoices.models import Invoice
from invoices.money import AmountError
from invoices.pdf.http import pdf_response
from invoices.pdf.services import invoice_pdf_get_or_render
from invoices.selectors import customer_languages
from invoices.services import share_link_create, share_link_url
from payments.gates import pay_gate, stripe_connected
from payments.rules import payment_amount_parse
from payments.services import PaymentRefused, checkout_session_start
from portal.embed.access import EmbedAccess, EmbedCredentials, EmbedDenied, embed_authorize
from portal.embed.i18n import custom_strings
from portal.embed.models import EmbedSettings
from portal.embed.presenters import embed_rows
from portal.embed.selectors import embed_invoice_for_customer, embed_settings_for_key
from tracking.services import view_record_for_request

EMBED_SCRIPT = "embed/embed.js"
ORIGIN_PLACEHOLDER = '"__PORTAL_ORIGIN__"'


@functools.cache
def _script_source() -> str:
    path = finders.find(EMBED_SCRIPT)
    if not path:
        raise FileNotFoundError(EMBED_SCRIPT)
    with open(path, encoding="utf-8") as source:
        return source.read()


@require_GET
def embed_script(request: HttpRequest) -> HttpResponse:
    """The loader. It only trusts messages from the portal's own origin, so that origin is
    written into it here (PUBLIC_BASE_URL), not guessed from the script tag."""
    origin = json.dumps(settings.PUBLIC_BASE_URL)
    body = _script_source().replace(ORIGIN_PLACEHOLDER, origin, 1)
    return HttpResponse(body, content_type="text/javascript; charset=utf-8")


# The frame ----------------------------------------------------------------------------------


class Frame:
    """What one frame request knows: who it is for and how to talk to the host page."""

    def __init__(
        self, request: HttpRequest, embed: EmbedSettings, access: EmbedAccess | None
    ) -> None:
        self.embed = embed
        self.access = access
        credentials = _credentials(request)
        self.debug = embed.debug or request.GET.get("debug") == "1"
        origin = request.GET.get("origin", "")
        # The only target origin for postMessage: the host's claim, if the company allows it.
        # A page on any other origin cannot frame us (frame-ancestors) nor receive a message.
        self.parent_origin = origin if origin in embed.allowed_origins else ""
        self.language = _frame_language(request, embed, access)
        # For the rest of the request, so LocaleMiddleware sends it as Content-Language.
        translation.activate(self.language)
        request.LANGUAGE_CODE = self.language
        params = {
            "customer": credentials.identifier,
            "hash": credentials.hash,
            "expires": credentials.expires,
            "subscription": request.GET.get("subscription", ""),
            "lang": request.GET.get("lang", ""),
            "debug": "1" if request.GET.get("debug") == "1" else "",
            "origin": self.parent_origin,
        }
        # Carried on every link inside the frame, which is how the next page is authorised.
        self.query = urlencode({key: value for key, value in params.items() if value})
        self.base = f"/embed/{embed.company.public_key}"

    def config(self, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """Settings of static/embed/frame.js (rendered with json_script)."""
        return {
            "parentOrigin": self.parent_origin,
            "allowedOrigins": list(self.embed.allowed_origins),
            "debug": self.debug,
            "handleResponse": self.embed.handle_response,
            "events": events,
            **extra,
        }

    def strings(self) -> AbstractContextManager[None]:
        """The frame's language with the company's own strings over ours: active while a
        frame view runs, so presenters' labels are overridable as well as templates'."""
        return custom_strings(self.language, self.embed.translations.get(self.language))

    def render(
        self, request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
    ) -> HttpResponse:
        response = render(
            request,
            template,
            {
                "frame": self,
                "test_mode": not self.embed.is_live,
                "brand_color": brand_color(self.embed.company),
                "company_name": self.embed.company.name,
                **context,
            },
            status=status,
        )
        return frame_headers(response, self.embed.allowed_origins)


def frame_headers(response: HttpResponse, allowed_origins: list[str]) -> HttpResponse:
    """Let exactly the company's sites frame this response (and nobody when none is set)."""
    response._csp_replace = {  # type: ignore[attr-defined]
        "frame-ancestors": list(allowed_origins) or ["'none'"],
    }
    response.xframe_options_exempt = True  # type: ignore[attr-defined]
    return response


def _credentials(request: HttpRequest) -> EmbedCredentials:
    return EmbedCredentials(
        identifier=request.GET.get("customer", ""),
        hash=request.GET.get("hash", ""),
        expires=request.GET.get("expires", ""),
    )


def _frame_language(request: HttpRequest, embed: EmbedSettings, access: EmbedAccess | None) -> str:
    """The snippet's lang; else the browser's language (when the company lets us detect it);
    else the customer's and the company's."""
    customer = access.customer if access else None
    if embed.detect_browser_language:
        return negotiate_language(request, preferred=customer_languages(customer, embed.company))
    for code in (request.GET.get("lang", ""), embed.company.language):
        if code in supported_languages():
            return code
    return settings.LANGUAGE_CODE


def _not_embeddable(request: HttpRequest) -> HttpResponse:
    # An unknown key: no company to take allowed origins from, so nobody may frame this.
    with translation.override(settings.LANGUAGE_CODE):
        response = render(
            request,
            "embed/unknown.html",
            {"message": _("No embeddable portal has this key. Check data-company in the snippet.")},
            status=404,
        )
    return frame_headers(response, [])


def _denied(request: HttpRequest, frame: Frame, denied: EmbedDenied) -> HttpResponse:
    event = {"type": "error", "code": denied.code, "message": denied.message}
    return frame.render(
        request,
        "embed/denied.html",
        {"denied": denied, "frame_config": frame.config([event])},
        status=denied.status,
    )


FrameView = Callable[..., HttpResponse]


def frame_view(view: FrameView) -> FrameView:
    """Resolve the company, authorise the customer, and hand the view a Frame; refusals
    render the developer-facing 403 inside the frame (and post an ``error`` event)."""

    @functools.wraps(view)
    @xframe_options_exempt
    def wrapped(request: HttpRequest, public_key: str, **kwargs: Any) -> HttpResponse:
        embed = embed_settings_for_key(public_key=public_key)
        if embed is None:
            return _not_embeddable(request)
        # Refusals speak the page's language too (the customer is not known yet).
        anonymous = Frame(request, embed, None)
        with anonymous.strings():
            try:
                access = embed_authorize(settings=embed, credentials=_credentials(request))
            except EmbedDenied as denied:
                return _denied(request, anonymous, denied)
        frame = Frame(request, embed, access)
        with frame.strings():
            return view(request, frame, access, **kwargs)

    return wrapped


# Stripe's subscription ids: sub_ and letters, digits, underscores.
_SUBSCRIPTION_ID = re.compile(r"sub_[A-Za-z0-9_]{1,250}")


def _subscription_scope(request: HttpRequest, embed: EmbedSettings) -> str:
    """The subscription the list is scoped to (the snippet's data-subscription), or "" for
    every invoice of the customer: none was named, or the company shows all customer
    invoices (one-off ones too), as Billflow's "Show all customer invoices" does."""
    subscription = request.GET.get("subscription", "")
    if not subscription:
        return ""
    if not _SUBSCRIPTION_ID.fullmatch(subscription):
        raise EmbedDenied(
            "invalid_subscription",
            _("subscription must be a Stripe subscription id (sub_…), as data-subscription."),
            status=400,
        )
    return "" if embed.show_all_customer_invoices else subscription


@require_GET
@frame_view
def frame_list(request: HttpRequest, frame: Frame, access: EmbedAccess) -> HttpResponse:
    try:
        subscription = _subscription_scope(request, access.settings)
    except EmbedDenied as denied:
        return _denied(request, frame, denied)
    rows = embed_rows(
        customer=access.customer,
        show_all=access.settings.list_paid_and_void_invoices,
        locale=frame.language,
        subscription=subscription,
    )
    loaded = {"type": "loaded", "view": "list", "invoices": len(rows)}
    return frame.render(
        request,
        "embed/list.html",
        {
            "rows": rows,
            "customer": access.customer,
            "show_all": access.settings.list_paid_and_void_invoices,
            "frame_config": frame.config([loaded]),
        },
    )


def _invoice_or_denied(
    request: HttpRequest, frame: Frame, access: EmbedAccess, invoice_id: str
) -> Invoice | HttpResponse:
    invoice = embed_invoice_for_customer(customer=access.customer, public_id=invoice_id)
    if invoice is None:
        denied = EmbedDenied(
            "unknown_invoice", _("This customer has no invoice with that id."), status=404
        )
        return _denied(request, frame, denied)
    return invoice


@require_GET
@frame_view
def frame_invoice(
    request: HttpRequest, frame: Frame, access: EmbedAccess, invoice_id: str
) -> HttpResponse:
    invoice = _invoice_or_denied(request, frame, access, invoice_id)
    if isinstance(invoice, HttpResponse):
        return invoice
    doc = invoice_document(invoice=invoice, locale=frame.language)
    pay = pay_gate(invoice=invoice, connected=stripe_connected(access.company))
    # Reloaded by frame.js once a payment made in another tab is recorded: not a new opening.
    just_paid = request.GET.get("paid") == "1"
    events: list[dict[str, Any]] = [
        {"type": "loaded", "view": "invoice", "invoice": invoice.public_id}
    ]
    if not just_paid:
        events.append(
            {"type": "invoice_opened", "invoice": invoice.public_id, "number": invoice.number}
        )
        # The embed is the customer's portal on the company's own site. Never raises.
        view_record_for_request(invoice=invoice, request=request, source="portal")
    status_url = f"{frame.base}/invoices/{invoice.public_id}/status?{frame.query}"
    return frame.render(
        request,
        "embed/invoice.html",
        {
            "doc": doc,
            "invoice": invoice,
            "pay": pay,
            "just_paid": just_paid,
            "frame_config": frame.config(
                events,
                invoice=invoice.public_id,
                statusUrl=status_url,
                amountPaid=invoice.amount_paid,
            ),
        },
    )


@require_GET
@frame_view
def frame_invoice_pdf(
    request: HttpRequest, frame: Frame, access: EmbedAccess, invoice_id: str
) -> HttpResponse:
    invoice = _invoice_or_denied(request, frame, access, invoice_id)
    if isinstance(invoice, HttpResponse):
        return invoice
    language = frame.language
    return pdf_response(
        invoice_pdf_get_or_render(invoice=invoice, language=language),
        retry=lambda: invoice_pdf_get_or_render(invoice=invoice, language=language),
    )


@require_GET
@frame_view
def frame_invoice_status(
    request: HttpRequest, frame: Frame, access: EmbedAccess, invoice_id: str
) -> HttpResponse:
    """Polled by the frame after the customer started paying in another tab, so it can tell
    the host page ``payment_succeeded``."""
    invoice = embed_invoice_for_customer(customer=access.customer, public_id=invoice_id)
    if invoice is None:
        return JsonResponse({"error": "unknown_invoice"}, status=404)
    return JsonResponse(
        {
            "invoice": invoice.public_id,
            "status": invoice.status,
            "amount_paid": invoice.amount_paid,
            "amount_due": invoice.amount_due,
        }
    )


# The credential is the HMAC hash in the query string, not a cookie, so there is nothing for a
# cross-site request to ride on; and a frame on another site gets no CSRF cookie to send.
@csrf_exempt
@require_POST
@frame_view
def frame_invoice_pay(
    request: HttpRequest, frame: Frame, access: EmbedAccess, invoice_id: str
) -> HttpResponse:
    """Start Stripe Checkout. The form targets a new tab (Checkout refuses to be framed), and
    Checkout returns the customer to the invoice's own page, which records the payment."""
    invoice = _invoice_or_denied(request, frame, access, invoice_id)
    if isinstance(invoice, HttpResponse):
        return invoice
    try:
        # The one reading of a typed amount: the frame's language first, the dot form too.
        amount = payment_amount_parse(
            invoice=invoice, text=request.POST.get("amount", ""), locale=frame.language
        )
        return_url = share_link_url(share_link_create(invoice=invoice))
        attempt = checkout_session_start(
            invoice=invoice, amount=amount, return_base_url=return_url, locale=frame.language
        )
    except (AmountError, PaymentRefused) as exc:
        denied = EmbedDenied("payment_refused", str(getattr(exc, "message", exc)), status=400)
        return _denied(request, frame, denied)
    return HttpResponseRedirect(attempt.checkout_url, status=303)
