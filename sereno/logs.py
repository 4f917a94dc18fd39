"""Logging: plain text or one JSON object per line, with secrets redacted.

What Sereno logs at INFO names no reporter and quotes no report; this module makes sure
that even a library's message, an exception's text or a traceback cannot carry the bot
token, the HMAC key or a database password out: every handler of the root logger set up
here passes each record through one :class:`Redact` filter, which knows every secret
registered with :func:`redact`."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO lines repeat request URLs (which hold the token) or are noise.
QUIET = ("httpx", "apscheduler", "aiosqlite", "alembic", "aiohttp.access")
REDACTED = "[redacted]"
#: Shorter values are not treated as secrets (they would redact ordinary words).
MIN_SECRET_LENGTH = 8


class Redact(logging.Filter):
    """Replaces every occurrence of the known secrets (as given, and URL-encoded) with
    "[redacted]" in a record: its message and arguments, its exception text and traceback,
    its stack and any extra text field. The exception is formatted here, once, so that a
    formatter only ever sees the redacted text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these too (values shorter than :data:`MIN_SECRET_LENGTH` are ignored)."""
        for secret in secrets:
            for form in (secret, quote(secret, safe="")):
                if len(form) >= MIN_SECRET_LENGTH and form not in self._secrets:
                    self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)  # a secret inside a longer one goes with it

    def scrub(self, text: str) -> str:
        """`text` with every known secret replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: logging reports it when formatting
            message = None
        if message is not None:
            scrubbed = self.scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # formatters use exc_text (the redacted one) instead
        for name, value in vars(record).items():
            if isinstance(value, str) and name != "msg":
                setattr(record, name, self.scrub(value))
        return True


#: The one filter on every handler :func:`configure` installs.
_REDACTION = Redact()


def configure(verbose: bool = False, json_lines: bool = False) -> None:
    """Log to stderr at INFO (DEBUG when verbose), as text or JSON lines, redacted."""
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level", "name": "logger"}
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_REDACTION)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    quiet()


def quiet() -> None:
    """Keep the libraries that log request URLs (holding the token) below INFO."""
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def redact(secrets: Iterable[str]) -> None:
    """Redact `secrets` from everything the root logger's handlers write (those installed
    by :func:`configure`, before or after this call, and any other present now) and from
    :func:`scrub`."""
    _REDACTION.add(secrets)
    for handler in logging.getLogger().handlers:
        if _REDACTION not in handler.filters:
            handler.addFilter(_REDACTION)


def scrub(text: str) -> str:
    """`text` with every secret registered by :func:`redact` replaced (for what the
    command line prints itself)."""
    return _REDACTION.scrub(text)
