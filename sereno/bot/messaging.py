"""Sending and editing messages.

Messages go through `Bot.do_api_request` and come back as plain JSON: PTB would otherwise
parse every answer (which echoes the whole message and its keyboard) into objects we never
read — about a sixth of a conversation step's cost. Keyboards are plain Bot API JSON built
once per language (see `sereno.bot.render`). Bot API method names are case-insensitive; the
lower-case names used here are the ones PTB has no wrapper for, so it does not warn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import Bot
from telegram.error import BadRequest

Markup = dict[str, Any]
REMOVE_KEYBOARD: Markup = {"remove_keyboard": True}
#: Telegram's limit on a message's text, in UTF-16 code units (Telegram's unit; messages
#: are plain text, never parsed as HTML or Markdown, so what is sent is what is counted).
MAX_TEXT = 4096
ELLIPSIS = "…"


def units(text: str) -> int:
    """Length of `text` as Telegram counts it: UTF-16 code units (an emoji outside the
    Basic Multilingual Plane counts two)."""
    return len(text.encode("utf-16-le")) // 2


def _head(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-16 units (a character is never cut
    in half: a surrogate pair split at the end is dropped)."""
    return text.encode("utf-16-le")[: 2 * max(0, limit)].decode("utf-16-le", "ignore")


def clip(text: str, limit: int) -> str:
    """`text` when it fits in `limit` UTF-16 units, else its start with "…" after, within
    `limit` in all."""
    if units(text) <= limit:
        return text
    return _head(text, limit - 1).rstrip() + ELLIPSIS


def _pieces(block: str, limit: int) -> list[str]:
    """A block cut into parts of at most `limit` UTF-16 units (itself when it fits)."""
    pieces = []
    while units(block) > limit:
        head = _head(block, limit) or block[:1]
        pieces.append(head)
        block = block[len(head) :]
    return [*pieces, block]


def pack(blocks: Sequence[str], limit: int = MAX_TEXT) -> list[str]:
    """Blocks joined by line breaks into as few messages as fit in `limit` UTF-16 units
    each, in order; a block is cut only when it is longer than a message on its own
    (nothing is lost: the parts follow each other)."""
    messages: list[str] = []
    current = ""
    for piece in (piece for block in blocks for piece in _pieces(block, limit)):
        candidate = f"{current}\n{piece}" if current else piece
        if current and units(candidate) > limit:
            messages.append(current.strip("\n"))
            candidate = piece
        current = candidate
    if current.strip():
        messages.append(current.strip("\n"))
    return [message for message in messages if message.strip()]


async def send(bot: Bot, chat_id: int, text: str, markup: Markup | None = None) -> int:
    """Send a text message; returns its message id."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if markup is not None:
        params["reply_markup"] = markup
    result = await bot.do_api_request("sendmessage", api_kwargs=params)
    return int(result["message_id"])


async def edit(bot: Bot, chat_id: int, message_id: int, text: str, markup: Markup | None = None) -> None:
    """Replace a message's text (and buttons; none when `markup` is None). Editing a message
    into exactly what it already shows is not an error."""
    params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
    if markup is not None:
        params["reply_markup"] = markup
    try:
        await bot.do_api_request("editmessagetext", api_kwargs=params)
    except BadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


async def send_blocks(bot: Bot, chat_id: int, blocks: Sequence[str], markup: Markup | None = None) -> None:
    """Send the blocks in as few messages as fit (see `pack`); the buttons go with the last one."""
    messages = pack(blocks)
    for index, text in enumerate(messages):
        await send(bot, chat_id, text, markup if index == len(messages) - 1 else None)
