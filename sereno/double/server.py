"""An in-process HTTP double of the Telegram Bot API, built on aiohttp.

:class:`BotApiDouble` listens on a local port and answers the Bot API methods Sereno
uses, with JSON shaped exactly like Telegram's, so that a real python-telegram-bot
``Application`` can run against it unchanged::

    async with BotApiDouble() as double:
        app = (
            ApplicationBuilder()
            .token(double.token)
            .base_url(double.bot_base_url)
            .base_file_url(double.file_base_url)
            .build()
        )

The double records every call (:attr:`BotApiDouble.calls`), keeps the messages the bot
sent per chat (:meth:`BotApiDouble.sent_messages`, reflecting later edits and
deletions), queues updates for ``getUpdates`` long polling
(:meth:`BotApiDouble.push_update`, :meth:`BotApiDouble.redeliver`), stores files, and
can emulate Telegram's failure modes: rate limits (HTTP 429), blocked users (403),
unknown chats and invalid requests (400), wrong tokens (401) and unknown methods (404).
Simulated users live in :mod:`sereno.double.users`.

Webhooks are only recorded: ``setWebhook`` makes ``getUpdates`` answer 409 like
Telegram does; with :meth:`BotApiDouble.deliver_webhook_to` it also POSTs updates to a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar

import aiohttp
from aiohttp import web

from sereno.double.users import FakeUser

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "MEMBER_STATUSES",
    "SEND_METHODS",
    "TEXT_LIMIT",
    "ApiError",
    "BotApiDouble",
    "Call",
    "SentMessage",
    "StoredFile",
    "UploadedFile",
]

T = TypeVar("T")
JSONDict = dict[str, Any]

#: Maximum length of a message text after entity parsing.
TEXT_LIMIT: Final = 4096
#: Maximum length of a media caption after entity parsing.
CAPTION_LIMIT: Final = 1024
#: Maximum size of ``callback_data`` in UTF-8 bytes.
CALLBACK_DATA_LIMIT: Final = 64
#: Methods that count as "sending a message": they are subject to rate limits and
#: :meth:`BotApiDouble.force_429`.
SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendLocation"})
#: Chat member statuses accepted by :meth:`BotApiDouble.set_chat_member`.
MEMBER_STATUSES: Final = frozenset(
    {"creator", "administrator", "member", "restricted", "left", "kicked"}
)

_API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[^/]*)/?$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_MAX_BODY: Final = 60 * 1024 * 1024

# Parameters whose form value is always a plain string, never JSON. Everything else
# PTB JSON-encodes (ints, bools, lists, dicts), so it is decoded with ``json.loads``.
_STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "action",
        "file_id",
        "photo",
        "document",
        "thumbnail",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
        "language_code",
        "emoji",
        "sticker",
        "title",
        "description",
        "short_description",
        "name",
        "query",
        "address",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
    }
)

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INLINE_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# Update types Telegram delivers when ``allowed_updates`` was never specified.
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": code, "description": ...}``.

    Raised inside method handlers; the dispatcher turns it into the HTTP response with
    status ``code`` and, when given, a ``parameters`` object (e.g. ``retry_after``).
    """

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """Return the JSON body Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a ``multipart/form-data`` request, as recorded in :attr:`Call.params`."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(eq=False)
class StoredFile:
    """A file kept by the double; downloadable at ``{api_url}/file/bot{token}/{file_path}``.

    ``data`` is ``None`` for files only known by URL (``sendPhoto`` with an HTTP URL);
    those have no ``file_size`` and their download answers 404. For photos,
    ``photo_sizes`` holds the PhotoSize objects (increasing size, all pointing at this
    file's bytes) and ``file_id`` is the id of the largest one.
    """

    file_id: str
    file_unique_id: str
    file_path: str
    kind: str
    data: bytes | None = field(repr=False)
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    photo_sizes: list[JSONDict] = field(default_factory=list, repr=False)
    source_url: str | None = None

    @property
    def file_size(self) -> int | None:
        """Size of the stored bytes, or ``None`` when the content is unknown."""
        return None if self.data is None else len(self.data)

    @property
    def file_ids(self) -> list[str]:
        """Every file_id that resolves to this file (one per photo size, or just one)."""
        if self.photo_sizes:
            return [size["file_id"] for size in self.photo_sizes]
        return [self.file_id]

    def to_file(self, file_id: str | None = None) -> JSONDict:
        """The Telegram ``File`` object ``getFile`` returns for ``file_id``."""
        result: JSONDict = {
            "file_id": file_id or self.file_id,
            "file_unique_id": self.file_unique_id,
        }
        if self.file_size is not None:
            result["file_size"] = self.file_size
        result["file_path"] = self.file_path
        return result

    def to_document(self) -> JSONDict:
        """The Telegram ``Document`` object describing this file."""
        result: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            result["file_name"] = self.file_name
        if self.mime_type:
            result["mime_type"] = self.mime_type
        if self.file_size is not None:
            result["file_size"] = self.file_size
        return result


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
            return [
                [b if isinstance(b, dict) else {"text": str(b)} for b in row]
                for row in self.reply_markup["keyboard"]
            ]
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


# --------------------------------------------------------------------------------------
# Formatting: parse_mode processing (HTML, MarkdownV2, Markdown) like Telegram's.
# --------------------------------------------------------------------------------------


class _EntityParseError(Exception):
    """Raised when a formatted text cannot be parsed; becomes "can't parse entities"."""


def _u16(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's entity offset unit)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity(kind: str, start: int, end: int, **extra: Any) -> JSONDict | None:
    if end <= start:
        return None
    entity: JSONDict = {"type": kind, "offset": start, "length": end - start}
    entity.update({k: v for k, v in extra.items() if v is not None})
    return entity


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_TAG = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)(.*?)/?\s*$", re.S)
_HTML_ATTR = re.compile(
    r"""([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
_HTML_CHAR_REF = re.compile(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_unescape(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        ref = match.group(1)
        try:
            if ref[:2] in ("#x", "#X"):
                return chr(int(ref[2:], 16))
            if ref.startswith("#"):
                return chr(int(ref[1:]))
        except (ValueError, OverflowError):
            return match.group(0)
        return _HTML_NAMED.get(ref, match.group(0))

    return _HTML_CHAR_REF.sub(repl, value)


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Strip Telegram-HTML markup from ``src``, returning plain text and entities."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i)
            if end < 0:
                raise _EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise _EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(src, i)}"
                    )
                tag, start, open_attrs = stack.pop()
                if name and name != tag:
                    raise _EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{tag}>", found "</{name}>"'
                    )
                entity = _html_entity(tag, open_attrs, start, pos, stack)
                if entity is not None:
                    entities.append(entity)
            else:
                match = _HTML_TAG.match(inner)
                name = match.group(1).lower() if match else ""
                if name not in _HTML_TAGS:
                    raise _EntityParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
                    )
                attrs: dict[str, str] = {}
                for attr in _HTML_ATTR.finditer(match.group(2) if match else ""):
                    value = next((v for v in attr.groups()[1:] if v is not None), "")
                    attrs[attr.group(1).lower()] = _html_unescape(value)
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _EntityParseError(
                        f'Unsupported start tag "span" at byte offset {_byte_offset(src, i)}'
                    )
                stack.append((name, pos, attrs))
            i = end + 1
        elif ch == "&":
            match = _HTML_CHAR_REF.match(src, i)
            if match:
                piece = _html_unescape(match.group(0))
                i = match.end()
            else:
                piece = "&"
                i += 1
            out.append(piece)
            pos += _u16(piece)
        else:
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            piece = src[i:j]
            out.append(piece)
            pos += _u16(piece)
            i = j
    if stack:
        raise _EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


def _html_entity(
    tag: str,
    attrs: dict[str, str],
    start: int,
    end: int,
    stack: list[tuple[str, int, dict[str, str]]],
) -> JSONDict | None:
    kind = _HTML_TAGS[tag]
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language[len("language-") :]
            return None
    if kind == "text_link":
        href = attrs.get("href")
        if not href:
            return None
        return _entity("text_link", start, end, url=href)
    if kind == "pre":
        return _entity("pre", start, end, language=attrs.get("language"))
    if kind == "blockquote":
        expandable = "expandable" in attrs
        return _entity("expandable_blockquote" if expandable else "blockquote", start, end)
    if kind == "custom_emoji":
        return _entity("custom_emoji", start, end, custom_emoji_id=attrs.get("emoji-id"))
    return _entity(kind, start, end)


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MD_ENTITY_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _find_unescaped(src: str, needle: str, start: int) -> int:
    i = start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        if src.startswith(needle, i):
            return i
        i += 1
    return -1


def _unescape_backslashes(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


def _parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram MarkdownV2, enforcing its escaping rules like Telegram does."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, int]] = []
    entities: list[JSONDict] = []

    def emit(piece: str) -> None:
        nonlocal pos
        out.append(piece)
        pos += _u16(piece)

    def close(index: int) -> None:
        kind, start, _ = stack.pop(index)
        entity = _entity(kind, start, pos)
        if entity is not None:
            entities.append(entity)

    def toggle(kind: str, at: int) -> None:
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] == kind:
                close(index)
                return
        stack.append((kind, pos, at))

    def reserved(ch: str) -> _EntityParseError:
        return _EntityParseError(
            f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
        )

    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                emit(src[i + 1])
                i += 2
                continue
            raise reserved("\\")
        if ch == "`":
            fence = 3 if src.startswith("```", i) else 1
            close_at = _find_unescaped(src, "`" * fence, i + fence)
            if close_at < 0:
                name = "Pre" if fence == 3 else "Code"
                raise _EntityParseError(
                    f"Can't find end of {name} entity at byte offset {_byte_offset(src, i)}"
                )
            body = src[i + fence : close_at]
            language: str | None = None
            if fence == 3:
                first, sep, rest = body.partition("\n")
                if sep and (not first.strip() or " " not in first.strip()):
                    language = first.strip() or None
                    body = rest
            start = pos
            emit(_unescape_backslashes(body))
            entity = _entity("pre" if fence == 3 else "code", start, pos, language=language)
            if entity is not None:
                entities.append(entity)
            i = close_at + fence
            continue
        if ch == ">" and (i == 0 or src[i - 1] == "\n"):
            if not any(kind == "blockquote" for kind, _, _ in stack):
                stack.append(("blockquote", pos, i))
            i += 1
            continue
        if ch == "\n":
            emit("\n")
            if i + 1 < n and src[i + 1] == ">":
                i += 1
                continue
            for index in range(len(stack) - 1, -1, -1):
                if stack[index][0] == "blockquote":
                    kind, start, _ = stack.pop(index)
                    entity = _entity(kind, start, pos - 1)
                    if entity is not None:
                        entities.append(entity)
            i += 1
            continue
        if ch == "*":
            toggle("bold", i)
            i += 1
        elif ch == "_":
            if src.startswith("__", i):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
        elif ch == "~":
            toggle("strikethrough", i)
            i += 1
        elif ch == "|":
            if not src.startswith("||", i):
                raise reserved("|")
            toggle("spoiler", i)
            i += 2
        elif ch == "!" and src.startswith("![", i):
            stack.append(("custom_emoji", pos, i))
            i += 2
        elif ch == "[":
            stack.append(("text_link", pos, i))
            i += 1
        elif ch == "]":
            if not stack or stack[-1][0] not in ("text_link", "custom_emoji"):
                raise reserved("]")
            if not src.startswith("(", i + 1):
                raise reserved("]")
            url_end = _find_unescaped(src, ")", i + 2)
            if url_end < 0:
                raise _EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(src, i + 1)}"
                )
            url = _unescape_backslashes(src[i + 2 : url_end])
            kind, start, _ = stack.pop()
            if kind == "custom_emoji":
                emoji_id = url.split("id=", 1)[-1]
                entity = _entity(kind, start, pos, custom_emoji_id=emoji_id)
            else:
                entity = _entity(kind, start, pos, url=url)
            if entity is not None:
                entities.append(entity)
            i = url_end + 1
        elif ch in _MDV2_RESERVED:
            raise reserved(ch)
        else:
            j = i
            while j < n and src[j] not in _MDV2_RESERVED and src[j] not in "\\\n":
                j += 1
            emit(src[i:j])
            i = j
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0] == "blockquote":
            close(index)
    if stack:
        kind, _, at = stack[-1]
        raise _EntityParseError(
            f"Can't find end of {_MD_ENTITY_NAMES.get(kind, kind)} entity at byte offset "
            f"{_byte_offset(src, at)}"
        )
    return "".join(out), entities


def _parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Telegram Markdown (``*bold*``, ``_italic_``, code, pre, links)."""
    out: list[str] = []
    pos = 0
    entities: list[JSONDict] = []

    def emit(piece: str) -> None:
        nonlocal pos
        out.append(piece)
        pos += _u16(piece)

    def unclosed(at: int) -> _EntityParseError:
        return _EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, at)}"
        )

    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            emit(src[i + 1])
            i += 2
        elif ch in "*_":
            end = src.find(ch, i + 1)
            if end < 0:
                raise unclosed(i)
            start = pos
            emit(src[i + 1 : end])
            entity = _entity("bold" if ch == "*" else "italic", start, pos)
            if entity is not None:
                entities.append(entity)
            i = end + 1
        elif ch == "`":
            fence = 3 if src.startswith("```", i) else 1
            end = src.find("`" * fence, i + fence)
            if end < 0:
                raise unclosed(i)
            start = pos
            emit(src[i + fence : end])
            entity = _entity("pre" if fence == 3 else "code", start, pos)
            if entity is not None:
                entities.append(entity)
            i = end + fence
        elif ch == "[":
            end = src.find("]", i + 1)
            if end < 0:
                raise unclosed(i)
            if src.startswith("(", end + 1):
                url_end = src.find(")", end + 2)
                if url_end < 0:
                    raise unclosed(i)
                start = pos
                emit(src[i + 1 : end])
                entity = _entity("text_link", start, pos, url=src[end + 2 : url_end])
                if entity is not None:
                    entities.append(entity)
                i = url_end + 1
            else:
                emit(src[i : end + 1])
                i = end + 1
        else:
            emit(ch)
            i += 1
    return "".join(out), entities


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace like Telegram, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    result: list[JSONDict] = []
    for entity in entities:
        start = max(0, int(entity.get("offset", 0)) - shift)
        end = min(total, int(entity.get("offset", 0)) + int(entity.get("length", 0)) - shift)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def _parse_formatted(text: str, parse_mode: str) -> tuple[str, list[JSONDict]]:
    mode = parse_mode.lower()
    try:
        if mode == "html":
            text, entities = _parse_html(text)
        elif mode == "markdownv2":
            text, entities = _parse_markdown_v2(text)
        elif mode == "markdown":
            text, entities = _parse_markdown(text)
        else:
            raise _bad_request("unsupported parse_mode")
    except _EntityParseError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from exc
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or ``None`` when Pillow cannot identify it."""
    try:
        from PIL import Image, UnidentifiedImageError  # imported lazily: only photos need it
    except ImportError:  # pragma: no cover - Pillow is a project dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _photo_dimensions(width: int, height: int) -> list[tuple[int, int]]:
    """Telegram-like PhotoSize dimensions: thumbnails of 90/320/800 px, then the photo."""
    longest = max(width, height, 1)
    sizes: list[tuple[int, int]] = []
    for box in (90, 320, 800):
        if longest > box:
            scale = box / longest
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    scale = min(1.0, 2560 / longest)
    sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError as exc:
        raise _bad_request(f"invalid {name} specified") from exc


def _as_float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise _bad_request(f"invalid {name} specified") from exc


def _decode_value(key: str, value: Any) -> Any:
    """Decode a parameter PTB JSON-encoded (non-strings); plain-string params stay as is."""
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _now() -> int:
    return int(time.time())


_MethodHandler = Callable[[JSONDict], Awaitable[Any]]


class BotApiDouble:
    """An aiohttp server answering the Telegram Bot API for one bot token.

    Start it with :meth:`start` (or ``async with``), point PTB at :attr:`bot_base_url`
    and :attr:`file_base_url`, feed updates with :meth:`push_update` or simulated users
    (:meth:`user`), and inspect :attr:`calls` and :meth:`sent_messages`.

    With ``strict_chats`` (the default) sending to a chat the double does not know
    answers 400 "Bad Request: chat not found", as Telegram does for users who never
    talked to the bot; chats become known through :meth:`user`, :meth:`add_chat` and
    :meth:`set_chat_member`. With ``strict_chats=False`` unknown chats are created on
    the fly (positive ids private, ``-100…`` supergroups, other negative ids groups).
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        bot_user_id: int | None = None,
        bot_username: str = "sereno_test_bot",
        bot_first_name: str = "Sereno",
        strict_chats: bool = True,
    ) -> None:
        prefix = token.split(":", 1)[0]
        self.token: str = token
        self.strict_chats: bool = strict_chats
        self.bot_user: JSONDict = {
            "id": bot_user_id
            if bot_user_id is not None
            else int(prefix)
            if prefix.isdigit()
            else 123456,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        #: Every request made to the double, in order of completion.
        self.calls: list[Call] = []
        #: How many requests were answered with HTTP 429 (forced or by enforced limits).
        self.count_429: int = 0
        #: Seconds to hold the answer to each send after carrying it out (network latency:
        #: the message is delivered, the bot has not heard so yet).
        self.answer_delay: float = 0.0

        self._runner: web.AppRunner | None = None
        self._host: str = "127.0.0.1"
        self._port: int | None = None
        self._closing = False

        self._changed = asyncio.Event()
        self._seq = 0

        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, FakeUser] = {}
        self._blocked: set[int] = set()
        self._members: dict[tuple[int, int], str] = {}
        self._member_rights: dict[tuple[int, int], dict[str, bool]] = {}
        self._message_ids: dict[int, int] = {}
        self._sent: dict[int, list[SentMessage]] = {}
        self._sent_index: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}

        self._updates: dict[int, JSONDict] = {}
        self._pending: list[int] = []
        self._redeliver: list[int] = []
        self._redelivered_out: set[int] = set()
        self._next_update_id = 100_000_001
        self._confirmed_offset = 0
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._active_polls = 0

        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(4_812_000_000_000_000_001)
        self._callback_queries: dict[str, JSONDict] = {}
        self._callback_answers: dict[str, JSONDict] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._webhook: JSONDict | None = None
        self._delivery_url: str | None = None
        self._delivery_secret: str | None = None
        self._delivery_session: aiohttp.ClientSession | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        #: HTTP statuses of the webhook POSTs made by :meth:`deliver_webhook_to` (0: no answer).
        self.webhook_answers: list[int] = []

        self._limits: dict[str, int | None] | None = None
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int, deque[float]] = {}
        self._forced_429: deque[int] = deque()

        self._handlers: dict[str, tuple[str, _MethodHandler]] = {}
        for name, handler in (
            ("getMe", self._m_get_me),
            ("getUpdates", self._m_get_updates),
            ("setWebhook", self._m_set_webhook),
            ("deleteWebhook", self._m_delete_webhook),
            ("getWebhookInfo", self._m_get_webhook_info),
            ("logOut", self._m_true),
            ("close", self._m_true),
            ("setMyCommands", self._m_set_my_commands),
            ("getMyCommands", self._m_get_my_commands),
            ("deleteMyCommands", self._m_delete_my_commands),
            ("sendMessage", self._m_send_message),
            ("editMessageText", self._m_edit_message_text),
            ("editMessageReplyMarkup", self._m_edit_message_reply_markup),
            ("editMessageCaption", self._m_edit_message_caption),
            ("deleteMessage", self._m_delete_message),
            ("answerCallbackQuery", self._m_answer_callback_query),
            ("sendChatAction", self._m_send_chat_action),
            ("sendPhoto", self._m_send_photo),
            ("sendDocument", self._m_send_document),
            ("getFile", self._m_get_file),
            ("getChat", self._m_get_chat),
            ("getChatMember", self._m_get_chat_member),
            ("sendLocation", self._m_send_location),
        ):
            self._handlers[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (``port=0`` picks a free port); return :attr:`api_url`."""
        if self._runner is not None:
            return self.api_url
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        self._closing = False
        return self.api_url

    async def stop(self) -> None:
        """Answer pending long polls with an empty result and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._touch()
        if self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._delivery_session is not None:
            await self._delivery_session.close()
            self._delivery_session = None
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> BotApiDouble:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """Root URL of the running server, e.g. ``http://127.0.0.1:43123``."""
        if self._port is None:
            raise RuntimeError("BotApiDouble is not running; call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def bot_base_url(self) -> str:
        """Value for PTB's ``base_url``: ``{api_url}/bot``."""
        return f"{self.api_url}/bot"

    @property
    def file_base_url(self) -> str:
        """Value for PTB's ``base_file_url``: ``{api_url}/file/bot``."""
        return f"{self.api_url}/file/bot"

    # ------------------------------------------------------------------ configuration

    def user(
        self,
        user_id: int,
        first_name: str = "Ana",
        language_code: str = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> FakeUser:
        """The simulated user ``user_id`` (created on first use; private chat id == user id).

        Calling again with the same id returns the same :class:`FakeUser`, ignoring the
        other arguments.
        """
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        fake = FakeUser(
            self,
            user_id,
            first_name,
            language_code,
            last_name=last_name,
            username=username,
        )
        self._users[user_id] = fake
        self._chats[user_id] = fake.chat_dict
        return fake

    def add_chat(
        self,
        chat_id: int,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Register (or replace) a chat the bot can talk to; return its ``Chat`` object.

        ``type`` defaults to ``private`` for positive ids, ``supergroup`` for ``-100…``
        ids and ``group`` for other negative ids. ``username`` (without ``@``) lets the
        bot address the chat as ``@username``.
        """
        kind = type or self._infer_chat_type(chat_id)
        chat: JSONDict = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = first_name or f"User {chat_id}"
        else:
            chat["title"] = title or f"{kind.capitalize()} {chat_id}"
        if username:
            chat["username"] = username.lstrip("@")
        self._chats[chat_id] = chat
        return dict(chat)

    def block(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` fail with 403 (user blocked the bot / bot was kicked)."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(chat_id)

    def is_blocked(self, chat_id: int) -> bool:
        """Whether :meth:`block` is in effect for ``chat_id``."""
        return chat_id in self._blocked

    def set_chat_member(self, chat_id: int, user_id: int, status: str, **rights: bool) -> None:
        """Make ``getChatMember(chat_id, user_id)`` report ``status`` (default is "member").

        ``status`` is one of :data:`MEMBER_STATUSES`. The chat is registered if unknown.
        ``rights`` override an administrator's ``can_*`` fields (in a channel, posting and
        editing are granted unless given as False).
        """
        self._member_rights[(chat_id, user_id)] = dict(rights)
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}, got {status!r}")
        if chat_id not in self._chats:
            self.add_chat(chat_id)
        self._members[(chat_id, user_id)] = status

    def enforce_limits(
        self,
        global_per_second: int | None = 30,
        private_per_second: int | None = 1,
        group_per_minute: int | None = 20,
    ) -> None:
        """Answer 429 to :data:`SEND_METHODS` calls that exceed Telegram's flood limits.

        Sliding windows over accepted sends: all chats within 1 s, one private chat
        within 1 s, one group/supergroup/channel within 60 s. ``None`` disables a limit.
        ``retry_after`` is the whole seconds until the window frees a slot (at least 1).
        """
        self._limits = {
            "global_per_second": global_per_second,
            "private_per_second": private_per_second,
            "group_per_minute": group_per_minute,
        }

    def disable_limits(self) -> None:
        """Stop enforcing the limits set by :meth:`enforce_limits`."""
        self._limits = None

    def force_429(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` :data:`SEND_METHODS` calls with 429 ``retry_after``."""
        self._forced_429.extend([retry_after] * times)

    def add_file(
        self,
        data: bytes,
        *,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store ``data`` as a file (``kind`` "photo", "document", "sticker", …).

        Photos get Telegram-like PhotoSizes computed from the image dimensions (800x600
        is assumed when Pillow cannot read the bytes).
        """
        if kind == "photo":
            return self._store_photo(data, strict=False)
        return self._store_file(data, kind=kind, file_name=file_name, mime_type=mime_type)

    def file(self, file_id: str) -> StoredFile:
        """The stored file for ``file_id``; raises ``KeyError`` if unknown."""
        return self._files[file_id]

    # ------------------------------------------------------------------ updates

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue ``update`` (without ``update_id``) for ``getUpdates``; return its new id.

        Ids are monotonic. A waiting long poll returns right away. A message or channel
        post it carries is remembered as the chat's (the bot may reply to it or delete
        it), and the bot's next message in that chat gets a later id.
        """
        update_id = self._next_update_id
        self._next_update_id += 1
        body = copy.deepcopy({k: v for k, v in update.items() if k != "update_id"})
        for kind in ("message", "channel_post"):
            posted = body.get(kind)
            if isinstance(posted, dict) and isinstance(posted.get("chat"), dict) and "message_id" in posted:
                chat_id, mid = int(posted["chat"]["id"]), int(posted["message_id"])
                self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), mid)
                self._remember_user_message(posted)
        self._updates[update_id] = {"update_id": update_id, **body}
        if self._delivery_url is not None:
            task = asyncio.get_running_loop().create_task(self._deliver(self._updates[update_id]))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            self._pending.append(update_id)
        self._touch()
        return update_id

    def deliver_webhook_to(self, url: str | None, secret: str | None = None) -> None:
        """POST every update pushed from now on to `url`, as Telegram does for a webhook,
        instead of queueing it for getUpdates; `secret` goes in the
        X-Telegram-Bot-Api-Secret-Token header (default: the secret_token given to
        setWebhook). A refused or failed POST is retried a few times, as Telegram does.
        ``None`` goes back to getUpdates."""
        self._delivery_url = url
        self._delivery_secret = secret

    async def _deliver(self, update: JSONDict) -> None:
        if self._delivery_session is None:
            self._delivery_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        secret = self._delivery_secret or (self._webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": str(secret)} if secret else {}
        assert self._delivery_url is not None
        for attempt in range(5):
            try:
                async with self._delivery_session.post(self._delivery_url, json=update, headers=headers) as response:
                    self.webhook_answers.append(response.status)
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                self.webhook_answers.append(0)
            await asyncio.sleep(0.1 * (attempt + 1))

    def redeliver(self, update_id: int) -> None:
        """Deliver the already pushed update ``update_id`` again, with the same id.

        The next ``getUpdates`` returns it even though the bot's offset is past it (it
        is put first in the batch); it is dropped once the bot polls again.
        """
        if update_id not in self._updates:
            raise KeyError(f"unknown update_id {update_id}")
        if update_id not in self._redeliver:
            self._redeliver.append(update_id)
        self._touch()

    def get_update(self, update_id: int) -> JSONDict:
        """A copy of the pushed update ``update_id``; raises ``KeyError`` if unknown."""
        return copy.deepcopy(self._updates[update_id])

    @property
    def pending_update_count(self) -> int:
        """Updates pushed but not yet confirmed by a ``getUpdates`` offset."""
        return len(self._pending) + len(self._redeliver)

    @property
    def active_polls(self) -> int:
        """``getUpdates`` requests currently being served (long polls waiting for updates)."""
        return self._active_polls

    async def wait_confirmed(self, update_id: int, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed ``update_id`` (polled with an offset past it)."""
        await self.wait_until(
            lambda: update_id < self._confirmed_offset and update_id not in self._redeliver,
            timeout,
            description=f"confirmation of update {update_id}",
        )

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive, like Telegram's method names)."""
        canonical = self._canonical(method)
        return [call for call in self.calls if call.method == canonical]

    def sent_messages(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id`` (all chats if ``None``), in sending order.

        The objects are live: they reflect later edits and deletions.
        """
        if chat_id is None:
            everything = [m for messages in self._sent.values() for m in messages]
            return sorted(everything, key=lambda m: m.sent_seq)
        return list(self._sent.get(chat_id, []))

    def sent_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """The bot message ``message_id`` in ``chat_id``, if the bot sent it."""
        return self._sent_index.get((chat_id, message_id))

    @property
    def callback_answers(self) -> dict[str, JSONDict]:
        """``answerCallbackQuery`` parameters by callback query id."""
        return dict(self._callback_answers)

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands set with ``setMyCommands`` for ``scope`` (default scope if ``None``)."""
        return copy.deepcopy(self._commands.get(self._scope_key(scope, language_code), []))

    @property
    def webhook(self) -> JSONDict | None:
        """The parameters of the active ``setWebhook``, or ``None``."""
        return copy.deepcopy(self._webhook)

    # ------------------------------------------------------------------ waiting

    async def wait_until(
        self,
        condition: Callable[[], T | None],
        timeout: float = 5.0,
        *,
        description: str = "condition",
    ) -> T:
        """Wait until ``condition()`` returns a truthy value and return that value.

        ``condition`` is re-evaluated whenever the double's state changes (a call is
        recorded, a message is sent/edited/deleted, an update is queued), not by
        polling. Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {description}; "
                    f"{self._describe_recent()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,
        *,
        chat_id: int | None = None,
    ) -> SentMessage:
        """Wait until a bot message (in ``chat_id``, or any chat) satisfies ``predicate``.

        Messages are checked in their current state, so an edit can satisfy it; the
        earliest-sent matching message is returned.
        """

        def find() -> SentMessage | None:
            return next((m for m in self.sent_messages(chat_id) if predicate(m)), None)

        where = f"chat {chat_id}" if chat_id is not None else "any chat"
        return await self.wait_until(find, timeout, description=f"a bot message in {where}")

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """Wait until a call of ``method`` (matching ``predicate``) has been recorded."""

        def find() -> Call | None:
            return next(
                (c for c in self.calls_to(method) if predicate is None or predicate(c)), None
            )

        return await self.wait_until(find, timeout, description=f"a {method} call")

    async def wait_callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> JSONDict:
        """Wait until the bot answers callback query ``callback_query_id``; return the params."""
        return await self.wait_until(
            lambda: self._callback_answers.get(callback_query_id),
            timeout,
            description=f"answerCallbackQuery for {callback_query_id}",
        )

    # ------------------------------------------------------------------ internals (FakeUser too)

    def _touch(self) -> int:
        """Advance the change sequence and wake every waiter; return the new sequence."""
        self._seq += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        return self._seq

    def _next_message_id(self, chat_id: int) -> int:
        value = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = value
        return value

    def _remember_user_message(self, message: JSONDict) -> None:
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self._user_messages[key] = copy.deepcopy(message)

    def _user_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        message = self._user_messages.get((chat_id, message_id))
        return copy.deepcopy(message) if message is not None else None

    def _new_callback_query(self, update_hint: JSONDict) -> str:
        query_id = str(next(self._callback_counter))
        self._callback_queries[query_id] = update_hint
        return query_id

    @staticmethod
    def _chat_instance(chat_id: int) -> str:
        return str((abs(chat_id) * 2_654_435_761 + 97_531) % 10**19)

    def _describe_recent(self, count: int = 5) -> str:
        recent = self.sent_messages()[-count:]
        if not recent:
            return "the bot has sent no messages"
        lines = "; ".join(f"chat {m.chat_id} #{m.message_id}: {m.describe()!r}" for m in recent)
        return f"last bot messages: {lines}"

    # ------------------------------------------------------------------ HTTP plumbing

    def _canonical(self, method: str) -> str:
        entry = self._handlers.get(method.lower())
        return entry[0] if entry else method

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Route ``/bot<token>/<method>`` and ``/file/bot<token>/<path>`` requests."""
        path = request.path
        file_match = _FILE_PATH.match(path)
        if file_match is not None:
            return self._serve_file(file_match.group("token"), file_match.group("path"))
        api_match = _API_PATH.match(path)
        if api_match is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        token, method = api_match.group("token"), api_match.group("method")
        entry = self._handlers.get(method.lower())
        name = entry[0] if entry else method
        started = time.time()
        status: int
        body: JSONDict
        params: JSONDict = {}
        try:
            params = await self._read_params(request)
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            result = await entry[1](params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except asyncio.CancelledError:
            self._record(Call(name, params, started, None, 499))
            raise
        except Exception as exc:  # any other failure is a 500 for the bot
            status = 500
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: {exc!r}",
            }
        if status == 429:
            self.count_429 += 1
        self._record(Call(name, params, started, body, status))
        if self.answer_delay and name in SEND_METHODS:
            await asyncio.sleep(self.answer_delay)  # done, but the bot does not know yet
        return web.json_response(body, status=status)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._touch()

    async def _read_params(self, request: web.Request) -> JSONDict:
        """Merge query-string and body parameters, decoding PTB's JSON-encoded values."""
        params: JSONDict = {k: _decode_value(k, v) for k, v in request.query.items()}
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError as exc:
                raise _bad_request("can't parse JSON encoded request parameters") from exc
            if isinstance(payload, dict):
                for key, value in payload.items():
                    looks_json = isinstance(value, str) and value[:1] in ("{", "[")
                    params[key] = _decode_value(key, value) if looks_json else value
            return params
        form = await request.post()
        uploads: dict[str, UploadedFile] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                upload = UploadedFile(key, value.filename, value.content_type, value.file.read())
                uploads[key] = upload
                params[key] = upload
            elif isinstance(value, bytes):
                params[key] = _decode_value(key, value.decode("utf-8", "replace"))
            else:
                params[key] = _decode_value(key, value)
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                target = uploads.get(value[len("attach://") :])
                if target is not None:
                    params[key] = target
        return params

    def _serve_file(self, token: str, file_path: str) -> web.Response:
        started = time.time()
        stored = self._files_by_path.get(file_path) if token == self.token else None
        if token != self.token:
            status = 401
            body: JSONDict | None = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif stored is None or stored.data is None:
            status, body = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            status, body = 200, None
        self._record(Call("downloadFile", {"file_path": file_path}, started, body, status))
        if stored is not None and stored.data is not None and status == 200:
            return web.Response(
                body=stored.data, content_type=stored.mime_type or "application/octet-stream"
            )
        return web.json_response(body, status=status)

    # ------------------------------------------------------------------ chats & sending checks

    @staticmethod
    def _infer_chat_type(chat_id: int) -> str:
        if chat_id > 0:
            return "private"
        if chat_id <= -1_000_000_000_000:
            return "supergroup"
        return "group"

    def _resolve_chat(self, params: JSONDict, key: str = "chat_id") -> JSONDict:
        """Return the Chat object for ``params[key]`` or raise Telegram's 400."""
        raw = params.get(key)
        if raw is None or raw == "":
            raise _bad_request(f"{key} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            for known in self._chats.values():
                if str(known.get("username", "")).lower() == wanted:
                    return known
            raise _bad_request("chat not found")
        chat_id = _as_int(raw, key)
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats:
                raise _bad_request("chat not found")
            self.add_chat(chat_id)
            chat = self._chats[chat_id]
        return chat

    def _check_blocked(self, chat: JSONDict) -> None:
        if chat["id"] not in self._blocked:
            return
        kind = chat.get("type")
        if kind == "private":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "channel":
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        if kind == "supergroup":
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        raise ApiError(403, "Forbidden: bot was kicked from the group chat")

    def _begin_send(self, params: JSONDict) -> JSONDict:
        """Checks every send starts with: forced 429, chat lookup, blocked chat."""
        if self._forced_429:
            raise self._too_many(self._forced_429.popleft())
        chat = self._resolve_chat(params)
        self._check_blocked(chat)
        return chat

    @staticmethod
    def _too_many(retry_after: int) -> ApiError:
        return ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    def _check_rate(self, chat: JSONDict) -> None:
        """Raise 429 when one more send to ``chat`` would exceed an enforced limit."""
        if self._limits is None:
            return
        now = time.monotonic()
        waits: list[float] = []
        global_limit = self._limits.get("global_per_second")
        self._prune(self._send_times, now, 1.0)
        if global_limit is not None and len(self._send_times) >= global_limit:
            waits.append(self._send_times[-global_limit] + 1.0 - now)
        per_chat = self._chat_send_times.get(chat["id"])
        if chat.get("type") == "private":
            limit, window = self._limits.get("private_per_second"), 1.0
        else:
            limit, window = self._limits.get("group_per_minute"), 60.0
        if per_chat is not None:
            self._prune(per_chat, now, 60.0)
            recent = [t for t in per_chat if t > now - window]
            if limit is not None and len(recent) >= limit:
                waits.append(recent[-limit] + window - now)
        if waits:
            raise self._too_many(max(1, math.ceil(max(waits))))

    @staticmethod
    def _prune(times: deque[float], now: float, window: float) -> None:
        while times and times[0] <= now - window:
            times.popleft()

    def _note_send(self, chat: JSONDict) -> None:
        now = time.monotonic()
        self._send_times.append(now)
        self._chat_send_times.setdefault(chat["id"], deque()).append(now)

    def _format(
        self,
        raw: Any,
        parse_mode: Any,
        entities: Any,
        *,
        limit: int,
        required: bool,
        empty_error: str,
        long_error: str,
    ) -> tuple[str | None, list[JSONDict]]:
        """Apply ``parse_mode``/``entities`` and Telegram's trimming and length checks."""
        if raw is None or raw == "":
            if required:
                raise _bad_request(empty_error)
            return None, []
        text = raw if isinstance(raw, str) else json.dumps(raw)
        if parse_mode:
            text, parsed = _parse_formatted(text, str(parse_mode))
        else:
            parsed = [dict(e) for e in entities] if isinstance(entities, list) else []
        text, parsed = _strip_text(text, parsed)
        if not text:
            if required:
                raise _bad_request(empty_error)
            return None, []
        if len(text) > limit:
            raise _bad_request(long_error)
        return text, parsed

    def _format_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        text, entities = self._format(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=TEXT_LIMIT,
            required=True,
            empty_error="message text is empty",
            long_error="message is too long",
        )
        return text or "", entities

    def _format_caption(self, params: JSONDict) -> tuple[str | None, list[JSONDict]]:
        return self._format(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=CAPTION_LIMIT,
            required=False,
            empty_error="message caption is empty",
            long_error="message caption is too long",
        )

    @staticmethod
    def _validate_markup(markup: Any, *, inline_only: bool = False) -> JSONDict | None:
        """Check a reply_markup like Telegram (button data size, button kinds, shape)."""
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of '
                    "Arrays"
                )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise _bad_request(
                            "can't parse inline keyboard button: "
                            'Field "text" must be of type String'
                        )
                    if not any(key in button for key in _INLINE_BUTTON_ACTIONS):
                        raise _bad_request(
                            "can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard"
                        )
                    data = button.get("callback_data")
                    if data is not None and (
                        not isinstance(data, str)
                        or not data
                        or len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT
                    ):
                        raise _bad_request("BUTTON_DATA_INVALID")
            if not any(rows):
                return None  # an empty inline keyboard means "no keyboard"
            return copy.deepcopy(markup)
        if inline_only:
            raise _bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
                )
            return copy.deepcopy(markup)
        if "remove_keyboard" in markup or "force_reply" in markup:
            return copy.deepcopy(markup)
        raise _bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: JSONDict, params: JSONDict) -> JSONDict | None:
        """The message being replied to (as a Message object), per reply_parameters."""
        reply = params.get("reply_parameters")
        message_id: Any = None
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params.get("reply_to_message_id")
        if message_id is None:
            return None
        mid = _as_int(message_id, "message_id")
        sent = self._sent_index.get((chat["id"], mid))
        if sent is not None and not sent.deleted:
            return sent.to_telegram()
        user_message = self._user_message(chat["id"], mid)
        if user_message is not None:
            return user_message
        if allow_missing:
            return None
        raise _bad_request("message to be replied not found")

    def _add_sent(
        self,
        chat: JSONDict,
        *,
        kind: str,
        text: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        params: JSONDict,
        reply_to: JSONDict | None,
        stored: StoredFile | None = None,
        location: JSONDict | None = None,
    ) -> SentMessage:
        self._note_send(chat)
        chat_id = int(chat["id"])
        message = SentMessage(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            text=text,
            reply_markup=markup,
            date=_now(),
            chat=dict(chat),
            sender=None if chat.get("type") == "channel" else dict(self.bot_user),
            entities=entities,
            file=stored,
            location=location,
            params=dict(params),
            reply_to=reply_to,
        )
        message.sent_seq = message.changed_seq = self._seq + 1
        self._sent.setdefault(chat_id, []).append(message)
        self._sent_index[(chat_id, message.message_id)] = message
        self._touch()
        return message

    def _message_to_edit(self, params: JSONDict) -> SentMessage:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._resolve_chat(params)
        if params.get("message_id") in (None, ""):
            raise _bad_request("message identifier is not specified")
        mid = _as_int(params["message_id"], "message_id")
        message = self._sent_index.get((chat["id"], mid))
        if message is None or message.deleted:
            if self._user_message(chat["id"], mid) is not None:
                raise _bad_request("message can't be edited")
            raise _bad_request("message to edit not found")
        return message

    def _apply_edit(
        self,
        message: SentMessage,
        *,
        text: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        markup_given: bool,
    ) -> JSONDict:
        """Apply an edit (Telegram semantics for omitted markup) or raise "not modified"."""
        if markup_given:
            new_markup = markup
        elif message.reply_markup and "inline_keyboard" in message.reply_markup:
            new_markup = None
        else:
            new_markup = message.reply_markup
        if (
            text == message.text
            and entities == message.entities
            and new_markup == message.reply_markup
        ):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        if text != message.text:
            message.history.append(message.text)
        message.text = text
        message.entities = entities
        message.reply_markup = new_markup
        message.edit_date = _now()
        message.changed_seq = self._seq + 1
        self._touch()
        return message.to_telegram()

    # ------------------------------------------------------------------ files

    def _store_file(
        self,
        data: bytes | None,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        source_url: str | None = None,
    ) -> StoredFile:
        number = next(self._file_counter)
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, "documents")
        stored = StoredFile(
            file_id=f"BQACAgEAAxkBAAI{number:08d}",
            file_unique_id=f"AgAD{number:08d}",
            file_path=f"{folder}/file_{number}{extension}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            source_url=source_url,
        )
        self._register_file(stored)
        return stored

    def _store_photo(
        self, data: bytes | None, *, strict: bool, source_url: str | None = None
    ) -> StoredFile:
        size = _image_size(data) if data is not None else None
        if size is None:
            if strict and data is not None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            size = (800, 600)
        number = next(self._file_counter)
        unique = f"AQAD{number:08d}"
        sizes: list[JSONDict] = []
        for index, (width, height) in enumerate(_photo_dimensions(*size)):
            entry: JSONDict = {
                "file_id": f"AgACAgEAAxkBAAI{number:08d}{chr(ord('a') + index)}",
                "file_unique_id": unique,
                "width": width,
                "height": height,
            }
            if data is not None:
                entry["file_size"] = len(data)
            sizes.append(entry)
        stored = StoredFile(
            file_id=sizes[-1]["file_id"],
            file_unique_id=unique,
            file_path=f"photos/file_{number}.jpg",
            kind="photo",
            data=data,
            mime_type="image/jpeg",
            width=size[0],
            height=size[1],
            photo_sizes=sizes,
            source_url=source_url,
        )
        self._register_file(stored)
        return stored

    def _register_file(self, stored: StoredFile) -> None:
        for file_id in stored.file_ids:
            self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored

    def _input_file(self, params: JSONDict, key: str, kind: str) -> StoredFile:
        """Resolve the ``photo``/``document`` parameter: upload, known file_id or URL."""
        value = params.get(key)
        if value is None or value == "":
            raise _bad_request(f"there is no {key} in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise _bad_request("file must be non-empty")
            if kind == "photo":
                return self._store_photo(value.data, strict=True)
            return self._store_file(
                value.data,
                kind=kind,
                file_name=value.filename,
                mime_type=value.content_type or "application/octet-stream",
            )
        reference = str(value)
        known = self._files.get(reference)
        if known is not None:
            if kind == "photo" and known.kind != "photo":
                raise _bad_request("can't use file of type Document as Photo")
            return known
        if reference.startswith(("http://", "https://")):
            if kind == "photo":
                return self._store_photo(None, strict=False, source_url=reference)
            name = reference.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self._store_file(None, kind=kind, file_name=name, source_url=reference)
        raise _bad_request("wrong file identifier/HTTP URL specified")

    # ------------------------------------------------------------------ method handlers

    async def _m_true(self, params: JSONDict) -> bool:
        """logOut / close: always succeed."""
        return True

    async def _m_get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u >= offset]
            self._confirmed_offset = max(self._confirmed_offset, offset)
        elif offset < 0:
            keep = self._pending[offset:]
            dropped = [u for u in self._pending if u not in keep]
            if dropped:
                self._confirmed_offset = max(self._confirmed_offset, max(dropped) + 1)
            self._pending = keep

    def _allowed(self, update_id: int) -> bool:
        kind = _update_type(self._updates[update_id])
        if self._allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def _collect(self, limit: int) -> list[int]:
        self._pending = [u for u in self._pending if self._allowed(u)]
        pending = set(self._pending)
        batch: list[int] = []
        for update_id in self._redeliver:
            if len(batch) >= limit:
                break
            if update_id in pending or update_id in self._redelivered_out:
                continue
            batch.append(update_id)
        for update_id in sorted(self._pending):
            if len(batch) >= limit:
                break
            batch.append(update_id)
        return batch

    async def _m_get_updates(self, params: JSONDict) -> list[JSONDict]:
        """Long poll: answer as soon as an update is available or ``timeout`` elapsed."""
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset", 0) or 0, "offset")
        limit = min(100, max(1, _as_int(params.get("limit", 100) or 100, "limit")))
        timeout = max(0.0, _as_float(params.get("timeout", 0) or 0, "timeout"))
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        self._confirm(offset)
        # Redelivered updates handed out by the previous poll are confirmed by this one.
        self._redeliver = [u for u in self._redeliver if u not in self._redelivered_out]
        self._redelivered_out.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._poll_generation += 1
        generation = self._poll_generation
        self._active_polls += 1
        self._touch()  # wakes (and so terminates) an older poll, and wait_until() callers
        try:
            while True:
                event = self._changed
                if self._closing:
                    return []
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                batch = self._collect(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self._active_polls -= 1
        for update_id in batch:
            if update_id in self._redeliver:
                self._redelivered_out.add(update_id)
        return [copy.deepcopy(self._updates[u]) for u in batch]

    async def _m_set_webhook(self, params: JSONDict) -> bool:
        url = params.get("url") or ""
        if params.get("drop_pending_updates"):
            self._drop_pending()
        if not url:
            self._webhook = None
            return True
        if not str(url).startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        return True

    def _drop_pending(self) -> None:
        if self._pending:
            self._confirmed_offset = max(self._confirmed_offset, max(self._pending) + 1)
        self._pending.clear()
        self._redeliver.clear()
        self._redelivered_out.clear()

    async def _m_delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self._webhook = None
        return True

    async def _m_get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": (self._webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
        }
        if self._webhook is not None:
            info["max_connections"] = int(self._webhook.get("max_connections") or 40)
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = list(self._webhook["allowed_updates"])
            if self._webhook.get("ip_address"):
                info["ip_address"] = self._webhook["ip_address"]
        return info

    @staticmethod
    def _scope_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if not scope:
            scope = {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    async def _m_set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request(
                "commands is empty" if commands is None else "can't parse commands JSON object"
            )
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND.match(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request(
                    "command description is empty"
                    if not description
                    else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
            cleaned.append({"command": name, "description": description})
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def _m_delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._scope_key(params.get("scope"), params.get("language_code")), None)
        return True

    async def _m_send_message(self, params: JSONDict) -> JSONDict:
        chat = self._begin_send(params)
        text, entities = self._format_text(params)
        markup = self._validate_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        self._check_rate(chat)
        message = self._add_sent(
            chat,
            kind="text",
            text=text,
            entities=entities,
            markup=markup,
            params=params,
            reply_to=reply_to,
        )
        return message.to_telegram()

    async def _m_edit_message_text(self, params: JSONDict) -> JSONDict:
        message = self._message_to_edit(params)
        if message.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._format_text(params)
        markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            text=text,
            entities=entities,
            markup=markup,
            markup_given=markup is not None,
        )

    async def _m_edit_message_caption(self, params: JSONDict) -> JSONDict:
        message = self._message_to_edit(params)
        if message.kind not in ("photo", "document"):
            raise _bad_request("there is no caption in the message to edit")
        caption, entities = self._format_caption(params)
        markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            text=caption,
            entities=entities,
            markup=markup,
            markup_given=markup is not None,
        )

    async def _m_edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        message = self._message_to_edit(params)
        markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            text=message.text,
            entities=message.entities,
            markup=markup,
            markup_given=True,
        )

    async def _m_delete_message(self, params: JSONDict) -> bool:
        chat = self._resolve_chat(params)
        if params.get("message_id") in (None, ""):
            raise _bad_request("message identifier is not specified")
        mid = _as_int(params["message_id"], "message_id")
        message = self._sent_index.get((chat["id"], mid))
        if message is not None and not message.deleted:
            message.deleted = True
            message.changed_seq = self._seq + 1
            self._touch()
            return True
        if (chat["id"], mid) in self._user_messages:
            if chat.get("type") != "private" and not self._may_delete_others(chat["id"]):
                raise _bad_request("message can't be deleted")
            del self._user_messages[(chat["id"], mid)]
            self._touch()
            return True
        raise _bad_request("message to delete not found")

    def _may_delete_others(self, chat_id: int) -> bool:
        """Whether the bot may delete other people's messages in a group or channel: as
        its creator, or an administrator not denied ``can_delete_messages``."""
        key = (chat_id, self.bot_user["id"])
        status = self._members.get(key, "member")
        return status == "creator" or (
            status == "administrator" and self._member_rights.get(key, {}).get("can_delete_messages", True))

    async def _m_answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id:
            raise _bad_request("callback_query_id is empty")
        if query_id not in self._callback_queries or query_id in self._callback_answers:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callback_answers[query_id] = dict(params)
        self._touch()
        return True

    async def _m_send_chat_action(self, params: JSONDict) -> bool:
        chat = self._resolve_chat(params)
        self._check_blocked(chat)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _m_send_photo(self, params: JSONDict) -> JSONDict:
        return self._send_file(params, "photo")

    async def _m_send_document(self, params: JSONDict) -> JSONDict:
        return self._send_file(params, "document")

    def _send_file(self, params: JSONDict, kind: str) -> JSONDict:
        """sendPhoto / sendDocument: the file (uploaded or by id), caption and buttons."""
        chat = self._begin_send(params)
        caption, entities = self._format_caption(params)
        markup = self._validate_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        stored = self._input_file(params, kind, kind)
        self._check_rate(chat)
        message = self._add_sent(
            chat,
            kind=kind,
            text=caption,
            entities=entities,
            markup=markup,
            params=params,
            reply_to=reply_to,
            stored=stored,
        )
        return message.to_telegram()

    async def _m_send_location(self, params: JSONDict) -> JSONDict:
        chat = self._begin_send(params)
        for key in ("latitude", "longitude"):
            if params.get(key) in (None, ""):
                raise _bad_request(f"{key} is empty")
        latitude = _as_float(params["latitude"], "latitude")
        longitude = _as_float(params["longitude"], "longitude")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise _bad_request("wrong coordinates specified")
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if params.get(key) is not None:
                location[key] = params[key]
        markup = self._validate_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        self._check_rate(chat)
        message = self._add_sent(
            chat,
            kind="location",
            text=None,
            entities=[],
            markup=markup,
            params=params,
            reply_to=reply_to,
            location=location,
        )
        return message.to_telegram()

    async def _m_get_file(self, params: JSONDict) -> JSONDict:
        file_id = str(params.get("file_id") or "")
        if not file_id:
            raise _bad_request("file_id is empty")
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad_request("invalid file_id")
        return stored.to_file(file_id)

    async def _m_get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _user_object(self, user_id: int) -> JSONDict:
        if user_id == self.bot_user["id"]:
            return dict(self.bot_user)
        fake = self._users.get(user_id)
        if fake is not None:
            return fake.user_dict
        return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}

    async def _m_get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params)
        if params.get("user_id") in (None, ""):
            raise _bad_request("user_id is empty")
        user_id = _as_int(params["user_id"], "user_id")
        status = self._members.get((chat["id"], user_id), "member")
        member: JSONDict = {"user": self._user_object(user_id), "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
            if chat["type"] == "channel":
                member.update({"can_post_messages": True, "can_edit_messages": True})
            member.update(self._member_rights.get((chat["id"], user_id), {}))
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_pin_messages": False,
                    "can_send_messages": False,
                    "can_send_polls": False,
                    "can_send_other_messages": False,
                    "can_add_web_page_previews": False,
                    "can_manage_topics": False,
                    "until_date": 0,
                    "can_send_audios": False,
                    "can_send_documents": False,
                    "can_send_photos": False,
                    "can_send_videos": False,
                    "can_send_video_notes": False,
                    "can_send_voice_notes": False,
                    "can_edit_tag": False,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def __repr__(self) -> str:
        where = self.api_url if self._port is not None else "stopped"
        return f"<BotApiDouble {where} calls={len(self.calls)}>"
