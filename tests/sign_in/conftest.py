from __future__ import annotations

import re
from typing import Any

import pytest


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run a call and then its on-commit callbacks (the queued sign-in email), as a real commit
    would; tests otherwise run inside one transaction that never commits."""

    def run(call: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


LINK_RE = re.compile(r"https?://[^/\s]+(/sign-in/[0-9a-f]{32}[A-Za-z0-9_-]{22})")


def emailed_links(message: Any) -> list[str]:
    """The sign-in paths in an email's text part."""
    return LINK_RE.findall(message.body)
