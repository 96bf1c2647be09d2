"""The local Stripe emulator for every test that needs one (a pytest plugin, registered in
``tests/conftest.py``).

``emulator_server`` is one emulator serving from a thread on a free 127.0.0.1 port, started the
first time a test asks for it and shared by the whole session. ``emulator`` is what tests use: the
same server, reset to an empty state before and after the test (no accounts, endpoints,
deliveries or timers), with processing payments left processing until a test settles them
(``/_emulator/payment_intents/<id>/succeed``) or sets ``processing_delay_ms`` itself, and the
app's Stripe settings pointed at it as ``make run`` points them: the API, Stripe.js and the
Content-Security-Policy origins. Everything goes through HTTP; nothing of ours is mocked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from stripe_emulator.server import EmulatorServer, start_in_thread


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """The running emulator, whatever state the last test left it in: use ``emulator``."""
    server, _ = start_in_thread()
    yield server
    server.shutdown()


def _reset(server: EmulatorServer) -> None:
    server.reset()
    # A test that wants a processing payment to settle on its own sets a delay itself.
    server.emulator.settings["processing_delay_ms"] = None


@pytest.fixture
def emulator(emulator_server: EmulatorServer, settings: Any) -> Iterator[EmulatorServer]:
    """The emulator, empty, with ``STRIPE_API_BASE`` and ``STRIPE_JS_URL`` pointing at it."""
    _reset(emulator_server)
    base = emulator_server.base_url
    settings.STRIPE_API_BASE = base
    settings.STRIPE_JS_URL = base + "/v3/stripe.js"
    # settings.py derives the CSP's Stripe origins at start-up; this emulator's port is new.
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    for directive in ("script-src", "connect-src", "frame-src", "form-action"):
        policy["DIRECTIVES"][directive].append(base)
    settings.CONTENT_SECURITY_POLICY = policy
    yield emulator_server
    # Nothing of this test (a timer, a webhook delivery) may reach the next one.
    _reset(emulator_server)
