"""HTTP helpers every face needs: the client's address and the one not-found page."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation

from core.i18n import negotiate_language


def _valid_ip(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def client_ip(meta: Mapping[str, Any], trusted_proxy_count: int) -> str | None:
    """The client's address. With no trusted proxy it is the socket address; behind N proxies
    that each append the address they received from, it is the N-th ``X-Forwarded-For`` entry
    from the right. Entries further left were written by the client and are ignored, so a
    forged header cannot change the result."""
    remote = _valid_ip(str(meta.get("REMOTE_ADDR", "")))
    if trusted_proxy_count <= 0:
        return remote
    hops = [hop for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    if len(hops) < trusted_proxy_count:
        # The request did not come through every proxy (someone reached an inner hop directly):
        # nothing in the header can be trusted.
        return remote
    return _valid_ip(hops[-trusted_proxy_count]) or remote


def not_found(request: HttpRequest) -> HttpResponse:
    """The one "Invoice not found" page, 404. Byte-identical for unknown, malformed, revoked
    and expired tokens (and for any app's bad token): it depends only on the browser's
    language (``?lang=``, Accept-Language; never on the customer or company a token might
    name), so no response can hint which case it was, nor that a token once existed."""
    with translation.override(negotiate_language(request)):
        body = render_to_string("core/not_found.html")
    return HttpResponse(body, status=404)
