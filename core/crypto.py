"""Secrets at rest (a company's Stripe keys): encrypted with Fernet (AES-128-CBC + HMAC-SHA256,
authenticated).

The Fernet key is derived from ``SECRET_KEY`` with HKDF-SHA256 and a purpose-specific ``info``
string, so the database alone (a dump, a backup) reveals no Stripe key, and no other use of
``SECRET_KEY`` shares this key. ``SECRET_KEY_FALLBACKS`` are tried for decryption, so a key
rotation keeps existing connections readable until they are saved again; once the old key is
dropped from the fallbacks, companies must reconnect Stripe (``connect_stripe`` or the admin).
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# The HKDF label must never change: every stored secret was encrypted under it.
_INFO = b"invoice-portal.payments.stripe-secrets.v1"


class SecretUnreadable(Exception):
    """A stored secret that no current or fallback SECRET_KEY decrypts."""


@functools.lru_cache(maxsize=8)
def _fernet_for(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(key) for key in keys])


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode("ascii")


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadable("The stored secret cannot be decrypted.") from None
