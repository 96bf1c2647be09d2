"""Keeping what a server process loads once out of Python's full garbage-collection passes.

A full pass walks every tracked object of the process while every request thread of it waits:
with Django, the apps, Babel and WeasyPrint loaded that is about 190,000 objects and 150 to
250 ms on this machine, and under load one came every 10 to 30 seconds per process (request
objects alive in other threads when a younger generation is collected count towards the next
full pass). Those stalls were the slowest percent of customer-page requests. Most of what is
alive after a process served its first requests (modules, URL patterns, compiled templates,
translation catalogues, locale data) lives as long as the process, so it is moved to the
collector's permanent generation (``gc.freeze``), which full passes skip.

Frozen after the 1st, 10th, 100th and 1,000th request of the process, as lazily loaded parts
arrive; never again, so at most what four moments of in-flight requests held stays frozen.
"""

from __future__ import annotations

import gc
import itertools
from typing import Any

FREEZE_AFTER = frozenset({1, 10, 100, 1000})

_finished = itertools.count(1)


def freeze_long_lived(**kwargs: Any) -> None:
    """``request_finished`` receiver: freeze what is alive at the chosen request counts."""
    if next(_finished) in FREEZE_AFTER:
        gc.freeze()
