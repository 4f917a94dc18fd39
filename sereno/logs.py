"""Logging: plain text or one JSON object per line, with secrets redacted.

What Sereno logs at INFO names no reporter and quotes no report; this module makes sure
that even a library's message cannot carry the bot token or the HMAC key out."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO lines repeat request URLs (which hold the token) or are noise.
QUIET = ("httpx", "apscheduler", "aiosqlite", "alembic", "aiohttp.access")


class Redact(logging.Filter):
    """Replaces every occurrence of the given secrets in a record's message with "[redacted]"."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        return True


def configure(verbose: bool = False, json_lines: bool = False) -> None:
    """Log to stderr at INFO (DEBUG when verbose), as text or JSON lines."""
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    quiet()


def quiet() -> None:
    """Keep the libraries that log request URLs (holding the token) below INFO."""
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def redact(secrets: Iterable[str]) -> None:
    """Redact `secrets` from everything the root logger's handlers write."""
    redaction = Redact(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redaction)
