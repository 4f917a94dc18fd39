"""Sending and editing messages.

Messages go through `Bot.do_api_request` and come back as plain JSON: PTB would otherwise
parse every answer (which echoes the whole message and its keyboard) into objects we never
read — about a sixth of a conversation step's cost. Keyboards are plain Bot API JSON built
once per language (see `bot.render`). Bot API method names are case-insensitive; the
lower-case names used here are the ones PTB has no wrapper for, so it does not warn.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot
from telegram.error import BadRequest

Markup = dict[str, Any]
REMOVE_KEYBOARD: Markup = {"remove_keyboard": True}


async def send(bot: Bot, chat_id: int, text: str, markup: Markup | None = None) -> int:
    """Send a text message; returns its message id."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if markup is not None:
        params["reply_markup"] = markup
    result = await bot.do_api_request("sendmessage", api_kwargs=params)
    return int(result["message_id"])  # type: ignore[index]


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
