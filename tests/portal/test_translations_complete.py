"""German, French and Spanish are complete: every message has a translation that is not fuzzy
and keeps the same placeholders (msgfmt --check, as compilemessages would)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[2] / "locale"
LANGUAGES = ["de", "fr", "es"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    catalog = read_po((LOCALE / language / "LC_MESSAGES" / "django.po").open("rb"))
    missing = [m.id for m in catalog if m.id and (m.fuzzy or not m.string)]
    assert missing == []
    assert len(catalog) > 300


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language: str) -> None:
    catalog = read_po((LOCALE / language / "LC_MESSAGES" / "django.po").open("rb"))
    for message in catalog:
        if message.id and isinstance(message.id, str) and isinstance(message.string, str):
            assert set(PLACEHOLDER.findall(message.id)) == set(
                PLACEHOLDER.findall(message.string)
            ), message.id
    if shutil.which("msgfmt"):
        po = LOCALE / language / "LC_MESSAGES" / "django.po"
        result = subprocess.run(
            ["msgfmt", "--check-format", "-o", "/dev/null", str(po)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
