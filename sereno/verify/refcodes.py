"""Reference codes such as ``SR-7K3Q`` that a reporter can read aloud without confusion."""

from __future__ import annotations

import secrets

#: No 0/O, 1/I/L, U/V confusion.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
PREFIX = "SR-"
LENGTH = 4


def new_ref_code() -> str:
    """A random code from the unambiguous alphabet (uniqueness is checked by the caller)."""
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
