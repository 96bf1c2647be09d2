from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_it_reports_database_and_cache(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_it_answers_503_when_the_cache_is_down(client: Any, settings: Any) -> None:
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # Nothing listens on port 1: a real connection failure.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with contextlib.suppress(AttributeError, KeyError):
        del caches["default"]
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "unreachable"
    assert response.json()["database"] == "ok"


def test_check_deploy_is_clean_in_production_settings() -> None:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "a-long-production-like-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "portal.example.com",
        "PUBLIC_BASE_URL": "https://portal.example.com",
    }
    # Production has neither the test overrides nor the browser tests' async escape hatch.
    for name in ("SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_in_production() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"DEBUG": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
