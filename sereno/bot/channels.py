"""Linking neighborhood channels and groups: /linkchannel.

Telegram does not say who posted in a channel, so linking takes two steps: an admin sends
/linkchannel to the bot in private and picks a neighborhood; the bot answers with a command
carrying a random one-use token (valid 30 minutes, bound to the first chat it is posted in;
see `sereno.verify.channels`) that the admin posts in the channel or group. The bot then checks
with getChatMember that it is an administrator allowed to post and edit there, and says
exactly what is missing if not. Once linked, it deletes the posted command (or, when it
cannot, asks the admin to).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from sereno.bot import messaging
from sereno.bot.callbacks import ChannelButton, area_key
from sereno.bot.context import translator_for
from sereno.bot.i18n import N_, Translator, translator
from sereno.bot.refusals import REFUSAL_TEXTS
from sereno.bot.services import Services
from sereno.verify.errors import RefusalReason
from sereno.verify.members import Role

log = logging.getLogger(__name__)

RIGHTS = {
    "administrator": N_("be an administrator"),
    "can_post_messages": N_("post messages"),
    "can_edit_messages": N_("edit messages"),
}


async def missing_rights(bot: Bot, chat_id: int) -> list[str] | None:
    """What the bot lacks to post alerts in the chat (empty: nothing); None when the chat
    cannot be reached at all."""
    try:
        chat: Any = await bot.do_api_request("getchat", api_kwargs={"chat_id": chat_id})
        member: Any = await bot.do_api_request("getchatmember", api_kwargs={"chat_id": chat_id, "user_id": bot.id})
    except TelegramError:
        return None
    status = member.get("status")
    if status == "creator":
        return []
    if status != "administrator":
        return ["administrator", "can_post_messages", "can_edit_messages"] if chat.get("type") == "channel" else ["administrator"]
    if chat.get("type") == "channel":
        return [right for right in ("can_post_messages", "can_edit_messages") if member.get(right) is False]
    return []


class ChannelHandlers:
    """/linkchannel in private, in groups and in channels (admins are told of broken links
    by the notifier)."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/linkchannel in private: an admin picks the neighborhood."""
        t = translator_for(update, context, self.s.settings.default_language)
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        await self.s.roster.require(user.id, Role.ADMIN, "channel.link", RefusalReason.CHANNELS_NOT_ALLOWED)
        buttons = [
            {"text": nb.name, "callback_data": ChannelButton(area_key(nb.id)).pack()}
            for nb in sorted(self.s.places.gazetteer.neighborhoods, key=lambda nb: nb.name)
        ]
        if not buttons:
            await messaging.send(context.bot, chat.id, t("No neighborhoods are set up yet."))
            return
        await messaging.send(
            context.bot,
            chat.id,
            t("Which neighborhood's alerts should the channel get?"),
            {"inline_keyboard": [buttons[i : i + 2] for i in range(0, len(buttons), 2)]},
        )

    async def on_pick(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A neighborhood button (:class:`ChannelButton`): a new one-use command to post in the
        channel (role checked again)."""
        query = update.callback_query
        user = update.effective_user
        assert query is not None and user is not None and update.effective_chat is not None
        t = translator_for(update, context, self.s.settings.default_language)
        button = ChannelButton.parse(query.data)
        neighborhood = next(
            (nb for nb in self.s.places.gazetteer.neighborhoods if button is not None and area_key(nb.id) == button.area), None
        )
        if neighborhood is None:
            await self.s.roster.require(user.id, Role.ADMIN, "channel.link", RefusalReason.CHANNELS_NOT_ALLOWED)
            await query.answer(t("That button is out of date. Send /linkchannel again."), show_alert=True)
            return
        token = await self.s.channels.request_link(user.id, neighborhood.id)
        await query.answer()
        await messaging.send(
            context.bot,
            update.effective_chat.id,
            "\n\n".join(
                [
                    t("1. Add me to the channel or group as an administrator allowed to post and edit messages."),
                    t("2. Within 30 minutes, post this there:"),
                    f"/linkchannel {token}",
                ]
            ),
        )

    async def in_chat(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/linkchannel TOKEN` posted in a channel or group: checked (and bound to this
        chat), the bot's rights checked, then the chat linked and the command deleted."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        parts = (message.text or "").split()
        token = parts[1] if len(parts) == 2 else ""
        poster = message.from_user.id if message.from_user is not None else None
        t = translator(self.s.settings.default_language)
        pending = await self.s.channels.check_link(token, chat.id, poster)
        neighborhood = self.s.places.gazetteer.get(pending.neighborhood_id)
        person = await self.s.roster.get(pending.admin_id)
        if neighborhood is None or person is None:
            await self._say(context.bot, chat.id, t(REFUSAL_TEXTS[RefusalReason.TOKEN_ADMIN_GONE]))
            return
        admin_t = translator(person.language)
        title = chat.title or str(chat.id)
        missing = await missing_rights(context.bot, chat.id)
        if missing:
            await self._say(context.bot, person.user_id, self._missing_text(admin_t, title, missing))
            await self._say(context.bot, chat.id, self._missing_text(t, title, missing))
            return
        await self.s.channels.link_with(token, chat.id, poster, title, self.s.settings.channel_language)
        await self._say(context.bot, chat.id, t("This chat will receive verified alerts for {place}.", place=neighborhood.name))
        await self._say(context.bot, person.user_id, self._linked_text(admin_t, title, neighborhood.name))
        try:
            await context.bot.delete_message(chat.id, message.message_id)
        except TelegramError:
            log.info("could not delete a link command", exc_info=True)
            await self._say(context.bot, person.user_id, self._undeleted_text(admin_t, title))

    @staticmethod
    def _missing_text(t: Translator, title: str, missing: list[str]) -> str:
        return t(
            "I cannot post alerts in {title} yet. I need to: {missing}. Fix that, then post the command again.",
            title=title,
            missing=", ".join(t(RIGHTS[m]) for m in missing),
        )

    @staticmethod
    def _linked_text(t: Translator, title: str, place: str) -> str:
        return t("Linked {title} to {place}.", title=title, place=place)

    @staticmethod
    def _undeleted_text(t: Translator, title: str) -> str:
        return t(
            "I could not delete the link command in {title}. It can no longer be used, but please delete it there yourself.",
            title=title,
        )

    @staticmethod
    async def _say(bot: Bot, chat_id: int, text: str) -> None:
        try:
            await messaging.send(bot, chat_id, text)
        except TelegramError:
            log.info("could not answer about a channel link", exc_info=True)

    def handlers(self) -> list[BaseHandler]:
        in_chats = (filters.ChatType.CHANNEL | filters.ChatType.GROUPS) & filters.Regex(r"^/linkchannel(@\w+)?\s")
        return [
            CommandHandler("linkchannel", self.start, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(self.on_pick, pattern=ChannelButton.pattern),
            MessageHandler(in_chats & (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST), self.in_chat),
        ]
