"""The last line of defence: log the error (without message text) and tell the person,
calmly and in their language, that nothing they already sent is lost."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from sereno.bot import messaging
from sereno.bot.i18n import pick_language, translator
from sereno.verify.errors import Unavailable

log = logging.getLogger("sereno.errors")


def make_error_handler(default_language: str) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """An error handler for the Application."""

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        kind = type(error).__name__ if error else "unknown"
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, Unavailable):  # an outage, not a bug: one line, no traceback
            log.warning("the database is unavailable while handling update %s (%s)", update_id, type(error.__cause__).__name__)
        else:
            log.error("error while handling update %s: %s", update_id, kind, exc_info=error)
        if not isinstance(update, Update) or update.effective_chat is None or isinstance(error, Forbidden):
            return
        stored = context.user_data.get("lang") if context.user_data is not None else None
        user = update.effective_user
        t = translator(pick_language(stored, user.language_code if user else None, default_language))
        try:
            if update.callback_query:
                await update.callback_query.answer()
            if isinstance(error, Unavailable):  # the database is down or was cut off: it passes
                text = t(
                    "Sorry, our system is briefly unavailable. Nothing you already sent is lost. Please try again in a minute."
                )
            else:
                text = t(
                    "Sorry, something went wrong on our side. Nothing you already sent is lost. Please try again in a moment."
                )
            await messaging.send(context.bot, update.effective_chat.id, text)
        except TelegramError:
            log.warning("could not tell the user about an error", exc_info=True)

    return on_error
