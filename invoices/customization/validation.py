"""What a company may put into its own portal: a custom domain, a stylesheet, a script, the
sites its stylesheet and script may load from (CSP trusted sites) and an analytics id.

Pure functions of the values (no models), used by the model's field validators (the admin
form), ``Company.clean`` (the checks that need two fields) and so by ``company_update``.
Each raises Django's ``ValidationError`` with a message worded for the person who typed it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http.request import validate_host
from django.utils.translation import gettext as _

# Served as its own file on every customer page: big enough for a real theme, small enough
# that a page never waits on it.
CUSTOM_CSS_MAX_CHARS = 50_000
CUSTOM_JS_MAX_CHARS = 50_000
TRUSTED_SITES_MAX = 20

# The CSP directive each kind of trusted site is added to.
TRUSTED_SITE_KINDS: dict[str, str] = {
    "img": "img-src",
    "script": "script-src",
    "style": "style-src",
    "connect": "connect-src",
    "frame": "frame-src",
    "font": "font-src",
}

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_GA4 = re.compile(r"^G-[A-Z0-9]{4,20}$")


def normalize_domain(value: str) -> str:
    """``Billing.Example.COM.`` -> ``billing.example.com``; international names as IDNA."""
    text = (value or "").strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii") if text and not text.isascii() else text
    except UnicodeError:
        return text


def is_dns_name(name: str) -> bool:
    """A fully qualified host name: at least two labels, letters, digits and inner hyphens,
    a top-level label that is not all digits (so never an IPv4 address; IPv6 has colons)."""
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def is_our_host(name: str) -> bool:
    """The shared origin's own names (PUBLIC_BASE_URL, ALLOWED_HOSTS and their patterns)."""
    ours = [host for host in settings.ALLOWED_HOSTS if host != "*"]
    public = urlsplit(settings.PUBLIC_BASE_URL).hostname or ""
    if public:
        ours.append(public)
    return name in ("localhost",) or name.endswith(".localhost") or validate_host(name, ours)


def validate_portal_domain(value: str) -> None:
    name = normalize_domain(value)
    if not name:
        return
    if not is_dns_name(name):
        raise ValidationError(
            _("Enter a host name like billing.example.com (not an address, no path)."),
            code="invalid_domain",
        )
    if is_our_host(name):
        raise ValidationError(
            _("This is the portal's own host name; use a domain of your company."),
            code="own_domain",
        )


def _css_plain(css: str) -> str:
    """The stylesheet as a browser reads it, for the checks: comments removed and escapes
    (``\\65 xpression``) decoded, lower case, so a spelling trick cannot pass."""
    text = re.sub(r"/\*.*?(\*/|$)", "", css, flags=re.DOTALL)

    def decode(match: re.Match[str]) -> str:
        hex_digits = match.group(1)
        if hex_digits:
            code = int(hex_digits, 16)
            return chr(code) if 0 < code <= 0x10FFFF else ""
        return match.group(2)

    text = re.sub(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", decode, text, flags=re.DOTALL)
    return text.lower()


# Markup that would end a <style> element, and the old script-in-CSS ways.
_CSS_REFUSED = (
    ("</", "</style>"),
    ("<!--", "<!--"),
    ("expression(", "expression("),
    ("javascript:", "javascript:"),
    ("vbscript:", "vbscript:"),
    ("behavior:", "behavior:"),
    ("-moz-binding", "-moz-binding"),
)


def validate_custom_css(value: str) -> None:
    css = value or ""
    if len(css) > CUSTOM_CSS_MAX_CHARS:
        raise ValidationError(
            _("The stylesheet is too long (at most %(max)d characters).")
            % {"max": CUSTOM_CSS_MAX_CHARS},
            code="too_long",
        )
    plain = _css_plain(css)
    for needle, shown in _CSS_REFUSED:
        if needle in plain:
            raise ValidationError(
                _("The stylesheet may not contain %(text)s.") % {"text": shown}, code="unsafe"
            )


def css_imports(value: str) -> list[str]:
    """The targets of the stylesheet's ``@import`` rules."""
    plain = _css_plain(value or "")
    found = []
    for match in re.finditer(r"@import\s+(?:url\(\s*)?([\"']?)([^\"')\s;]*)\1", plain):
        found.append(match.group(2))
    if plain.count("@import") != len(found):
        found.append("")  # an @import the pattern could not read: refused as untrusted
    return found


def validate_css_imports(css: str, trusted_sites: Any) -> None:
    """Every ``@import`` must load from an https origin trusted for styles."""
    style_origins = {
        site["origin"]
        for site in (trusted_sites or [])
        if isinstance(site, dict) and "style" in site.get("kinds", [])
    }
    for target in css_imports(css):
        parts = urlsplit(target)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
        if not origin or not _origin_matches(origin, style_origins):
            raise ValidationError(
                _(
                    "@import may only load from a site trusted for styles (add %(origin)s to "
                    "the CSP trusted sites with the kind style)."
                )
                % {"origin": origin or target or "url"},
                code="untrusted_import",
            )


def _origin_matches(origin: str, trusted: set[str]) -> bool:
    """Whether ``origin`` is one of ``trusted`` (``https://*.example.com`` covering its
    subdomains, as in a CSP source list)."""
    if origin in trusted:
        return True
    scheme, _sep, host = origin.partition("://")
    return any(
        entry.startswith(f"{scheme}://*.") and host.endswith(entry.removeprefix(f"{scheme}://*"))
        for entry in trusted
    )


def validate_custom_js(value: str) -> None:
    if len(value or "") > CUSTOM_JS_MAX_CHARS:
        raise ValidationError(
            _("The script is too long (at most %(max)d characters).")
            % {"max": CUSTOM_JS_MAX_CHARS},
            code="too_long",
        )


def normalize_trusted_origin(value: str) -> str:
    """``HTTPS://CDN.Example.com/`` -> ``https://cdn.example.com``; raises if not an https
    origin (a host, an optional ``*.`` for its subdomains, an optional port, nothing else)."""
    text = str(value or "").strip()
    if text.endswith("/"):
        text = text[:-1]
    message = _(
        "A trusted site is an https origin like https://cdn.example.com or "
        "https://*.example.com (no path, no quotes, not a bare wildcard)."
    )
    match = re.fullmatch(r"https://(\*\.)?([^/:?#\s'\";,*]+)(:\d{1,5})?", text, flags=re.I)
    if match is None:
        raise ValidationError(message, code="invalid_origin")
    wildcard, host, port = match.group(1) or "", match.group(2).lower(), match.group(3) or ""
    if not is_dns_name(normalize_domain(host)):
        raise ValidationError(message, code="invalid_origin")
    if port and not 0 < int(port[1:]) <= 65535:
        raise ValidationError(message, code="invalid_origin")
    return f"https://{wildcard}{normalize_domain(host)}{port}"


def normalize_trusted_sites(value: Any) -> list[dict[str, Any]]:
    """The trusted sites as stored: ``[{"origin": ..., "kinds": [...]}]``, origins normalized,
    kinds in their fixed order, the same origin at most once; raises ValidationError."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError(_("Give a list of trusted sites."), code="invalid")
    if len(value) > TRUSTED_SITES_MAX:
        raise ValidationError(
            _("At most %(max)d trusted sites.") % {"max": TRUSTED_SITES_MAX}, code="too_many"
        )
    sites: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"origin", "kinds"}:
            raise ValidationError(
                _('Each trusted site is {"origin": ..., "kinds": [...]}.'), code="invalid"
            )
        origin = normalize_trusted_origin(entry["origin"])
        kinds = entry["kinds"]
        if (
            not isinstance(kinds, list)
            or not kinds
            or not all(isinstance(kind, str) and kind in TRUSTED_SITE_KINDS for kind in kinds)
        ):
            raise ValidationError(
                _("Kinds are one or more of: %(kinds)s.")
                % {"kinds": ", ".join(TRUSTED_SITE_KINDS)},
                code="invalid_kind",
            )
        if origin in seen:
            raise ValidationError(
                _("%(origin)s is listed twice.") % {"origin": origin}, code="duplicate"
            )
        seen.add(origin)
        sites.append({"origin": origin, "kinds": [k for k in TRUSTED_SITE_KINDS if k in kinds]})
    return sites


def validate_trusted_sites(value: Any) -> None:
    normalize_trusted_sites(value)


def normalize_analytics_id(value: str) -> str:
    text = (value or "").strip()
    if text.upper().startswith("G-"):
        return text.upper()
    return normalize_domain(text)


def analytics_kind(value: str) -> str:
    """``ga4`` for a Google Analytics 4 measurement id, ``plausible`` for a site domain."""
    return "ga4" if _GA4.match(value or "") else "plausible"


def validate_analytics_id(value: str) -> None:
    text = normalize_analytics_id(value)
    if not text:
        return
    if _GA4.match(text) or (not text.startswith("G-") and is_dns_name(text)):
        return
    raise ValidationError(
        _(
            "Enter a Google Analytics 4 measurement id (like G-ABC123XYZ9) or the site domain "
            "your Plausible account counts (like billing.example.com)."
        ),
        code="invalid_analytics_id",
    )
