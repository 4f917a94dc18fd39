"""Keys derived from the deployment's HMAC key (one per purpose), Fernet sealing under
them, and the seal on reporters' chat ids.

A reporter's chat id is kept (in `report_contact`) only to tell them the outcome of their
report. It is stored sealed: encrypted with AES-GCM under a key derived from
``SERENO_HMAC_KEY``, with the report's id as associated data, so a copy of the database
alone names no one, and a sealed id moved to another report does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


def derive(key: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one `purpose`, derived from the deployment's HMAC key."""
    return hmac.new(key, b"sereno:" + purpose, hashlib.sha256).digest()


def sealer(key: bytes, purpose: bytes) -> Fernet:
    """Fernet under a key derived from the HMAC key for `purpose`."""
    return Fernet(base64.urlsafe_b64encode(derive(key, purpose)))


class SealingKeyMissing(RuntimeError):
    """Reporter contacts are to be sealed or opened, and no HMAC key was given."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs SERENO_HMAC_KEY (reporter contacts are sealed with it): set it and run again")


class ContactSeal:
    """Seals and opens chat ids, each bound to its report's id."""

    def __init__(self, hmac_key: bytes) -> None:
        self._aead = AESGCM(derive(hmac_key, b"contact-seal"))

    def seal(self, chat_id: int, report_id: str) -> bytes:
        """`chat_id` encrypted (a fresh nonce each time) for the contact of `report_id`."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, str(chat_id).encode(), report_id.encode())

    def open(self, sealed: bytes, report_id: str) -> int | None:
        """The chat id, or None when `sealed` was sealed under another key (after a key
        rotation) or for another report."""
        try:
            return int(self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], report_id.encode()))
        except (InvalidTag, ValueError):
            return None
