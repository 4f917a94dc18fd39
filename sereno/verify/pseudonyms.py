"""Keyed pseudonyms: the only form in which a reporter's Telegram id reaches report data."""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymizer:
    """HMAC-SHA256 of a Telegram user id under a secret key, as 32 hex characters.

    The same person always maps to the same pseudonym (so rate limits and trust work), and
    without the key nobody can go back from a pseudonym to the id.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the HMAC key must be at least 16 bytes long")
        self._key = key

    def __call__(self, user_id: int) -> str:
        digest = hmac.new(self._key, str(user_id).encode("ascii"), hashlib.sha256)
        return digest.hexdigest()[:32]

    def __repr__(self) -> str:
        return "Pseudonymizer(<secret>)"
