"""An HTTP double of the Telegram Bot API for tests and ``sereno demo``.

See :class:`BotApiDouble` (the aiohttp server) and :class:`FakeUser` (a simulated user).
"""

from sereno.double.server import (
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    MEMBER_STATUSES,
    SEND_METHODS,
    TEXT_LIMIT,
    ApiError,
    BotApiDouble,
    Call,
    SentMessage,
    StoredFile,
    UploadedFile,
)
from sereno.double.users import Button, FakeUser, TranscriptEntry

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "MEMBER_STATUSES",
    "SEND_METHODS",
    "TEXT_LIMIT",
    "ApiError",
    "BotApiDouble",
    "Button",
    "Call",
    "FakeUser",
    "SentMessage",
    "StoredFile",
    "TranscriptEntry",
    "UploadedFile",
]
