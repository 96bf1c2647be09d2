"""``{% comment_thread %}`` puts the thread on the invoice page; ``|linkify`` makes links safe."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django import template
from django.conf import settings
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from invoices.customer_sessions.cookies import session_from_request
from portal.comments.selectors import comments_for_invoice, thread_state
from portal.comments.services import BODY_MAX_LENGTH, NAME_MAX_LENGTH

register = template.Library()

# http(s) only: javascript:, data: and friends stay plain text. Trailing punctuation is text.
_URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


@register.filter
def linkify(text: str) -> SafeString:
    """Escape plain text and turn http(s) URLs into links that pass nothing to the target."""
    parts: list[str] = []
    position = 0
    for match in _URL_RE.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        parts.append(conditional_escape(text[position : match.start()]))
        parts.append(
            format_html(
                '<a href="{}" rel="nofollow noopener noreferrer" target="_blank">{}</a>', url, url
            )
        )
        position = end
    parts.append(conditional_escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece above is escaped


@register.filter
def comment_time(iso: str) -> str:
    """The server-side rendering of a comment's time (the script shows it in local time)."""
    return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


@register.inclusion_tag("comments/_thread.html", takes_context=True)
def comment_thread(context: template.Context) -> dict[str, Any]:
    """The thread for the page's ``invoice`` and share ``token``. Queries: the comments (none
    when the page's lookup counted none), the customer's authenticator, and the writer's
    session when a cookie is present."""
    request = context["request"]
    invoice = context["invoice"]
    token = context["token"]
    session = session_from_request(request)
    # The invoice page's lookup counted the comments already: none, no query.
    if getattr(invoice, "page_comment_count", None) == 0:
        comments = []
    else:
        comments = comments_for_invoice(invoice_id=invoice.pk)
    state = thread_state(invoice=invoice, session=session)
    base = f"/invoice/{token}/comments"
    stream_base = getattr(settings, "COMMENTS_STREAM_BASE_URL", "")
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "invoice": invoice,
        "comments": comments,
        "last_id": comments[-1]["id"] if comments else 0,
        "state": state,
        "state_json": json.dumps(state.as_dict()),
        "base_url": base,
        "stream_url": f"{stream_base}{base}/stream",
        "body_max": BODY_MAX_LENGTH,
        "name_max": NAME_MAX_LENGTH,
    }
