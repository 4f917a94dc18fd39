"""An HTTP double of the Telegram Bot API for tests and ``sereno demo``.

See :class:`BotApiDouble` (the aiohttp server, :mod:`sereno.double.server`, which lists the
modules beside it) and :class:`FakeUser` (a simulated user, :mod:`sereno.double.users`).
"""

from sereno.double.chats import MEMBER_STATUSES
from sereno.double.entities import CAPTION_LIMIT, TEXT_LIMIT
from sereno.double.errors import ApiError
from sereno.double.files import StoredFile, UploadedFile
from sereno.double.markup import CALLBACK_DATA_LIMIT
from sereno.double.methods import SEND_METHODS
from sereno.double.records import Call, SentMessage
from sereno.double.server import BotApiDouble
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
