"""A company's own strings inside the frame, over any portal string.

The company uploads, per language, a JSON object of message id (the English text as it appears
in the templates, e.g. ``"Amount due"``) to its text. While a frame page renders, the active
translation is wrapped so every gettext call (``{% translate %}``, ``{% blocktranslate %}``,
``gettext`` in Python) looks in the company's resource first and falls back to our catalogue.
Django offers no public hook for this; swapping the thread's active translation object (what
``translation.activate`` itself does) is the narrowest way in, and it is undone afterwards.

Django trusts its translators: ``{% translate "…" %}`` and ``{% blocktranslate %}`` print a
translation without escaping it. A company is not a translator, so its text comes back
HTML-escaped and marked safe: printed once escaped wherever a template puts it, in an element
or inside an attribute (``data-label="{% translate "Due" %}"``), and never escaped twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.utils import translation
from django.utils.html import escape
from django.utils.translation import trans_real


class OverridingTranslation:
    """Looks up ``overrides`` first, then delegates to the wrapped translation object."""

    def __init__(self, base: Any, overrides: Mapping[str, str]) -> None:
        self._base = base
        self._overrides = overrides

    def gettext(self, message: str) -> str:
        override = self._overrides.get(message)
        return escape(override) if override is not None else str(self._base.gettext(message))

    def ngettext(self, singular: str, plural: str, number: int) -> str:
        key = singular if number == 1 else plural
        override = self._overrides.get(key)
        if override is not None:
            return escape(override)
        return str(self._base.ngettext(singular, plural, number))

    def __getattr__(self, name: str) -> Any:
        # to_language, language, info, ... as the real catalogue answers them.
        return getattr(self._base, name)


@contextmanager
def custom_strings(language: str, overrides: Mapping[str, str] | None) -> Iterator[None]:
    """Activate ``language`` with ``overrides`` layered on top, for the duration of the block."""
    with translation.override(language):
        if not overrides:
            yield
            return
        base = trans_real.catalog()
        wrapped = OverridingTranslation(base, overrides)
        trans_real._active.value = wrapped  # type: ignore[attr-defined]
        try:
            yield
        finally:
            trans_real._active.value = base  # type: ignore[attr-defined]
