"""Keys derived from the deployment's HMAC key, one per purpose, and Fernet sealing under them."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet


def derive_key(key: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one `purpose`, derived from the deployment's HMAC key."""
    return hmac.new(key, b"sereno:" + purpose, hashlib.sha256).digest()


def sealer(key: bytes, purpose: bytes) -> Fernet:
    """Fernet under a key derived from the HMAC key for `purpose`."""
    return Fernet(base64.urlsafe_b64encode(derive_key(key, purpose)))
