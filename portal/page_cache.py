"""Whole customer pages from the cache: a page is rendered once per set of inputs, then served
as stored bytes with this request's CSP nonce and CSRF token put in.

The key names every input the page shows (``page_key``): the token's page (its path and query,
which the language switcher repeats), the host and scheme (a company's own domain changes
links and the custom script), the language, the rows the page reads (invoice, company,
customer: every column), what the page's one lookup read besides them (comments, payments,
Stripe; see the views), the day (overdue), and the templates, translations and code
(``page_sources_digest``). A change to any of them is a new key: nothing is ever invalidated
and nothing is ever stale. The token check, the language choice and view tracking still run
on every request; only rendering is skipped.

Not cached, rendered as before: HEAD requests, a browser holding a customer session (the
comment form depends on it), query parameters the page does not know, and anything but a
plain 200.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from core.csrf import csrf_token
from core.fragments import CACHE_DOWN, cache_get, cache_set
from invoices.customer_sessions.cookies import LEGACY_COOKIE_NAME, session_cookie_name
from portal.presenters import CACHE_SECONDS, cache_key, page_sources_digest
from portal.site.look import csp_add, csp_update_for

# Where the per-request values go in a stored page. Rendered text never contains `<"`: every
# value is autoescaped, so only these marks can be replaced.
NONCE_MARK = '<"csp-nonce">'
CSRF_MARK = '<"csrf-token">'
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"<>]+)"')
# Columns that change without changing any page (the company's invoice counter).
_NOT_SHOWN = frozenset({"next_invoice_sequence"})


@dataclass(frozen=True)
class StoredPage:
    """A rendered page with NONCE_MARK and CSRF_MARK in place of this request's values, and
    the CSP sources its company's look added (``portal.site.look.csp_add``)."""

    html: str
    csp: dict[str, list[str]]


def page_cacheable(request: HttpRequest, *, params: Mapping[str, Callable[[str], bool]]) -> bool:
    """Whether this request may be served from (and stored in) the page cache: a GET with no
    customer session and, at most once each, only the query ``params`` the page knows, each with
    a value its check admits (so made-up links cannot fill the cache)."""
    if request.method != "GET":
        return False
    if request.COOKIES.get(session_cookie_name(request)) or request.COOKIES.get(LEGACY_COOKIE_NAME):
        return False
    for name, values in request.GET.lists():
        if name not in params or len(values) != 1 or not params[name](values[0]):
            return False
    return True


def rows_digest(instances: Iterable[Model]) -> tuple[object, ...]:
    """Every shown column of ``instances``: any edit of a company's, customer's or invoice's
    settings, branding or data changes it."""
    return tuple(_shown_columns(type(instance))(instance) for instance in instances)


@functools.cache
def _shown_columns(model: type[Model]) -> Callable[[Model], tuple[object, ...]]:
    """Reads the shown columns of a ``model`` instance at once (``operator.attrgetter``: a
    page's key reads about a hundred), with the model's name first."""
    fields = [field for field in model._meta.concrete_fields if field.attname not in _NOT_SHOWN]
    read = operator.attrgetter(*(field.attname for field in fields))
    # Values whose text is not their content: a file's FieldFile, binary data's memoryview.
    unstable = [
        index
        for index, field in enumerate(fields)
        if isinstance(field, (models.FileField, models.BinaryField))
    ]
    name = model.__name__

    def columns(instance: Model) -> tuple[object, ...]:
        values = read(instance)
        row = list(values) if len(fields) > 1 else [values]
        for index in unstable:
            row[index] = _stable(row[index])
        return (name, *row)

    return columns


def _stable(value: object) -> object:
    """A value whose text is its content (a file's name, binary data's bytes), not its place
    in memory."""
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, FieldFile):
        return value.name or ""
    return value


def page_key(request: HttpRequest, kind: str, *, today: dt.date, inputs: tuple[object, ...]) -> str:
    """The key of this request's page: what every customer page depends on, plus ``inputs``
    (the page's own: rows, the lookup's annotations). ``today`` is the company's day."""
    return cache_key(
        f"page:{kind}",
        (
            request.scheme,
            request.get_host(),
            # The token and the query: the page's own links and its language switcher.
            request.get_full_path(),
            translation.get_language(),
            today,
            timezone.localdate(),
            settings.STATIC_URL,
            settings.STRIPE_JS_URL,
            getattr(settings, "COMMENTS_STREAM_BASE_URL", ""),
            page_sources_digest(),
            *inputs,
        ),
    )


def cached_page(
    request: HttpRequest, key: str | None, render: Callable[[], HttpResponse]
) -> HttpResponse:
    """The page stored under ``key`` with this request's nonce and CSRF token, or ``render()``
    (stored when it is a plain 200). ``key`` None: render, as for a request that may not be
    cached. A cache outage serves rendered pages."""
    if key is None:
        return render()
    stored = cache_get(key)
    if isinstance(stored, StoredPage):
        return _served(request, stored)
    response = render()
    if stored is not CACHE_DOWN:
        page = _storable(request, response)
        if page is not None:
            cache_set(key, page, CACHE_SECONDS)
    return response


def _served(request: HttpRequest, page: StoredPage) -> HttpResponse:
    html = page.html.replace(NONCE_MARK, str(request.csp_nonce))  # type: ignore[attr-defined]
    if CSRF_MARK in html:
        # As {% csrf_token %} does: a fresh mask of the browser's secret (cookie set if new).
        html = html.replace(CSRF_MARK, csrf_token(request))
    if page.csp:
        csp_add(request, page.csp)
    return HttpResponse(html)


def _storable(request: HttpRequest, response: HttpResponse) -> StoredPage | None:
    if (
        response.status_code != 200
        or response.streaming
        or response.cookies
        or response.get("Content-Type", "") != "text/html; charset=utf-8"
    ):
        return None
    html = response.content.decode()
    nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
    html = html.replace(nonce, NONCE_MARK)
    for masked in set(_CSRF_INPUT.findall(html)):
        html = html.replace(masked, CSRF_MARK)
    return StoredPage(html=html, csp=csp_update_for(request))
