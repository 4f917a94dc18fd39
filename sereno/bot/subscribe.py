"""Subscribing to verified alerts: /subscribe, /mysubscriptions, /unsubscribe.

Neighborhoods are chosen with buttons (a tap toggles one) or by sharing a location (the
neighborhood there, or the nearest, is added). Buttons carry a short digest of the
neighborhood id that is looked up again on the server; nothing in them is trusted.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler
from telegram.ext import filters as tg_filters

from sereno.bot import messaging
from sereno.bot.callbacks import AreaKey, SubscribeAction, SubscribeButton, area_key
from sereno.bot.context import language_of, translator_for, user_data
from sereno.bot.desk import Awaiting
from sereno.bot.i18n import Translator
from sereno.bot.services import Services
from sereno.verify.clustering import distance_m
from sereno.verify.model import GeoPoint, InvalidPoint
from sereno.verify.places import Neighborhood

AWAITING_LOCATION = "subscribe_location"
#: Set in a person's data once they subscribe: a language change must then reach their alerts.
SUBSCRIBED = "subscribed"


def _button(text: str, action: SubscribeAction, neighborhood: Neighborhood | None = None) -> dict[str, object]:
    area = area_key(neighborhood.id) if neighborhood is not None else None
    return {"text": text, "callback_data": SubscribeButton(action, area).pack()}


class SubscribeHandlers:
    """The subscriber's commands and buttons."""

    def __init__(self, services: Services) -> None:
        self.s = services

    def _neighborhoods(self) -> list[Neighborhood]:
        return sorted(self.s.places.gazetteer.neighborhoods, key=lambda nb: nb.name)

    def _by_key(self, key: AreaKey) -> Neighborhood | None:
        return next((nb for nb in self.s.places.gazetteer.neighborhoods if area_key(nb.id) == key), None)

    def _t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.s.settings.default_language)

    def keyboard(self, t: Translator, followed: list[str], order: list[Neighborhood] | None = None) -> messaging.Markup:
        """One toggle per neighborhood (✅ when followed), then location and done."""
        buttons = [
            _button(("✅ " if nb.id in followed else "") + nb.name, SubscribeAction.TOGGLE, nb)
            for nb in (order or self._neighborhoods())
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append([_button(t("📍 Use my location"), SubscribeAction.LOCATION), _button(t("Done"), SubscribeAction.DONE)])
        return {"inline_keyboard": rows}

    def summary(self, t: Translator, followed: list[str]) -> str:
        names = [nb.name for n in followed if (nb := self.s.places.gazetteer.get(n)) is not None]
        if not names:
            return t("You are not subscribed to any neighborhood. Send /subscribe to choose some.")
        return t("You get verified alerts for: {places}.", places=", ".join(names))

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/subscribe: the neighborhood toggles."""
        t = self._t(update, context)
        assert update.effective_chat is not None
        if not self.s.places.gazetteer.neighborhoods:
            await messaging.send(
                context.bot, update.effective_chat.id, t("No neighborhoods are set up yet, so there is nothing to subscribe to.")
            )
            return
        followed = await self.s.subscriptions.areas(update.effective_chat.id)
        await messaging.send(context.bot, update.effective_chat.id, self.prompt(t), self.keyboard(t, followed))

    @staticmethod
    def prompt(t: Translator) -> str:
        return t(
            "Choose the neighborhoods you want verified alerts for (tap again to remove). "
            "Alerts are only sent after trained verifiers confirm a report."
        )

    async def mine(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/mysubscriptions and /unsubscribe: what is followed, with a way to stop."""
        t = self._t(update, context)
        assert update.effective_chat is not None
        followed = await self.s.subscriptions.areas(update.effective_chat.id)
        markup = None
        if followed:
            rows = [
                [_button(t("Remove {place}", place=nb.name), SubscribeAction.REMOVE, nb)]
                for n in followed
                if (nb := self.s.places.gazetteer.get(n)) is not None
            ]
            rows.append([_button(t("Stop all alerts"), SubscribeAction.ALL)])
            markup = {"inline_keyboard": rows}
        await messaging.send(context.bot, update.effective_chat.id, self.summary(t, followed), markup)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A subscription button (:class:`SubscribeButton`): toggle or remove a neighborhood,
        stop all, share a location, done."""
        query = update.callback_query
        assert query is not None and query.message is not None and update.effective_chat is not None
        t = self._t(update, context)
        chat_id = update.effective_chat.id
        button = SubscribeButton.parse(query.data)
        action = button.action if button is not None else None
        if action is SubscribeAction.LOCATION:
            await query.answer()
            user_data(context)[AWAITING_LOCATION] = True
            await messaging.send(
                context.bot,
                chat_id,
                t("Share a location with the button below (it is used once to pick the nearest neighborhood and is not stored)."),
                {
                    "keyboard": [[{"text": t("📍 Share location"), "request_location": True}]],
                    "resize_keyboard": True,
                    "one_time_keyboard": True,
                },
            )
            return
        if action is SubscribeAction.DONE:
            await query.answer()
            await messaging.edit(
                context.bot, chat_id, query.message.message_id, self.summary(t, await self.s.subscriptions.areas(chat_id))
            )
            return
        if action is SubscribeAction.ALL:
            await self.s.subscriptions.unsubscribe(chat_id)
            user_data(context).pop(SUBSCRIBED, None)
            await query.answer(t("Unsubscribed."))
            await messaging.edit(
                context.bot,
                chat_id,
                query.message.message_id,
                t("You will get no more alerts. Send /subscribe any time to start again."),
            )
            return
        neighborhood = self._by_key(button.area) if button is not None and button.area is not None else None
        if neighborhood is None:
            await query.answer(t("That button is out of date. Send /subscribe again."), show_alert=True)
            return
        followed = await self.s.subscriptions.areas(chat_id)
        if action is SubscribeAction.REMOVE or neighborhood.id in followed:
            followed = await self.s.subscriptions.unsubscribe(chat_id, neighborhood.id)
        else:
            followed = await self.s.subscriptions.subscribe(
                chat_id, language_of(update, context, self.s.settings.default_language), [neighborhood.id]
            )
            user_data(context)[SUBSCRIBED] = True
        await query.answer()
        if action is SubscribeAction.REMOVE:
            await messaging.edit(context.bot, chat_id, query.message.message_id, self.summary(t, followed))
        else:
            await messaging.edit(context.bot, chat_id, query.message.message_id, self.prompt(t), self.keyboard(t, followed))

    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A shared location after `s:loc`: follow the neighborhood there (or the nearest)."""
        msg = update.effective_message
        assert msg is not None and msg.location is not None and update.effective_chat is not None
        t = self._t(update, context)
        try:
            point = GeoPoint(msg.location.latitude, msg.location.longitude)
        except InvalidPoint:
            await messaging.send(
                context.bot,
                update.effective_chat.id,
                t("That location could not be read. Share your location again, or choose neighborhoods from the list."),
            )
            return
        user_data(context).pop(AWAITING_LOCATION, None)
        by_distance = sorted(self.s.places.gazetteer.neighborhoods, key=lambda nb: distance_m(point, nb.centroid))
        if not by_distance:
            return
        here = self.s.places.gazetteer.locate(point.lat, point.lon) or by_distance[0]
        followed = await self.s.subscriptions.subscribe(
            update.effective_chat.id, language_of(update, context, self.s.settings.default_language), [here.id]
        )
        user_data(context)[SUBSCRIBED] = True
        await messaging.send(
            context.bot,
            update.effective_chat.id,
            t("Added {place}. Nearby neighborhoods are listed first; tap to add or remove.", place=here.name),
            messaging.REMOVE_KEYBOARD,
        )
        await messaging.send(
            context.bot, update.effective_chat.id, self.summary(t, followed), self.keyboard(t, followed, by_distance)
        )

    def handlers(self, application: Application) -> list[BaseHandler]:
        private = tg_filters.ChatType.PRIVATE
        return [
            CommandHandler("subscribe", self.subscribe, filters=private),
            CommandHandler(["mysubscriptions", "unsubscribe"], self.mine, filters=private),
            CallbackQueryHandler(self.on_button, pattern=SubscribeButton.pattern),
            MessageHandler(tg_filters.LOCATION & private & Awaiting(application, AWAITING_LOCATION), self.on_location),
        ]
