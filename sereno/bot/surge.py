"""Surge mode in Telegram: coordinators' /surge (on, off, auto, status), the desk's /batch
digest of the incidents grouped for batch review, and the coordinators' surge summary (sent
by the job every minute when one is due). The surge and desk services check every role on
the server; refusals are answered by `sereno.bot.refusals`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from sereno.bot import messaging, surge_render
from sereno.bot.feature import FeatureHandlers
from sereno.bot.i18n import translator
from sereno.bot.services import Services

log = logging.getLogger(__name__)

#: How often the job asks whether a surge summary is due, in seconds (the service sends one
#: per `SurgePolicy.summary_every` at most).
SUMMARY_CHECK_SECONDS = 60


class SurgeHandlers(FeatureHandlers):
    """/surge and /batch; `handlers()` lists them."""

    async def surge(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/surge · /surge on [id] · /surge off [id] · /surge auto [id] (coordinators)."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        args = [a.lower() for a in context.args or []]
        gazetteer = self.s.places.gazetteer
        surge = self.s.surge
        if not args:
            await self.say(update, context, surge_render.status_text(t, await surge.surging(user.id), gazetteer))
            return
        if args[0] not in ("on", "off", "auto") or len(args) > 2:
            await self.say(update, context, surge_render.usage(t))
            return
        area = args[1] if len(args) == 2 else None
        if args[0] == "auto":
            cleared = await surge.clear(user.id, area)
            await self.say(update, context, surge_render.auto_text(t, area, cleared, surge.policy, gazetteer))
            return
        override = await surge.set(user.id, args[0] == "on", area)
        await self.say(update, context, surge_render.set_text(t, override, surge.policy, gazetteer, self.s.settings.tz))

    async def batch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/batch: the incidents grouped for batch review, one line each, a button per line
        opening its card (desk members)."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        incidents = await self.s.desk.batch(user.id)
        await self.say(update, context, *surge_render.batch_digest(t, incidents, self.s.places.gazetteer, self.s.clock.now()))

    def handlers(self) -> list[BaseHandler]:
        """Handlers to add before the menu's catch-alls."""
        private = filters.ChatType.PRIVATE
        return [
            CommandHandler("surge", self.surge, filters=private),
            CommandHandler("batch", self.batch, filters=private),
        ]


async def send_summary(bot: Bot, services: Services) -> int:
    """The coordinators' surge summary if one is due (claimed once across replicas), each in
    their language; returns how many were sent. One who cannot be reached is skipped."""
    summary = await services.surge.summary()
    if summary is None:
        return 0
    languages = {person.user_id: person.language for person in await services.roster.members()}
    gazetteer, tz = services.places.gazetteer, services.settings.tz
    sent = 0
    for user_id in summary.recipients:
        t = translator(languages.get(user_id, services.settings.default_language))
        try:
            await messaging.send(bot, user_id, surge_render.summary_text(t, summary, gazetteer, tz))
            sent += 1
        except TelegramError:
            log.info("could not send a coordinator the surge summary", exc_info=True)
    return sent


def summary_job(services: Services) -> Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """The job sending the surge summary when due (the leader runs it every minute)."""

    async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
        if sent := await send_summary(context.bot, services):
            log.info("sent the surge summary to %d coordinator(s)", sent)

    return run
