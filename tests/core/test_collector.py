"""What a server process loaded by its first requests is kept out of full collection passes."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from core import collector


@pytest.fixture
def new_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a process that has served no request yet, nothing frozen."""
    monkeypatch.setattr(collector, "_finished", itertools.count(1))
    gc.unfreeze()
    yield
    gc.unfreeze()


def _pages(client: Any, count: int) -> None:
    for _ in range(count):
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_it_freezes_after_the_first_tenth_and_hundredth_request(
    client: Any, new_process: None
) -> None:
    assert gc.get_freeze_count() == 0
    _pages(client, 1)
    assert gc.get_freeze_count() > 0  # the modules, URLs and templates loaded by now
    gc.unfreeze()
    _pages(client, 8)  # requests 2 to 9
    assert gc.get_freeze_count() == 0
    _pages(client, 1)  # the 10th
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    _pages(client, 89)  # up to the 99th
    assert gc.get_freeze_count() == 0
    _pages(client, 1)
    assert gc.get_freeze_count() > 0


@pytest.mark.django_db
def test_a_full_pass_then_walks_only_what_came_later(client: Any, new_process: None) -> None:
    _pages(client, 1)
    frozen = gc.get_freeze_count()
    # Every object of the frozen generation stays out of the collector's generations.
    assert frozen > 10 * len(gc.get_objects(generation=2))
