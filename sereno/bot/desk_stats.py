"""/stats for coordinators: the desk's figures over the last days (default 7)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from sereno.bot import messaging
from sereno.bot.context import small_int, translator_for
from sereno.bot.services import Services
from sereno.bot.stats_render import stats_text

MAX_DAYS = 366


class StatsHandlers:
    """`/stats [days]`; the role is checked by the stats service."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = translator_for(update, context, self.s.settings.default_language)
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        args = context.args or []
        days = small_int(args[0], MAX_DAYS) if len(args) == 1 else 7 if not args else None
        if days is None or days < 1:
            await messaging.send(
                context.bot, chat.id, t("Send /stats, or /stats followed by a number of days (1 to {max}).", max=MAX_DAYS)
            )
            return
        figures = await self.s.stats.stats(user.id, timedelta(days=days))
        await messaging.send(context.bot, chat.id, stats_text(t, figures, self.s.places.gazetteer, self.s.settings.tz)[:4000])

    def handlers(self) -> list[BaseHandler]:
        return [CommandHandler("stats", self.stats, filters=filters.ChatType.PRIVATE)]
