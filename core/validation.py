"""One validation layer in front of every view: input no view could store or compare answers
400 in the error shape before any view runs, instead of a 500 deep inside one of them.

Refused: NUL bytes anywhere (path, query, form or JSON body: PostgreSQL cannot store them),
lone surrogates in JSON strings (no UTF-8 encoding exists for them), integers beyond 64 bits
in JSON or in all-digit query and form values (no database column holds them), and JSON
nested deeper than ``MAX_JSON_DEPTH``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import error_body

INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 20
_DIGITS = re.compile(r"^-?[0-9]+$")
_FORM = "application/x-www-form-urlencoded"


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise _Refused("NUL bytes are not allowed.")
    if _DIGITS.match(value) and abs(int(value)) > INT64_MAX:
        raise _Refused("A number is out of range.")


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise _Refused("JSON nested too deeply.")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return
    if isinstance(value, int):
        if abs(value) > INT64_MAX:
            raise _Refused("A number is out of range.")
    elif isinstance(value, str):
        if "\x00" in value:
            raise _Refused("NUL bytes are not allowed.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("Text contains an invalid character (a lone surrogate).") from None
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)


def _check(request: HttpRequest) -> None:
    if "\x00" in request.path or b"%00" in request.META.get("QUERY_STRING", "").encode():
        raise _Refused("NUL bytes are not allowed.")
    for _key, values in request.GET.lists():
        for value in values:
            _check_text(value)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        return  # never read here: the view refuses it (in its own words) without reading it
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):
        body = request.body
        if not body.strip():
            return
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return  # malformed JSON is the view's to word (it knows its fields)
        _check_json(data)
    elif content_type == _FORM:
        if b"\x00" in request.body or b"%00" in request.body:
            raise _Refused("NUL bytes are not allowed.")
        for _key, values in request.POST.lists():
            for value in values:
                _check_text(value)
    elif content_type.startswith("multipart/"):
        # Read the body first: Django then parses the form from the kept bytes, and views
        # (the API's idempotency hash) can still read request.body afterwards.
        request.body  # noqa: B018
        for _key, values in request.POST.lists():
            for value in values:
                if "\x00" in value:
                    raise _Refused("NUL bytes are not allowed.")


class InputValidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            _check(request)
        except RequestDataTooBig:
            pass  # the view answers it, as it would without this layer
        except _Refused as exc:
            return JsonResponse(error_body("invalid_input", exc.message), status=400)
        return self.get_response(request)
