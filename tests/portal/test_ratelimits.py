"""The shared rate-limit check: counts per key, and fails open (logged) when Redis is down."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from core.ratelimits import RateLimitUnavailable, over_limit


def _request(ip: str = "203.0.113.7") -> Any:
    return RequestFactory().post("/invoice/x/pay", REMOTE_ADDR=ip)


def test_it_limits_per_client_ip() -> None:
    assert [over_limit(_request(), group="t-ip", rate="2/m") for _ in range(3)] == [
        False,
        False,
        True,
    ]
    # Another client has its own budget.
    assert over_limit(_request("198.51.100.1"), group="t-ip", rate="2/m") is False


def test_it_limits_per_explicit_key_across_clients() -> None:
    results = [
        over_limit(_request(f"198.51.100.{n}"), group="t-key", rate="2/m", key="token-1")
        for n in range(3)
    ]
    assert results == [False, False, True]


def test_it_fails_open_and_logs_when_the_store_is_down(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # Nothing listens on port 1: a real refused connection.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with contextlib.suppress(AttributeError, KeyError):
        del caches["default"]
    with caplog.at_level(logging.WARNING, logger="portal.ratelimit"):
        assert over_limit(_request(), group="t-down", rate="1/m") is False
        assert over_limit(_request(), group="t-down", rate="1/m") is False
    assert "failing open" in caplog.text


def _store_down(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with contextlib.suppress(AttributeError, KeyError):
        del caches["default"]


def test_it_counts_in_fail_closed_mode_as_in_the_default_mode() -> None:
    results = [
        over_limit(_request(), group="t-closed", rate="2/m", fail_closed=True) for _ in range(3)
    ]
    assert results == [False, False, True]


def test_it_fails_closed_when_asked_and_the_store_is_down(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _store_down(settings)
    with (
        caplog.at_level(logging.WARNING, logger="portal.ratelimit"),
        pytest.raises(RateLimitUnavailable) as raised,
    ):
        over_limit(_request(), group="t-closed-down", rate="5/m", fail_closed=True)
    assert raised.value.status == 503
    assert "failing closed" in caplog.text
