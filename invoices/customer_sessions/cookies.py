"""The customer session cookie: one cookie for the whole product (the comment thread, the
account pages, the portal entry).

``__Host-customer_session`` over HTTPS (the browser then insists on Secure, Path=/ and no
Domain, so no other host or path can set or shadow it), ``customer_session`` over plain HTTP
(development). HttpOnly, SameSite=Lax: never sent with a cross-site POST.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from core.ratelimits import client_key

from . import services
from .models import CustomerSession
from .selectors import session_for_token

COOKIE_NAME = "customer_session"
SECURE_COOKIE_NAME = "__Host-customer_session"
# Where the comment thread kept its session before (path /invoice/): still read, never set.
LEGACY_COOKIE_NAME = "invoice_comment_session"


def session_cookie_name(request: HttpRequest) -> str:
    return SECURE_COOKIE_NAME if request.is_secure() else COOKIE_NAME


def session_from_request(
    request: HttpRequest, *, company_id: int | None = None
) -> CustomerSession | None:
    """The live session this browser holds (``company_id``: only one of that company), marked
    as used. Memoised on the request: a page asks once however many parts want it."""
    if hasattr(request, "_customer_session"):
        session: CustomerSession | None = request._customer_session
    else:
        token = request.COOKIES.get(session_cookie_name(request)) or request.COOKIES.get(
            LEGACY_COOKIE_NAME
        )
        session = session_for_token(token) if token else None
        if session is not None:
            services.session_touch(session=session)
        request._customer_session = session  # type: ignore[attr-defined]
    if session is not None and company_id is not None and session.company_id != company_id:
        return None
    return session


def session_cookie_set(
    response: HttpResponse, request: HttpRequest, opened: services.OpenedSession
) -> None:
    session = opened.session
    max_age = max(1, int((session.expires_at - session.created_at).total_seconds()))
    response.set_cookie(
        session_cookie_name(request),
        opened.token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=request.is_secure(),
        samesite="Lax",
    )
    if LEGACY_COOKIE_NAME in request.COOKIES:
        response.delete_cookie(LEGACY_COOKIE_NAME, path="/invoice/", samesite="Lax")
    request._customer_session = session  # type: ignore[attr-defined]


def request_origin(request: HttpRequest) -> tuple[str | None, str]:
    """What a session row keeps of the browser that opened it: its IP and user agent."""
    ip = client_key(request)
    return (None if ip == "unknown" else ip), request.headers.get("User-Agent", "")
