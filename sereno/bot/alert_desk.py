"""Coordinators' alert board: /alerts lists active alerts (update, all-clear) and recent
debunked incidents without a correction (publish one). Roles are checked by AlertService
on every press."""

from __future__ import annotations

from datetime import datetime

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from sereno.bot import messaging
from sereno.bot.alert_render import UPDATE_LINES
from sereno.bot.callbacks import AlertAction, AlertButton, Token
from sereno.bot.context import translator_for
from sereno.bot.i18n import N_, Translator
from sereno.bot.render import ACTIVITY_LABELS
from sereno.bot.services import Services
from sereno.verify.alerts import Alert, UpdateKind
from sereno.verify.incidents import Incident

UPDATE_BUTTONS = {
    UpdateKind.STILL_ACTIVE: N_("Still active"),
    UpdateKind.ALL_CLEAR: N_("All clear"),
}


class AlertDeskHandlers:
    """/alerts and its buttons (:class:`AlertButton`): update an alert, correct a rumor."""

    def __init__(self, services: Services) -> None:
        self.s = services

    def _t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.s.settings.default_language)

    def _place(self, t: Translator, neighborhood_id: str | None) -> str:
        nb = self.s.places.gazetteer.get(neighborhood_id)
        return nb.name if nb is not None else t("No neighborhood")

    def _time(self, t: Translator, at: datetime) -> str:
        return t.time(at, self.s.settings.tz)

    def alert_line(self, t: Translator, alert: Alert) -> str:
        what = t(ACTIVITY_LABELS[alert.activity]) if alert.activity else t("Unclear activity")
        return t(
            "{place}: {what}. Verified {verified}, expires {expires}.",
            place=self._place(t, alert.neighborhood_id),
            what=what,
            verified=self._time(t, alert.verified_at),
            expires=self._time(t, alert.expires_at),
        )

    def debunked_line(self, t: Translator, incident: Incident) -> str:
        return t(
            "Debunked in {place} ({count} reports).", place=self._place(t, incident.neighborhood_id), count=incident.report_count
        )

    async def board(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/alerts"""
        t = self._t(update, context)
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        board = await self.s.alerts.board(user.id)
        if not board.active and not board.uncorrected:
            await messaging.send(context.bot, chat.id, t("No active alerts, and no recent rumors to correct."))
            return
        for alert in board.active:
            buttons = [
                {"text": t(label), "callback_data": AlertButton(AlertAction.UPDATE, Token(alert.id), kind).pack()}
                for kind, label in UPDATE_BUTTONS.items()
            ]
            await messaging.send(context.bot, chat.id, self.alert_line(t, alert), {"inline_keyboard": [buttons]})
        for incident in board.uncorrected:
            button = {
                "text": t("Publish correction"),
                "callback_data": AlertButton(AlertAction.CORRECT, Token(incident.id)).pack(),
            }
            await messaging.send(context.bot, chat.id, self.debunked_line(t, incident), {"inline_keyboard": [[button]]})

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        user = update.effective_user
        assert query is not None and user is not None and query.message is not None
        t = self._t(update, context)
        button = AlertButton.parse(query.data)
        if button is not None and button.update is not None:
            published = await self.s.alerts.update(user.id, button.subject_id, button.update)
            text = t(UPDATE_LINES[button.update], time=self._time(t, self.s.clock.now()))
        elif button is not None and button.action is AlertAction.CORRECT:
            published = await self.s.alerts.correct(user.id, button.subject_id)
            text = t("Correction queued for the neighborhood channels.")
        else:
            await query.answer(t("That button is out of date. Send /alerts again."), show_alert=True)
            return
        self.s.broadcast_queued()
        await query.answer()
        note = t.n("{count} message queued.", "{count} messages queued.", published.queued)
        await messaging.edit(context.bot, query.message.chat.id, query.message.message_id, f"{text}\n{note}")

    def handlers(self) -> list[BaseHandler]:
        return [
            CommandHandler("alerts", self.board, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(self.on_button, pattern=AlertButton.pattern),
        ]
