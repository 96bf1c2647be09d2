"""PDF tests store files in a temporary MEDIA_ROOT, and share a few helpers.

WeasyPrint renders cost about 0.3 s each (plus about 1 s for the first import), so tests that
only read a PDF share one rendered per module (see the module-scoped fixtures)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _pdf_media_root(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield tmp_path / "media"


def pdf_pages_text(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
