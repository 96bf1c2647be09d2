"""The language switcher of the customer pages: ``{% load portal_i18n %}{% language_switcher %}``.

Each link is the page itself with ``?lang=<code>`` (other query parameters kept), which every
customer page honours first (core.i18n). A page rendered by a POST (the pay form shown again,
a refusal) cannot be fetched again: it links the invoice page instead (``invoice_url`` in its
context), or shows no switcher."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.http import QueryDict
from django.utils import translation

register = template.Library()


def _native_name(code: str) -> str:
    name = str(translation.get_language_info(code)["name_local"])
    return name[:1].upper() + name[1:]


@register.inclusion_tag("portal/_language_switcher.html", takes_context=True)
def language_switcher(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    if request is None:
        return {"languages": []}
    if request.method in ("GET", "HEAD"):
        path, query = request.path, request.GET.copy()
    elif fallback := context.get("invoice_url"):
        parts = urlsplit(str(fallback))
        path, query = parts.path, QueryDict(parts.query, mutable=True)
    else:
        return {"languages": []}
    current = translation.get_language()
    languages = []
    for code, _name in settings.LANGUAGES:
        query["lang"] = code
        languages.append(
            {
                "code": code,
                "name": _native_name(code),
                "url": f"{path}?{query.urlencode()}",
                "current": code == current,
            }
        )
    return {"languages": languages}
