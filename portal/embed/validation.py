"""Checks on what a company configures for its embed: allowed origins and translation resources.

Both end up in places where a bad value does harm: an origin goes into the frame's
``frame-ancestors`` header and is the target origin of every ``postMessage``; a translation
replaces a portal string, so its ``%(name)s`` placeholders must match the original or the
page would fail to render.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_ORIGINS = 20
MAX_MESSAGES_PER_LANGUAGE = 500
MAX_MESSAGE_LENGTH = 2000
MAX_RESOURCE_BYTES = 200_000

# Python-format placeholders as Django's {% blocktranslate %} and gettext % formatting use them.
_PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def normalize_origin(value: str) -> str:
    """``"https://Shop.Example.com/"`` -> ``"https://shop.example.com"``; raises on anything
    that is not a bare http(s) origin (a path, a wildcard, a query, credentials...)."""
    raw = value.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            _("%(origin)s is not an origin like https://shop.example.com.") % {"origin": raw}
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValidationError(
            _("%(origin)s must be an origin only: scheme, host and port, no path.")
            % {"origin": raw}
        )
    if "*" in raw:
        raise ValidationError(_("Wildcards are not allowed in origins: list each site."))
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(_("%(origin)s has an invalid port.") % {"origin": raw}) from None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def validate_allowed_origins(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Allowed origins must be a list of origins."))
    if len(value) > MAX_ORIGINS:
        raise ValidationError(_("At most %(count)d allowed origins.") % {"count": MAX_ORIGINS})
    for origin in value:
        if normalize_origin(origin) != origin:
            raise ValidationError(
                _("%(origin)s is not in normal form (lower-case host, no trailing slash).")
                % {"origin": origin}
            )


def parse_origins(text: str) -> list[str]:
    """One origin per line (or separated by commas/spaces), normalised and de-duplicated."""
    origins: list[str] = []
    for item in re.split(r"[\s,]+", text):
        if item:
            origin = normalize_origin(item)
            if origin not in origins:
                origins.append(origin)
    validate_allowed_origins(origins)
    return origins


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER_RE.findall(text))


def validate_translation_resource(resource: Any) -> dict[str, str]:
    """A resource is a JSON object of message id (the English text of a portal string) to
    replacement text. Returns it unchanged if valid; raises a ValidationError naming the first
    problem otherwise."""
    if not isinstance(resource, dict):
        raise ValidationError(_("The translation file must be a JSON object of id → text."))
    if len(resource) > MAX_MESSAGES_PER_LANGUAGE:
        raise ValidationError(
            _("At most %(count)d messages per language.") % {"count": MAX_MESSAGES_PER_LANGUAGE}
        )
    for message_id, text in resource.items():
        if not isinstance(text, str) or not message_id.strip():
            raise ValidationError(
                _("%(id)s: every value must be a string and every id non-empty.")
                % {"id": json.dumps(message_id)}
            )
        if len(text) > MAX_MESSAGE_LENGTH or len(message_id) > MAX_MESSAGE_LENGTH:
            raise ValidationError(_("%(id)s: too long.") % {"id": json.dumps(message_id)[:80]})
        # Django renders translated strings unescaped (it trusts its translators), and a
        # company is not a translator: no markup of its own in pages on the portal's origin.
        if any(char in text and char not in message_id for char in "<>"):
            raise ValidationError(
                _("%(id)s: the text is plain text: it may not contain < or >.")
                % {"id": json.dumps(message_id)}
            )
        if _placeholders(message_id) != _placeholders(text):
            raise ValidationError(
                _("%(id)s: the text must keep the same placeholders (%(names)s).")
                % {
                    "id": json.dumps(message_id),
                    "names": ", ".join(_placeholders(message_id)) or _("none"),
                }
            )
    return resource


def validate_translations(value: Any) -> None:
    """The stored form: language code → resource."""
    if not isinstance(value, dict):
        raise ValidationError(_("Translations must be an object of language → resource."))
    languages = {code for code, _name in settings.LANGUAGES}
    for language, resource in value.items():
        if language not in languages:
            raise ValidationError(
                _("%(language)s is not a supported language (%(supported)s).")
                % {"language": language, "supported": ", ".join(sorted(languages))}
            )
        validate_translation_resource(resource)


def parse_translation_file(data: bytes) -> dict[str, str]:
    """An uploaded resource file: UTF-8 JSON, size-limited, validated."""
    if len(data) > MAX_RESOURCE_BYTES:
        raise ValidationError(
            _("The file is larger than %(size)d KB.") % {"size": MAX_RESOURCE_BYTES // 1000}
        )
    try:
        resource = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(
            _("The file is not valid UTF-8 JSON: %(error)s") % {"error": exc}
        ) from None
    return validate_translation_resource(resource)
