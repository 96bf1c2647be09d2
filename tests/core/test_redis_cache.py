"""What needs Redis itself asks whether the default cache is Redis."""

from __future__ import annotations

from typing import Any

from core.redis_cache import cache_is_redis


def test_it_tells_redis_from_other_caches(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert not cache_is_redis()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
    }
    assert cache_is_redis()
