"""The fixed dummy hash (unknown email at login) must cost what a user's hash costs."""

from __future__ import annotations

from argon2 import extract_parameters


def test_dummy_hash_has_the_hashers_parameters() -> None:
    from app.core import security

    # Same memory, time, parallelism, salt and hash length: the same verification cost, so an
    # unknown email and a wrong password take as long.
    assert extract_parameters(security._DUMMY_HASH) == extract_parameters(
        security._hasher.hash("a password")
    )
