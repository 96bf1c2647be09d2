from __future__ import annotations

import hashlib
import hmac

from portal.embed.hashing import compute_hash, hash_matches, signed_message


def test_it_computes_the_documented_hmac() -> None:
    # RFC-style vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    digest = compute_hash(secret="key", identifier="The quick brown fox jumps over the lazy dog")
    assert digest == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"


def test_it_signs_identifier_dot_expiry_in_the_expiring_form() -> None:
    expected = hmac.new(b"s3cret", b"ada@example.com.1767225600", hashlib.sha256).hexdigest()
    assert signed_message("ada@example.com", 1767225600) == "ada@example.com.1767225600"
    assert (
        compute_hash(secret="s3cret", identifier="ada@example.com", expires=1767225600) == expected
    )


def test_it_matches_against_any_accepted_secret() -> None:
    digest = compute_hash(secret="old", identifier="ada@example.com")
    assert hash_matches(secrets=["new", "old"], identifier="ada@example.com", supplied=digest)
    assert hash_matches(
        secrets=["new", "old"], identifier="ada@example.com", supplied=digest.upper()
    )
    assert not hash_matches(secrets=["new"], identifier="ada@example.com", supplied=digest)
    assert not hash_matches(secrets=["old"], identifier="ADA@example.com", supplied=digest)
    assert not hash_matches(secrets=["old"], identifier="ada@example.com", supplied=digest[:-1])
    assert not hash_matches(secrets=["old"], identifier="ada@example.com", supplied="")
