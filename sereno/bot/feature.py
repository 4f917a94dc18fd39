"""What a feature's handlers share: the services, the person's translator, sending a
reply to the chat, and reading a pressed button (a stale or forged one answered politely)."""

from __future__ import annotations

from typing import TypeVar

from telegram import Update
from telegram.ext import ContextTypes

from sereno.bot import messaging
from sereno.bot.callbacks import Callback
from sereno.bot.context import translator_for
from sereno.bot.i18n import N_, Translator
from sereno.bot.services import Services

C = TypeVar("C", bound=Callback)

STALE_BUTTON = N_("This button is no longer active.")


class FeatureHandlers:
    """A base for one feature's handlers."""

    def __init__(self, services: Services) -> None:
        self.s = services

    def t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.s.settings.default_language)

    async def say(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, markup: messaging.Markup | None = None
    ) -> None:
        """Send `text` (and `markup`) to the chat the update came from."""
        assert update.effective_chat is not None
        await messaging.send(context.bot, update.effective_chat.id, text, markup)

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE, family: type[C]) -> C | None:
        """The button of `family` that was pressed, or None once the press is answered
        "no longer active" (data the family never packs: stale or forged)."""
        query = update.callback_query
        assert query is not None
        button = family.parse(query.data)
        if button is None:
            await query.answer(self.t(update, context)(STALE_BUTTON))
        return button
