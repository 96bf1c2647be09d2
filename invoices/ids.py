"""Opaque public identifiers (``cus_…``, ``inv_…``): objects are never named by database ids."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_public_id(prefix: str) -> str:
    # 20 characters of base62 carry 119 bits: unguessable, and short enough to read aloud.
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))
