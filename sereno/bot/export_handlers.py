"""/export for coordinators: the PII-free export of verified alerts as a file in the chat."""

from __future__ import annotations

from datetime import timedelta

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from sereno.bot import messaging
from sereno.bot.context import translator_for
from sereno.bot.services import Services
from sereno.verify.audit import verifier_actor
from sereno.verify.errors import RefusalReason
from sereno.verify.export_service import ExportError
from sereno.verify.exports import ExportFormat, FeedSource
from sereno.verify.members import Role

MAX_DAYS = 366
EXTENSIONS = {ExportFormat.CSV: "csv", ExportFormat.GEOJSON: "geojson", ExportFormat.CAP: "xml", ExportFormat.ATOM: "atom"}


class ExportHandlers:
    """`/export [csv|geojson|cap|atom] [days]` (default: csv, the last 30 days)."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def export(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = translator_for(update, context, self.s.settings.default_language)
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        await self.s.roster.require(user.id, Role.COORDINATOR, "export", RefusalReason.EXPORT_NOT_ALLOWED)
        args = context.args or []
        try:
            fmt = ExportFormat.parse(args[0]) if args else ExportFormat.CSV
            days = int(args[1]) if len(args) > 1 else 30
            if len(args) > 2 or not 1 <= days <= MAX_DAYS:
                raise ValueError(days)
        except ValueError:
            await messaging.send(
                context.bot,
                chat.id,
                t(
                    "Send /export, or /export followed by a format (csv, geojson, cap or atom) and a number of days "
                    "(1 to {max}).",
                    max=MAX_DAYS,
                ),
            )
            return
        now = self.s.clock.now()
        source = FeedSource.for_region(self.s.settings.region_name, self.s.settings.tz)
        try:
            exported = await self.s.exports.export(fmt, source, now - timedelta(days=days), None, actor=verifier_actor(user.id))
        except ExportError:
            await messaging.send(context.bot, chat.id, t("Nothing to export for that window."))
            return
        name = f"sereno-alerts-{now.astimezone(self.s.settings.tz):%Y-%m-%d}.{EXTENSIONS[fmt]}"
        await context.bot.send_document(
            chat.id,
            InputFile(exported.text.encode(), filename=name),
            caption=t.n(
                "{count} alert from the last {days} days. No reporter, contact or report text is included.",
                "{count} alerts from the last {days} days. No reporter, contact or report text is included.",
                exported.count,
                days=days,
            ),
        )

    def handlers(self) -> list[BaseHandler]:
        return [CommandHandler("export", self.export, filters=filters.ChatType.PRIVATE)]
