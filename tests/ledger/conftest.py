"""Ledger fixtures: the payments fixtures (a tenant connected to the Stripe emulator)."""

from tests.payments.conftest import connected, deliver

__all__ = ["connected", "deliver"]
