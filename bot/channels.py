"""Linking neighborhood channels and groups: /linkchannel.

Telegram does not say who posted in a channel, so linking takes two steps: an admin sends
/linkchannel to the bot in private and picks a neighborhood; the bot answers with a signed
command (valid 30 minutes) that the admin posts in the channel or group. The bot then
checks with getChatMember that it is an administrator allowed to post and edit there, and
says exactly what is missing if not.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot import messaging
from bot.context import translator_for
from bot.i18n import N_, Translator, translator
from bot.services import Services
from bot.subscribe import area_key
from verify.channels import ChannelLink
from verify.roster import Refused, Role

log = logging.getLogger(__name__)

CHANNEL = "c"
TOKEN_SECONDS = 30 * 60
RIGHTS = {
    "administrator": N_("be an administrator"),
    "can_post_messages": N_("post messages"),
    "can_edit_messages": N_("edit messages"),
}


def link_token(key: bytes, neighborhood_id: str, admin_id: int, now: float) -> str:
    """A signed, expiring permission to link a channel to `neighborhood_id`."""
    expires = format(int(now) + TOKEN_SECONDS, "x")
    body = f"{neighborhood_id}~{admin_id}~{expires}"
    return f"{body}~{_sign(key, body)}"


def read_token(key: bytes, token: str, now: float) -> tuple[str, int] | None:
    """(neighborhood id, admin id) of a valid unexpired token, else None."""
    parts = token.strip().split("~")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    body = "~".join(parts[:3])
    if not hmac.compare_digest(parts[3], _sign(key, body)):
        return None
    try:
        if int(parts[2], 16) < now:
            return None
    except ValueError:
        return None
    return parts[0], int(parts[1])


def _sign(key: bytes, body: str) -> str:
    return hmac.new(key, f"link-channel|{body}".encode(), hashlib.sha256).hexdigest()[:20]


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
        return ["administrator", "can_post_messages", "can_edit_messages"] if chat.get("type") == "channel" \
            else ["administrator"]
    if chat.get("type") == "channel":
        return [right for right in ("can_post_messages", "can_edit_messages") if member.get(right) is False]
    return []


class ChannelHandlers:
    """/linkchannel in private, in groups and in channels; telling admins of broken links."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self._key = services.settings.require_hmac_key()

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/linkchannel in private: an admin picks the neighborhood."""
        t = translator_for(update, context, self.s.settings.default_language)
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        try:
            await self.s.roster.require(user.id, Role.ADMIN, "channel.link")
        except Refused:
            await messaging.send(context.bot, chat.id, t("Only admins can link channels."))
            return
        buttons = [{"text": nb.name, "callback_data": f"{CHANNEL}:{area_key(nb.id)}"}
                   for nb in sorted(self.s.places.gazetteer.neighborhoods, key=lambda nb: nb.name)]
        if not buttons:
            await messaging.send(context.bot, chat.id, t("No neighborhoods are set up yet."))
            return
        await messaging.send(context.bot, chat.id, t("Which neighborhood's alerts should the channel get?"),
                             {"inline_keyboard": [buttons[i:i + 2] for i in range(0, len(buttons), 2)]})

    async def on_pick(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`c:<key>`: the signed command to post in the channel (role checked again)."""
        query = update.callback_query
        user = update.effective_user
        assert query is not None and user is not None and update.effective_chat is not None
        t = translator_for(update, context, self.s.settings.default_language)
        try:
            await self.s.roster.require(user.id, Role.ADMIN, "channel.link")
        except Refused:
            await query.answer(t("Only admins can link channels."), show_alert=True)
            return
        key = (query.data or "").removeprefix(f"{CHANNEL}:")
        neighborhood = next((nb for nb in self.s.places.gazetteer.neighborhoods if area_key(nb.id) == key), None)
        if neighborhood is None:
            await query.answer(t("That button is out of date. Send /linkchannel again."), show_alert=True)
            return
        await query.answer()
        token = link_token(self._key, neighborhood.id, user.id, time.time())
        await messaging.send(context.bot, update.effective_chat.id, "\n\n".join([
            t("1. Add me to the channel or group as an administrator allowed to post and edit messages."),
            t("2. Within 30 minutes, post this there:"),
            f"/linkchannel {token}",
        ]))

    async def in_chat(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/linkchannel TOKEN` posted in a channel or group."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        parts = (message.text or "").split()
        found = read_token(self._key, parts[1], time.time()) if len(parts) == 2 else None
        t = translator(self.s.settings.default_language)
        if found is None:
            await self._say(context.bot, chat.id, t("This link command is not valid or has expired. Ask for a new "
                                                    "one with /linkchannel in a private chat with me."))
            return
        neighborhood_id, admin_id = found
        neighborhood = self.s.places.gazetteer.get(neighborhood_id)
        person = await self.s.roster.get(admin_id)
        if neighborhood is None or person is None or not person.can(Role.ADMIN):
            await self._say(context.bot, chat.id, t("This link command is no longer valid."))
            return
        admin_t = translator(person.language)
        title = chat.title or str(chat.id)
        missing = await missing_rights(context.bot, chat.id)
        if missing:
            await self._say(context.bot, admin_id, self._missing_text(admin_t, title, missing))
            await self._say(context.bot, chat.id, self._missing_text(t, title, missing))
            return
        await self.s.channels.link(admin_id, neighborhood.id, chat.id, title, self.s.settings.channel_language)
        await self._say(context.bot, chat.id, t("This chat will receive verified alerts for {place}.",
                                                place=neighborhood.name))
        await self._say(context.bot, admin_id, self._linked_text(admin_t, title, neighborhood.name))

    @staticmethod
    def _missing_text(t: Translator, title: str, missing: list[str]) -> str:
        return t("I cannot post alerts in {title} yet. I need to: {missing}. Fix that, then post the command again.",
                 title=title, missing=", ".join(t(RIGHTS[m]) for m in missing))

    @staticmethod
    def _linked_text(t: Translator, title: str, place: str) -> str:
        return t("Linked {title} to {place}.", title=title, place=place)

    @staticmethod
    async def _say(bot: Bot, chat_id: int, text: str) -> None:
        try:
            await messaging.send(bot, chat_id, text)
        except TelegramError:
            log.info("could not answer about a channel link", exc_info=True)

    def tell_admins_flagged(self, bot: Bot) -> Callable[[list[ChannelLink]], Awaitable[None]]:
        """What the broadcaster calls when it finds channels it cannot post in."""

        async def tell(links: list[ChannelLink]) -> None:
            admins = [p for p in await self.s.roster.members() if p.can(Role.ADMIN)]
            for link in links:
                place = (nb.name if (nb := self.s.places.gazetteer.get(link.neighborhood_id)) else link.neighborhood_id)
                for person in admins:
                    t = translator(person.language)
                    await self._say(bot, person.user_id, t(
                        "⚠️ I can no longer post alerts in {title} ({place}): {problem}. Fix it, then link it again "
                        "with /linkchannel.", title=link.title, place=place, problem=link.problem or ""))

        return tell

    def handlers(self) -> list[BaseHandler]:  # type: ignore[type-arg]
        in_chats = (filters.ChatType.CHANNEL | filters.ChatType.GROUPS) & filters.Regex(r"^/linkchannel(@\w+)?\s")
        return [
            CommandHandler("linkchannel", self.start, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(self.on_pick, pattern=rf"^{CHANNEL}:[0-9a-f]{{8}}$"),
            MessageHandler(in_chats & (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST), self.in_chat),
        ]

