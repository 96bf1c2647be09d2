"""Rendered HTML kept in the cache under a key that names everything it shows.

The key changes whenever what the fragment shows does (a fingerprint of its inputs), so a
fragment is never stale and nothing needs invalidating. A cache outage only costs speed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)


def cached_html(key: str, render: Callable[[], str], seconds: int) -> SafeString:
    """The fragment cached under ``key``, or ``render()`` stored there for ``seconds``.

    Fragments are our own rendered (autoescaped) templates, hence safe."""
    try:
        html = cache.get(key)
    except Exception:  # any cache backend error: serve uncached
        logger.warning("fragment cache unavailable", exc_info=True)
        return mark_safe(render())  # noqa: S308
    if not isinstance(html, str):
        html = str(render())
        try:
            cache.set(key, html, seconds)
        except Exception:
            logger.warning("fragment cache unavailable", exc_info=True)
    return mark_safe(html)  # noqa: S308
