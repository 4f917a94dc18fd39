"""The last line of defence: log the error (without message text) and tell the person,
calmly and in their language, that nothing they already sent is lost."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import messaging
from bot.i18n import pick_language, translator

log = logging.getLogger("sereno.errors")


def make_error_handler(default_language: str):  # type: ignore[no-untyped-def]
    """An error handler for the Application."""

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        kind = type(error).__name__ if error else "unknown"
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("error while handling update %s: %s", update_id, kind, exc_info=error)
        if not isinstance(update, Update) or update.effective_chat is None or isinstance(error, Forbidden):
            return
        stored = context.user_data.get("lang") if context.user_data is not None else None
        user = update.effective_user
        t = translator(pick_language(stored, user.language_code if user else None, default_language))
        try:
            if update.callback_query:
                await update.callback_query.answer()
            await messaging.send(
                        context.bot,
                        update.effective_chat.id,
                t("Sorry, something went wrong on our side. Nothing you already sent is lost. "
                  "Please try again in a moment.")
            )
        except TelegramError:
            log.warning("could not tell the user about an error", exc_info=True)

    return on_error
