"""Django set up for a benchmark script: settings from the environment where given, else a
throw-away SQLite database and MEDIA_ROOT, eager Celery, quiet logs. Import it first."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup(name: str) -> tempfile.TemporaryDirectory[str]:
    """Configure and start Django; the returned directory lives as long as the caller keeps it."""
    sys.path.insert(0, str(ROOT))
    tmp = tempfile.TemporaryDirectory(prefix=f"bench-{name}-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp.name}/bench.sqlite3")
    os.environ["MEDIA_ROOT"] = f"{tmp.name}/media"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    return tmp
