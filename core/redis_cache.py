"""The default cache's own Redis connection, for what needs Redis itself (a script, a stream, a
pipeline of commands) rather than the cache's get and set. Other caches (local memory in a
quick ``runserver``, a test without Redis) have none: callers ask ``cache_is_redis`` first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from redis import Redis


def cache_is_redis() -> bool:
    """Whether the default cache is Redis (django-redis)."""
    return str(settings.CACHES["default"]["BACKEND"]).startswith("django_redis.")


def cache_redis() -> Redis:
    """The default cache's Redis client (its connection pool); only when ``cache_is_redis``."""
    from django_redis import get_redis_connection

    return get_redis_connection("default")
