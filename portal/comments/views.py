"""The comment thread's HTTP surface under ``/invoice/<token>/comments``. Thin: parse, check the
rate limits, call one service or selector, answer JSON (or redirect a plain form post).

The stream is an async view served over ASGI (``portal_project.asgi``, which lets streams share
one sync thread: ``portal.comments.asgi``): it holds no thread and no database connection while
it waits, so one process keeps thousands of viewers open. In production the ASGI process serves
only streams and pages, posts and polling go through WSGI; under ``make run`` one ASGI process
serves everything. A stream requested over WSGI answers 204 (the page polls instead).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import error_body
from core.ratelimits import over_limit
from invoices.customer_sessions.cookies import session_cookie_set, session_from_request
from invoices.customer_sessions.models import CustomerSession
from invoices.decorators import share_link_page
from invoices.models import Invoice
from invoices.selectors import invoice_for_share_token
from portal.middleware import script_read

from . import realtime, services
from .qr import otpauth_url, qr_data_uri
from .selectors import (
    PAGE_SIZE,
    comments_for_invoice,
    public_comment,
    thread_state,
)
from .services import CommentError

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
# Streams end after a while and the browser reconnects (with Last-Event-ID), so no connection
# lives forever. A revoked link stops streaming at the next heartbeat.
STREAM_MAX_SECONDS = 300.0
RETRY_MILLISECONDS = 3000

# No Django CSRF check on the thread's posts, as on the pay and preferences forms. Customer pages
# send "Referrer-Policy: no-referrer", so browsers post "Origin: null", which Django's check
# refuses (403 for every comment). What stands in for it:
# - the share token in the URL is the credential: a forging site would need it;
# - the one cookie these views read, the customer session, is SameSite=Lax: browsers never
#   send it with a POST from another site, so a forged post acts as nobody (and in the email-code and session modes is refused for want of a session).
POST_RATE = "10/m"
POST_RATE_PER_INVOICE = "60/h"
CODE_RATE = "10/h"
VERIFY_RATE = "30/h"


def _limited(request: HttpRequest, group: str, rate: str, key: str | None = None) -> bool:
    return over_limit(request, group=group, rate=rate, key=key)


def _rate_limited() -> CommentError:
    return CommentError(429, "rate_limited", _("Too many requests. Wait a little and try again."))


def _session(request: HttpRequest) -> CustomerSession | None:
    return session_from_request(request)


def _wants_json(request: HttpRequest) -> bool:
    if request.method == "GET":  # the polling endpoint answers JSON, errors included
        return True
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _data(request: HttpRequest) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            raw = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):  # RecursionError: nested too deep ("[[[[…")
            raise CommentError(
                400, "invalid_json", _("The request body is not valid JSON.")
            ) from None
        if not isinstance(raw, dict):
            raise CommentError(400, "invalid_json", _("Send a JSON object."))
        return {k: v if isinstance(v, str) else "" for k, v in raw.items() if isinstance(k, str)}
    return {k: request.POST.get(k, "") for k in request.POST}


def _error(request: HttpRequest, exc: CommentError, token: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body(exc.code, exc.message, exc.field), status=exc.status)
    return render(
        request,
        "comments/error.html",
        {"message": exc.message, "back": f"/invoice/{token}#comments"},
        status=exc.status,
    )


def _set_session_cookie(
    response: HttpResponse, request: HttpRequest, opened: services.OpenedSession
) -> None:
    session_cookie_set(response, request, opened)


def _after(request: HttpRequest) -> int:
    raw = request.GET.get("after", "0") or "0"
    # isascii: str.isdigit() is also true for "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise CommentError(400, "invalid", _("'after' must be a comment id."), "after")
    return int(raw)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@share_link_page
def comments(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """GET: the thread after ``?after=<id>`` (polling). POST: a new comment."""
    try:
        if request.method == "GET":
            return script_read(
                JsonResponse(
                    {"comments": comments_for_invoice(invoice_id=invoice.pk, after=_after(request))}
                )
            )
        if _limited(request, "comments.post", POST_RATE) or _limited(
            request, "comments.post.invoice", POST_RATE_PER_INVOICE, key=token
        ):
            raise _rate_limited()
        data = _data(request)
        comment = services.comment_post(
            invoice=invoice,
            name=data.get("name", ""),
            email=data.get("email", ""),
            body=data.get("body", ""),
            session=_session(request),
            totp_code=data.get("totp_code", ""),
        )
    except CommentError as exc:
        return _error(request, exc, token)
    if _wants_json(request):
        return script_read(JsonResponse({"comment": public_comment(comment)}, status=201))
    return HttpResponseRedirect(f"/invoice/{token}#comment-{comment.number}", status=303)


@csrf_exempt
@require_POST
@share_link_page
def code_request(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """Email a six-digit code to the customer's address on file."""
    try:
        if _limited(request, "comments.code", CODE_RATE):
            raise _rate_limited()
        services.email_code_request(invoice=invoice)
    except CommentError as exc:
        return _error(request, exc, token)
    return JsonResponse({"sent": True, "detail": _("We emailed a code to the customer's address.")})


@csrf_exempt
@require_POST
@share_link_page
def code_verify(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    try:
        if _limited(request, "comments.verify", VERIFY_RATE):
            raise _rate_limited()
        opened = services.email_code_verify(invoice=invoice, code=_data(request).get("code", ""))
    except CommentError as exc:
        return _error(request, exc, token)
    state = thread_state(invoice=invoice, session=opened.session)
    response = JsonResponse({"verified": True, "state": state.as_dict()})
    _set_session_cookie(response, request, opened)
    return response


@csrf_exempt
@require_POST
@share_link_page
def signin_link_request(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    try:
        if _limited(request, "comments.code", CODE_RATE):
            raise _rate_limited()
        services.signin_link_request(invoice=invoice, page_token=token)
    except CommentError as exc:
        return _error(request, exc, token)
    return JsonResponse({"sent": True, "detail": _("We emailed a sign-in link to the customer.")})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@share_link_page
def signin_link_open(
    request: HttpRequest, invoice: Invoice, token: str, signin_token: str
) -> HttpResponse:
    """GET only shows a button (mail scanners open links); the POST opens the session."""
    if request.method == "GET":
        return render(request, "comments/signin.html", {"invoice": invoice})
    try:
        opened = services.signin_link_open(
            invoice=invoice, token=signin_token, replaces=_session(request)
        )
    except CommentError as exc:
        return _error(request, exc, token)
    response = HttpResponseRedirect(f"/invoice/{token}#comments", status=303)
    _set_session_cookie(response, request, opened)
    return response


@csrf_exempt
@require_POST
@share_link_page
def totp_enrol(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """Start enrolling an authenticator app: answers the QR code as a data: URI (no external
    calls) and the secret for typing in by hand."""
    try:
        if _limited(request, "comments.verify", VERIFY_RATE):
            raise _rate_limited()
        device = services.totp_enrol(invoice=invoice, session=_session(request))
    except CommentError as exc:
        return _error(request, exc, token)
    url, secret = otpauth_url(device=device, invoice=invoice)
    return JsonResponse({"qr": qr_data_uri(url), "secret": secret, "otpauth_url": url})


@csrf_exempt
@require_POST
@share_link_page
def totp_confirm(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    try:
        if _limited(request, "comments.verify", VERIFY_RATE):
            raise _rate_limited()
        session = _session(request)
        services.totp_confirm(
            invoice=invoice, session=session, code=_data(request).get("totp_code", "")
        )
    except CommentError as exc:
        return _error(request, exc, token)
    return JsonResponse(
        {"enrolled": True, "state": thread_state(invoice=invoice, session=session).as_dict()}
    )


# Server-sent events -------------------------------------------------------------------------


def _frame(comment: dict[str, Any]) -> str:
    return f"id: {comment['id']}\nevent: comment\ndata: {json.dumps(comment)}\n\n"


async def _event_stream(invoice_id: int, token: str, last: int) -> AsyncIterator[str]:
    ends_at = asyncio.get_running_loop().time() + STREAM_MAX_SECONDS
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    # Subscribe before the first read: a comment saved in between is then both read and
    # announced (the duplicate is dropped by id), never missed.
    try:
        async with realtime.subscribe(invoice_id=invoice_id) as news:
            async for frame in _frames(news, invoice_id, token, last, ends_at):
                yield frame
    except (redis.RedisError, OSError):
        # Redis is unreachable: end the stream cleanly. The page polls until EventSource
        # reconnects (after the retry hint, resuming from Last-Event-ID).
        logger.warning("comments: stream of invoice %s ended, Redis failed", invoice_id)


async def _frames(
    news: realtime.Subscription, invoice_id: int, token: str, last: int, ends_at: float
) -> AsyncIterator[str]:
    """Comment frames after ``last`` until ``ends_at`` (loop time), with heartbeats."""
    loop = asyncio.get_running_loop()
    read = sync_to_async(comments_for_invoice)
    catch_up = True
    while True:
        while catch_up:
            page = await read(invoice_id=invoice_id, after=last)
            for comment in page:
                last = comment["id"]
                yield _frame(comment)
            # A full page: a reader further behind (Last-Event-ID) gets the rest now, not one
            # page per heartbeat.
            catch_up = len(page) >= PAGE_SIZE
        if loop.time() >= ends_at:
            return
        batch = await news.receive(min(HEARTBEAT_SECONDS, ends_at - loop.time()))
        if batch is None:
            # Quiet for a while: check the link still opens the invoice, keep the
            # connection (and any proxy on the way) alive, and re-read in case a message
            # was lost.
            if await sync_to_async(invoice_for_share_token)(token) is None:
                return
            yield ": heartbeat\n\n"
            catch_up = True
            continue
        if not batch or not all(isinstance(c.get("id"), int) for c in batch):
            # News we could not read (the hub hands it over as {}): look in the database.
            catch_up = True
            continue
        for comment in sorted(batch, key=lambda c: int(c.get("id", 0))):
            number = int(comment.get("id", 0))
            if number == last + 1:
                last = number
                yield _frame(comment)
            elif number > last:  # a gap (a lost message): read what is missing
                catch_up = True
                break


@require_GET
@share_link_page
async def comment_stream(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponseBase:
    """``text/event-stream`` of new comments: ``id:`` is the comment id, ``Last-Event-ID`` (or
    ``?after=``) resumes after it, a comment line every 15 s keeps the connection open."""
    if not isinstance(request, ASGIRequest):
        # Served over WSGI (production's page server, or runserver started by hand) a stream
        # would hold a worker thread, and Django would buffer it whole. Streams belong to an ASGI
        # server (with or without Redis: see realtime); here 204 tells EventSource to stop, and
        # the page polls instead.
        return script_read(HttpResponse(status=204))
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    last = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0
    response = StreamingHttpResponse(
        _event_stream(invoice.pk, token, last), content_type="text/event-stream"
    )
    script_read(response)  # its Cache-Control: portal.middleware
    # Proxies (nginx) must pass events through as they come, not buffer them.
    response["X-Accel-Buffering"] = "no"
    # When the stream is served from its own origin (COMMENTS_STREAM_BASE_URL), the page's
    # EventSource reads it cross-origin. No cookies are involved and the token in the path is
    # the only credential, so allowing any origin exposes nothing a token holder cannot read.
    response["Access-Control-Allow-Origin"] = "*"
    return response
