"""EMAIL_URL picks Django's email backend: console by default (make run), SMTP in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

_PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
names = ["EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
         "EMAIL_USE_SSL", "EMAIL_USE_TLS", "EMAIL_FILE_PATH"]
print(json.dumps({name: getattr(s, name, None) for name in names}))
"""


def _email_settings(email_url: str | None) -> dict[str, object]:
    # Settings are read at import: a fresh interpreter per environment.
    env = {k: v for k, v in os.environ.items() if k != "EMAIL_URL"}
    env |= {"DJANGO_SETTINGS_MODULE": "portal_project.settings", "DEBUG": "1", "SECRET_KEY": "x"}
    if email_url is not None:
        env["EMAIL_URL"] = email_url
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_it_prints_email_to_the_console_by_default() -> None:
    assert _email_settings(None)["EMAIL_BACKEND"] == (
        "django.core.mail.backends.console.EmailBackend"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://mail.example.com:2525",
            {
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 2525,
                "EMAIL_USE_SSL": False,
                "EMAIL_USE_TLS": False,
            },
        ),
        (
            "smtp://relay.example.com:587?starttls=1",
            {"EMAIL_HOST": "relay.example.com", "EMAIL_PORT": 587, "EMAIL_USE_TLS": True},
        ),
        (
            "smtps://apikey:p%40ss%2Fword@smtp.example.com:465",
            {
                "EMAIL_HOST": "smtp.example.com",
                "EMAIL_PORT": 465,
                "EMAIL_HOST_USER": "apikey",
                "EMAIL_HOST_PASSWORD": "p@ss/word",
                "EMAIL_USE_SSL": True,
            },
        ),
    ],
)
def test_it_sends_over_smtp_in_production(url: str, expected: dict[str, object]) -> None:
    found = _email_settings(url)
    assert found["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert {name: found[name] for name in expected} == expected


def test_it_writes_files_for_a_file_url(tmp_path: Path) -> None:
    found = _email_settings(f"file://{tmp_path}")
    assert found["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert found["EMAIL_FILE_PATH"] == str(tmp_path)
