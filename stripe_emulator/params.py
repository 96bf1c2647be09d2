"""Decoding and validating Stripe's v1 request parameters.

The SDK form-encodes nested data with brackets (``line_items[0][price_data][currency]=usd``,
``metadata[invoice]=inv_1``, ``expand[0]=payment_intent``), both in POST bodies and in GET query
strings. Every value arrives as a string; the typed getters below convert them and raise the
same errors Stripe does, so a wrong call fails here the way it would fail against Stripe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .errors import StripeError, invalid_param, missing_param

Params = dict[str, Any]

_TOKEN = re.compile(r"\[([^\]]*)\]")
# Keys under these names are free-form strings chosen by the caller, never list indexes.
_FREE_FORM = frozenset({"metadata"})


def decode_form(raw: str) -> Params:
    """``a[b][0]=x&a[b][1]=y`` -> ``{"a": {"b": ["x", "y"]}}``."""
    root: Params = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + (_TOKEN.findall("[" + rest) if rest else [])
        node: Params = root
        for index, part in enumerate(path[:-1]):
            if part == "":
                part = str(len(node))
                path[index] = part
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        last = path[-1] if path[-1] != "" else str(len(node))
        node[last] = value
    # The top level names parameters, never list indexes: only nested values may be lists.
    return {key: _listify(value, key) for key, value in root.items()}


def _listify(node: Any, parent: str) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value, key) for key, value in node.items()}
    if parent not in _FREE_FORM and converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def reject_unknown(params: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """Stripe refuses parameters it does not know, which catches typos in our own calls."""
    allowed_set = set(allowed)
    for key in params:
        if key not in allowed_set:
            name = f"{prefix}[{key}]" if prefix else key
            raise StripeError(f"Received unknown parameter: {name}", param=name)


def get_str(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise invalid_param(name, f"Invalid string: {name}")
    return value


def get_int(
    params: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    label: str | None = None,
) -> int | None:
    label = label or name
    raw = get_str(params, name, required=required)
    if raw is None:
        return None
    if not re.fullmatch(r"-?\d+", raw):
        raise invalid_param(label, f"Invalid integer: {raw}")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise invalid_param(label, f"This value must be greater than or equal to {minimum}.")
    return value


def get_bool(params: Mapping[str, Any], name: str, *, label: str | None = None) -> bool | None:
    raw = get_str(params, name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid_param(label or name, f"Invalid boolean: {raw}")
    return raw == "true"


def get_dict(params: Mapping[str, Any], name: str, *, label: str | None = None) -> Params:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_param(label or name, f"Invalid object: {label or name}")
    return value


def get_list(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    raise invalid_param(name, f"Invalid array: {name}")


def get_metadata(params: Mapping[str, Any], name: str = "metadata") -> dict[str, str]:
    """Stripe's metadata: up to 50 string keys (40 chars) with string values (500 chars)."""
    raw = get_dict(params, name)
    if len(raw) > 50:
        raise invalid_param(name, "You can specify up to 50 keys for metadata.")
    metadata: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid_param(f"{name}[{key}]", "Metadata values must be strings.")
        if len(key) > 40:
            raise invalid_param(f"{name}[{key}]", "Metadata keys can be at most 40 characters.")
        if len(value) > 500:
            raise invalid_param(f"{name}[{key}]", "Metadata values can be at most 500 characters.")
        # An empty value unsets the key, as on Stripe.
        if value != "":
            metadata[key] = value
    return metadata


def get_currency(
    params: Mapping[str, Any], name: str, *, required: bool = True, label: str | None = None
) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing_param(label or name)
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z]{3}", raw):
        raise invalid_param(label or name, f"Invalid currency: {raw}.")
    return raw.lower()


def fingerprint(params: Mapping[str, Any]) -> str:
    """A canonical form of the parameters, to compare idempotent retries."""
    return repr(_canonical(params))


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted((key, _canonical(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value
