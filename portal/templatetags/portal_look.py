"""``{% portal_look_head %}`` and ``{% portal_look_scripts %}``: the company's own stylesheet,
script and analytics on a customer page (see ``portal.site.look``). Both render nothing for a
page no company's token opened (the not-found page renders neither)."""

from __future__ import annotations

from typing import Any

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from portal.site.look import ANALYTICS_LOADERS, ANALYTICS_SOURCES, csp_add, page_look

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_look_head(context: Any) -> SafeString:
    request = context.get("request")
    look = page_look(request)
    if look is None:
        return mark_safe("")
    if look.trusted:
        csp_add(request, look.trusted)
    if not look.css_url:
        return mark_safe("")
    # A file of its own ('self'), never inline: the style-src stays nonce-only for inline.
    return format_html(
        '<link rel="stylesheet" href="{}" data-testid="portal-custom-css">', look.css_url
    )


@register.simple_tag(takes_context=True)
def portal_look_scripts(context: Any) -> SafeString:
    request = context.get("request")
    look = page_look(request)
    if look is None:
        return mark_safe("")
    nonce = str(request.csp_nonce)
    parts: list[str] = []
    if look.js_url:
        csp_add(request, {"script-src": [request.build_absolute_uri(look.js_url)]})
        parts.append(
            format_html(
                '<script src="{}" nonce="{}" defer data-testid="portal-custom-js"></script>',
                look.js_url,
                nonce,
            )
        )
    if look.analytics_kind:
        csp_add(request, ANALYTICS_SOURCES[look.analytics_kind])
        # Ours first: it queues the page view with the token taken out of the address.
        parts.append(
            format_html(
                '<script src="{}" nonce="{}" data-analytics="{}" data-analytics-id="{}"></script>',
                static("portal/analytics.js"),
                nonce,
                look.analytics_kind,
                look.analytics_id,
            )
        )
        parts.append(
            format_html(
                '<script src="{}" nonce="{}" async data-domain="{}"></script>',
                ANALYTICS_LOADERS[look.analytics_kind].format(id=look.analytics_id),
                nonce,
                look.analytics_id,
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 - each part built by format_html
