"""The Bot API methods the double implements, on the state the server gives them.

:class:`BotApiMethods` answers ``getMe``, the command menu methods, sending
(``sendMessage``, ``sendPhoto``, ``sendDocument``, ``sendLocation``, ``sendChatAction``),
editing and deleting messages, ``answerCallbackQuery``, ``getFile``, ``getChat`` and
``getChatMember`` with Telegram's checks and error wording, and lists them with the
update-delivery methods in :meth:`BotApiMethods.handlers`. It keeps the state only these
methods touch (command menus, callback queries and their answers); chats, messages,
files, flood limits and updates are the components it is given.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from sereno.double.chats import Chats
from sereno.double.delivery import UpdateDelivery
from sereno.double.entities import format_caption, format_text
from sereno.double.errors import bad_request
from sereno.double.files import FileStore, StoredFile
from sereno.double.limits import FloodLimits
from sereno.double.markup import validate_markup
from sereno.double.params import as_float, as_int
from sereno.double.records import Changes, MessageLog, SentMessage

__all__ = ["SEND_METHODS", "BotApiMethods", "MethodHandler"]

JSONDict = dict[str, Any]
#: A method implementation: decoded request parameters in, the ``result`` out.
MethodHandler = Callable[[JSONDict], Awaitable[Any]]

#: Methods that count as "sending a message": they are subject to rate limits and
#: :meth:`BotApiDouble.force_429`.
SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendLocation"})

_BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def _now() -> int:
    return int(time.time())


class BotApiMethods:
    """The Bot API methods of one bot, answering on the components the server shares."""

    def __init__(
        self,
        *,
        bot_user: JSONDict,
        chats: Chats,
        messages: MessageLog,
        files: FileStore,
        limits: FloodLimits,
        delivery: UpdateDelivery,
        changes: Changes,
    ) -> None:
        self._bot_user = bot_user
        self._chats = chats
        self._messages = messages
        self._files = files
        self._limits = limits
        self._delivery = delivery
        self._changes = changes
        self._callback_counter = itertools.count(4_812_000_000_000_000_001)
        self._callback_queries: dict[str, JSONDict] = {}
        self._callback_answers: dict[str, JSONDict] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}

    def handlers(self) -> dict[str, MethodHandler]:
        """Every method the double answers, by its canonical Bot API name."""
        return {
            "getMe": self.get_me,
            "getUpdates": self._delivery.get_updates,
            "setWebhook": self._delivery.set_webhook,
            "deleteWebhook": self._delivery.delete_webhook,
            "getWebhookInfo": self._delivery.get_webhook_info,
            "logOut": self.succeed,
            "close": self.succeed,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "editMessageCaption": self.edit_message_caption,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "getFile": self.get_file,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "sendLocation": self.send_location,
        }

    # ------------------------------------------------------------------ test side

    def new_callback_query(self, update_hint: JSONDict) -> str:
        """A new callback query id the bot may answer (a simulated user pressed a button)."""
        query_id = str(next(self._callback_counter))
        self._callback_queries[query_id] = update_hint
        return query_id

    @property
    def callback_answers(self) -> dict[str, JSONDict]:
        """``answerCallbackQuery`` parameters by callback query id (the live dict)."""
        return self._callback_answers

    def commands(self, scope: Mapping[str, Any] | None, language_code: str) -> list[JSONDict]:
        """A copy of the commands set for ``scope`` and ``language_code``."""
        return copy.deepcopy(self._commands.get(self._scope_key(scope, language_code), []))

    # ------------------------------------------------------------------ checks shared by sends

    def _begin_send(self, params: JSONDict) -> JSONDict:
        """Checks every send starts with: forced 429, chat lookup, blocked chat."""
        self._limits.check_forced()
        chat = self._chats.resolve(params)
        self._chats.check_blocked(chat)
        return chat

    def _reply_target(self, chat: JSONDict, params: JSONDict) -> JSONDict | None:
        """The message being replied to (as a Message object), per reply_parameters."""
        reply = params.get("reply_parameters")
        message_id: Any = None
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params.get("reply_to_message_id")
        if message_id is None:
            return None
        mid = as_int(message_id, "message_id")
        sent = self._messages.sent_message(chat["id"], mid)
        if sent is not None and not sent.deleted:
            return sent.to_telegram()
        user_message = self._messages.user_message(chat["id"], mid)
        if user_message is not None:
            return user_message
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")

    def _add_sent(
        self,
        chat: JSONDict,
        *,
        kind: str,
        text: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        params: JSONDict,
        reply_to: JSONDict | None,
        stored: StoredFile | None = None,
        location: JSONDict | None = None,
    ) -> SentMessage:
        """Record a message the bot sent to ``chat`` (counted by the flood limits)."""
        self._limits.note_send(chat)
        chat_id = int(chat["id"])
        message = SentMessage(
            message_id=self._messages.next_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            text=text,
            reply_markup=markup,
            date=_now(),
            chat=dict(chat),
            sender=None if chat.get("type") == "channel" else dict(self._bot_user),
            entities=entities,
            file=stored,
            location=location,
            params=dict(params),
            reply_to=reply_to,
        )
        message.sent_seq = message.changed_seq = self._changes.seq + 1
        self._messages.add_sent(message)
        self._changes.touch()
        return message

    def _message_to_edit(self, params: JSONDict) -> SentMessage:
        """The bot message an edit request names, or the 400 Telegram answers."""
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chats.resolve(params)
        if params.get("message_id") in (None, ""):
            raise bad_request("message identifier is not specified")
        mid = as_int(params["message_id"], "message_id")
        message = self._messages.sent_message(chat["id"], mid)
        if message is None or message.deleted:
            if self._messages.user_message(chat["id"], mid) is not None:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return message

    def _apply_edit(
        self,
        message: SentMessage,
        *,
        text: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        markup_given: bool,
    ) -> JSONDict:
        """Apply an edit (Telegram semantics for omitted markup) or raise "not modified"."""
        if markup_given:
            new_markup = markup
        elif message.reply_markup and "inline_keyboard" in message.reply_markup:
            new_markup = None
        else:
            new_markup = message.reply_markup
        if text == message.text and entities == message.entities and new_markup == message.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        if text != message.text:
            message.history.append(message.text)
        message.text = text
        message.entities = entities
        message.reply_markup = new_markup
        message.edit_date = _now()
        message.changed_seq = self._changes.seq + 1
        self._changes.touch()
        return message.to_telegram()

    # ------------------------------------------------------------------ getMe, logOut, close, command menus

    async def succeed(self, params: JSONDict) -> bool:
        """logOut / close: always succeed."""
        return True

    async def get_me(self, params: JSONDict) -> JSONDict:
        """getMe: the bot user with its (fixed) capabilities."""
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _scope_key(scope: Any, language_code: Any) -> tuple[str, str]:
        """The key of a command menu: its scope (default scope if empty) and language."""
        if not scope:
            scope = {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    async def set_my_commands(self, params: JSONDict) -> bool:
        """setMyCommands: check the commands like Telegram and set (an empty list: clear) the menu."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("commands is empty" if commands is None else "can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("command description is empty" if not description else "BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        """getMyCommands: the menu for the scope and language (empty if none)."""
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def delete_my_commands(self, params: JSONDict) -> bool:
        """deleteMyCommands: clear the menu for the scope and language."""
        self._commands.pop(self._scope_key(params.get("scope"), params.get("language_code")), None)
        return True

    # ------------------------------------------------------------------ messages

    async def send_message(self, params: JSONDict) -> JSONDict:
        """sendMessage: formatted text, markup and reply target checked, then recorded."""
        chat = self._begin_send(params)
        text, entities = format_text(params)
        markup = validate_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        self._limits.check_rate(chat)
        message = self._add_sent(
            chat,
            kind="text",
            text=text,
            entities=entities,
            markup=markup,
            params=params,
            reply_to=reply_to,
        )
        return message.to_telegram()

    async def edit_message_text(self, params: JSONDict) -> JSONDict:
        """editMessageText: new text of a bot text message (an omitted keyboard is removed)."""
        message = self._message_to_edit(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text, entities = format_text(params)
        markup = validate_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            text=text,
            entities=entities,
            markup=markup,
            markup_given=markup is not None,
        )

    async def edit_message_caption(self, params: JSONDict) -> JSONDict:
        """editMessageCaption: new caption of a bot photo or document."""
        message = self._message_to_edit(params)
        if message.kind not in ("photo", "document"):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = format_caption(params)
        markup = validate_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            text=caption,
            entities=entities,
            markup=markup,
            markup_given=markup is not None,
        )

    async def edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        """editMessageReplyMarkup: new inline keyboard (none: removed) of a bot message."""
        message = self._message_to_edit(params)
        markup = validate_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            text=message.text,
            entities=message.entities,
            markup=markup,
            markup_given=True,
        )

    async def delete_message(self, params: JSONDict) -> bool:
        """deleteMessage: a bot message, or a user's (in groups only with the right to delete)."""
        chat = self._chats.resolve(params)
        if params.get("message_id") in (None, ""):
            raise bad_request("message identifier is not specified")
        mid = as_int(params["message_id"], "message_id")
        message = self._messages.sent_message(chat["id"], mid)
        if message is not None and not message.deleted:
            message.deleted = True
            message.changed_seq = self._changes.seq + 1
            self._changes.touch()
            return True
        if self._messages.has_user_message(chat["id"], mid):
            if chat.get("type") != "private" and not self._chats.may_delete_others(chat["id"]):
                raise bad_request("message can't be deleted")
            self._messages.forget_user_message(chat["id"], mid)
            self._changes.touch()
            return True
        raise bad_request("message to delete not found")

    async def answer_callback_query(self, params: JSONDict) -> bool:
        """answerCallbackQuery: once per known query, with a text of at most 200 characters."""
        query_id = str(params.get("callback_query_id") or "")
        if not query_id:
            raise bad_request("callback_query_id is empty")
        if query_id not in self._callback_queries or query_id in self._callback_answers:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._callback_answers[query_id] = dict(params)
        self._changes.touch()
        return True

    async def send_chat_action(self, params: JSONDict) -> bool:
        """sendChatAction: a known action in a chat that did not block the bot."""
        chat = self._chats.resolve(params)
        self._chats.check_blocked(chat)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # ------------------------------------------------------------------ files and locations

    async def send_photo(self, params: JSONDict) -> JSONDict:
        """sendPhoto: see :meth:`_send_file`."""
        return self._send_file(params, "photo")

    async def send_document(self, params: JSONDict) -> JSONDict:
        """sendDocument: see :meth:`_send_file`."""
        return self._send_file(params, "document")

    def _send_file(self, params: JSONDict, kind: str) -> JSONDict:
        """sendPhoto / sendDocument: the file (uploaded or by id), caption and buttons."""
        chat = self._begin_send(params)
        caption, entities = format_caption(params)
        markup = validate_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        stored = self._files.input_file(params, kind, kind)
        self._limits.check_rate(chat)
        message = self._add_sent(
            chat,
            kind=kind,
            text=caption,
            entities=entities,
            markup=markup,
            params=params,
            reply_to=reply_to,
            stored=stored,
        )
        return message.to_telegram()

    async def send_location(self, params: JSONDict) -> JSONDict:
        """sendLocation: valid coordinates (and optional live-location fields), recorded."""
        chat = self._begin_send(params)
        for key in ("latitude", "longitude"):
            if params.get(key) in (None, ""):
                raise bad_request(f"{key} is empty")
        latitude = as_float(params["latitude"], "latitude")
        longitude = as_float(params["longitude"], "longitude")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong coordinates specified")
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if params.get(key) is not None:
                location[key] = params[key]
        markup = validate_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        self._limits.check_rate(chat)
        message = self._add_sent(
            chat,
            kind="location",
            text=None,
            entities=[],
            markup=markup,
            params=params,
            reply_to=reply_to,
            location=location,
        )
        return message.to_telegram()

    async def get_file(self, params: JSONDict) -> JSONDict:
        """getFile: the ``File`` object of a known file_id (its path is downloadable)."""
        file_id = str(params.get("file_id") or "")
        if not file_id:
            raise bad_request("file_id is empty")
        stored = self._files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.to_file(file_id)

    # ------------------------------------------------------------------ chats

    async def get_chat(self, params: JSONDict) -> JSONDict:
        """getChat: the chat with the fields Telegram adds to a ``ChatFullInfo``."""
        chat = self._chats.resolve(params)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def get_chat_member(self, params: JSONDict) -> JSONDict:
        """getChatMember: the member's status ("member" by default) with that status's fields."""
        chat = self._chats.resolve(params)
        if params.get("user_id") in (None, ""):
            raise bad_request("user_id is empty")
        user_id = as_int(params["user_id"], "user_id")
        status = self._chats.status(chat["id"], user_id)
        member: JSONDict = {"user": self._chats.user_object(user_id), "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
            if chat["type"] == "channel":
                member.update({"can_post_messages": True, "can_edit_messages": True})
            member.update(self._chats.rights(chat["id"], user_id))
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_pin_messages": False,
                    "can_send_messages": False,
                    "can_send_polls": False,
                    "can_send_other_messages": False,
                    "can_add_web_page_previews": False,
                    "can_manage_topics": False,
                    "until_date": 0,
                    "can_send_audios": False,
                    "can_send_documents": False,
                    "can_send_photos": False,
                    "can_send_videos": False,
                    "can_send_video_notes": False,
                    "can_send_voice_notes": False,
                    "can_edit_tag": False,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member
