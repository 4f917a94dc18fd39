"""What the double records, and how it tells waiters that something changed.

:class:`Call` is one request the bot made; :class:`SentMessage` is a message the bot
sent, kept up to date with later edits and deletion. :class:`MessageLog` holds the
messages of every chat (the bot's and the users') and hands out message ids.
:class:`Changes` is the change sequence: every recorded change advances it and wakes
whoever waits on it (``wait_until``, long polls).
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from sereno.double.files import StoredFile

__all__ = ["Call", "Changes", "MessageLog", "SentMessage"]

JSONDict = dict[str, Any]


@dataclass
class Call:
    """One HTTP request the bot made to the double.

    ``method`` is the canonical Bot API name (``sendMessage`` even if the request used
    ``sendmessage``); ``params`` are the decoded parameters (uploads appear as
    :class:`UploadedFile`); ``at`` is the ``time.time()`` when the request arrived;
    ``response`` is the JSON body answered, or ``None`` when the client went away before
    an answer (``status`` 499 then). File downloads are recorded with method
    ``"downloadFile"`` and ``params == {"file_path": ...}``.
    """

    method: str
    params: JSONDict
    at: float
    response: JSONDict | None
    status: int

    @property
    def ok(self) -> bool:
        """Whether the call was answered with ``"ok": true``."""
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call, else ``None``."""
        return self.response.get("result") if self.response else None

    @property
    def description(self) -> str | None:
        """The error ``description`` of a failed call, else ``None``."""
        return self.response.get("description") if self.response else None


@dataclass(eq=False)
class SentMessage:
    """A message the bot sent, kept up to date with later edits and deletion.

    ``kind`` is ``"text"``, ``"photo"``, ``"document"`` or ``"location"``. ``text`` is
    the current text (or caption for media) after parse-mode processing; ``history``
    lists the previous texts, oldest first, one entry per text/caption edit.
    ``reply_markup`` is the markup as sent (inline keyboard, reply keyboard,
    ``remove_keyboard`` or ``force_reply``) or ``None``; editing without a markup
    removes an inline keyboard, as Telegram does. ``sent_seq``/``changed_seq`` order
    events across the double (sending, editing, deleting, user updates).
    """

    message_id: int
    chat_id: int
    kind: str
    text: str | None
    reply_markup: JSONDict | None
    date: int
    chat: JSONDict = field(repr=False)
    sender: JSONDict | None = field(repr=False)
    entities: list[JSONDict] = field(default_factory=list, repr=False)
    file: StoredFile | None = field(default=None, repr=False)
    location: JSONDict | None = None
    params: JSONDict = field(default_factory=dict, repr=False)
    reply_to: JSONDict | None = field(default=None, repr=False)
    history: list[str | None] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False
    sent_seq: int = 0
    changed_seq: int = 0

    @property
    def photo(self) -> bool:
        """Whether this is a photo message."""
        return self.kind == "photo"

    @property
    def document(self) -> bool:
        """Whether this is a document message."""
        return self.kind == "document"

    @property
    def caption(self) -> str | None:
        """The caption of a media message (``None`` for text and location messages)."""
        return self.text if self.kind in ("photo", "document") else None

    @property
    def edited(self) -> bool:
        """Whether the message was edited (text, caption or markup) since it was sent."""
        return self.edit_date is not None

    @property
    def file_bytes(self) -> bytes | None:
        """The bytes of the attached photo/document, when known."""
        return self.file.data if self.file else None

    @property
    def photo_bytes(self) -> bytes | None:
        """The bytes of the photo, for photo messages."""
        return self.file_bytes if self.photo else None

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """Rows of the current inline keyboard (empty if there is none)."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return [list(row) for row in self.reply_markup["inline_keyboard"]]
        return []

    @property
    def reply_keyboard(self) -> list[list[JSONDict]]:
        """Rows of the reply keyboard sent with the message, buttons normalised to dicts."""
        if self.reply_markup and "keyboard" in self.reply_markup:
            return [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in self.reply_markup["keyboard"]]
        return []

    @property
    def buttons(self) -> list[str]:
        """Texts of the inline keyboard buttons, or else of the reply keyboard buttons."""
        rows = self.inline_keyboard or self.reply_keyboard
        return [str(button.get("text", "")) for row in rows for button in row]

    def find_button(self, text: str) -> JSONDict | None:
        """The inline keyboard button whose text is exactly ``text``, if any."""
        for row in self.inline_keyboard:
            for button in row:
                if button.get("text") == text:
                    return dict(button)
        return None

    def to_telegram(self) -> JSONDict:
        """The current state as a Telegram ``Message`` object (what the bot would get back)."""
        message: JSONDict = {"message_id": self.message_id}
        if self.sender is not None:
            message["from"] = dict(self.sender)
        if self.chat.get("type") == "channel":
            message["sender_chat"] = dict(self.chat)
        message["chat"] = dict(self.chat)
        message["date"] = self.date
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(self.reply_to)
        if self.kind == "text":
            message["text"] = self.text or ""
            if self.entities:
                message["entities"] = copy.deepcopy(self.entities)
        elif self.kind in ("photo", "document") and self.file is not None:
            if self.kind == "photo":
                message["photo"] = copy.deepcopy(self.file.photo_sizes)
            else:
                message["document"] = self.file.to_document()
            if self.text:
                message["caption"] = self.text
                if self.entities:
                    message["caption_entities"] = copy.deepcopy(self.entities)
        elif self.kind == "location" and self.location is not None:
            message["location"] = dict(self.location)
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = copy.deepcopy(self.reply_markup)
        return message

    def describe(self) -> str:
        """A one-line human description (used in transcripts and timeout errors)."""
        if self.kind == "photo":
            body = "[photo]" + (f" {self.text}" if self.text else "")
        elif self.kind == "document":
            name = self.file.file_name if self.file and self.file.file_name else "file"
            body = f"[document {name}]" + (f" {self.text}" if self.text else "")
        elif self.kind == "location" and self.location:
            body = f"[location {self.location['latitude']}, {self.location['longitude']}]"
        else:
            body = self.text or ""
        if self.deleted:
            return f"[deleted] {body}"
        if self.edited:
            return f"{body} (edited)"
        return body


class Changes:
    """The double's change sequence: :meth:`touch` advances it and wakes every waiter.

    A waiter takes :attr:`event` *before* checking its condition, then waits on it: any
    change made after the check sets that event.
    """

    def __init__(self) -> None:
        self.seq: int = 0
        self._event = asyncio.Event()

    @property
    def event(self) -> asyncio.Event:
        """The event the next :meth:`touch` sets."""
        return self._event

    def touch(self) -> int:
        """Advance the change sequence and wake every waiter; return the new sequence."""
        self.seq += 1
        event, self._event = self._event, asyncio.Event()
        event.set()
        return self.seq


class MessageLog:
    """The messages of every chat: the bot's (live :class:`SentMessage` objects) and the
    users' (as pushed in updates), and the latest message id used in each chat."""

    def __init__(self) -> None:
        self._message_ids: dict[int, int] = {}
        self._sent: dict[int, list[SentMessage]] = {}
        self._sent_index: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}

    def next_message_id(self, chat_id: int) -> int:
        """A new message id in ``chat_id``, one past the latest."""
        value = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = value
        return value

    def saw_message_id(self, chat_id: int, message_id: int) -> None:
        """Note that ``message_id`` exists in ``chat_id``: later ids will be greater."""
        self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), message_id)

    def add_sent(self, message: SentMessage) -> None:
        """Record a message the bot sent."""
        self._sent.setdefault(message.chat_id, []).append(message)
        self._sent_index[(message.chat_id, message.message_id)] = message

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """The bot's messages in ``chat_id`` (all chats if ``None``), in sending order."""
        if chat_id is None:
            everything = [m for messages in self._sent.values() for m in messages]
            return sorted(everything, key=lambda m: m.sent_seq)
        return list(self._sent.get(chat_id, []))

    def sent_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """The bot message ``message_id`` in ``chat_id`` (deleted ones too), if any."""
        return self._sent_index.get((chat_id, message_id))

    def remember_user_message(self, message: JSONDict) -> None:
        """Keep (a copy of) a message a user sent, so the bot may reply to it or delete it."""
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self._user_messages[key] = copy.deepcopy(message)

    def user_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A copy of the user message ``message_id`` in ``chat_id``, if it is kept."""
        message = self._user_messages.get((chat_id, message_id))
        return copy.deepcopy(message) if message is not None else None

    def has_user_message(self, chat_id: int, message_id: int) -> bool:
        """Whether the user message ``message_id`` in ``chat_id`` is kept (not deleted)."""
        return (chat_id, message_id) in self._user_messages

    def forget_user_message(self, chat_id: int, message_id: int) -> None:
        """Drop the user message ``message_id`` in ``chat_id`` (the bot deleted it)."""
        del self._user_messages[(chat_id, message_id)]
