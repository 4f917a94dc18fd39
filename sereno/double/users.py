"""Simulated Telegram users that talk to a bot through a :class:`BotApiDouble`.

A :class:`FakeUser` pushes realistic updates (messages, commands, locations, photos,
stickers, button presses, edits) into the double and reads what the bot sent back to
its private chat. Everything it does is logged, so :meth:`FakeUser.transcript` can show
both sides of the conversation in order.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from sereno.double.records import SentMessage
    from sereno.double.server import BotApiDouble

__all__ = ["Button", "FakeUser", "TranscriptEntry"]

JSONDict = dict[str, Any]


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Button(str):
    """A keyboard button: compares equal to its text and carries the button's fields.

    ``kind`` is ``"inline"`` or ``"reply"``; ``callback_data``/``url`` are set for
    inline buttons that have them; ``request_location``/``request_contact`` are the
    reply keyboard flags; ``raw`` is the button object as the bot sent it.
    """

    kind: str
    raw: JSONDict
    callback_data: str | None
    url: str | None
    request_location: bool
    request_contact: bool

    def __new__(cls, raw: JSONDict | str, kind: str) -> Button:
        """Build from a button object (or a bare string, allowed in reply keyboards)."""
        data: JSONDict = dict(raw) if isinstance(raw, dict) else {"text": str(raw)}
        button = super().__new__(cls, str(data.get("text", "")))
        button.kind = kind
        button.raw = data
        button.callback_data = data.get("callback_data")
        button.url = data.get("url")
        button.request_location = bool(data.get("request_location"))
        button.request_contact = bool(data.get("request_contact"))
        return button

    @property
    def text(self) -> str:
        """The button label."""
        return str(self)


class TranscriptEntry(NamedTuple):
    """One line of a conversation: who spoke, what, and the buttons shown (bot only)."""

    side: Literal["user", "bot"]
    text: str
    buttons: list[str]


class FakeUser:
    """A Telegram user in a private chat with the bot (chat id == user id).

    Created through :meth:`BotApiDouble.user`. Sending methods push one update each and
    return its ``update_id``. Reading methods look at the bot's messages in this chat
    (:class:`~sereno.double.records.SentMessage` objects, live with edits).
    """

    def __init__(
        self,
        double: BotApiDouble,
        user_id: int,
        first_name: str = "Ana",
        language_code: str = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        self.double: BotApiDouble = double
        self.id: int = user_id
        self.first_name: str = first_name
        self.last_name: str | None = last_name
        self.username: str | None = username
        self.language_code: str = language_code
        #: Update ids this user pushed, in order.
        self.update_ids: list[int] = []
        #: Id of the callback query created by the latest :meth:`press`/:meth:`press_data`.
        self.last_callback_query_id: str | None = None
        self._cursor = 0
        self._last_action_seq = 0
        self._log: list[tuple[int, str]] = []

    # ------------------------------------------------------------------ identity

    @property
    def chat_id(self) -> int:
        """The private chat id (equal to the user id)."""
        return self.id

    @property
    def user_dict(self) -> JSONDict:
        """This user as a Telegram ``User`` object."""
        user: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        user["language_code"] = self.language_code
        return user

    @property
    def chat_dict(self) -> JSONDict:
        """The private chat as a Telegram ``Chat`` object."""
        chat: JSONDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    # ------------------------------------------------------------------ sending

    def _new_message(self, **content: Any) -> JSONDict:
        return {
            "message_id": self.double._next_message_id(self.chat_id),
            "from": self.user_dict,
            "chat": self.chat_dict,
            "date": int(time.time()),
            **content,
        }

    async def _push(self, update: JSONDict, label: str) -> int:
        update_id = self.double.push_update(update)
        self.update_ids.append(update_id)
        self._last_action_seq = self.double._seq
        self._log.append((self.double._seq, label))
        await asyncio.sleep(0)
        return update_id

    async def _push_message(self, message: JSONDict, label: str) -> int:
        self.double._remember_user_message(message)
        return await self._push({"message": message}, label)

    @staticmethod
    def _text_entities(text: str) -> list[JSONDict]:
        if not text.startswith("/") or len(text) < 2:
            return []
        command = text.split(maxsplit=1)[0]
        return [{"type": "bot_command", "offset": 0, "length": _u16(command)}]

    def _resolve(self, message: SentMessage | int) -> SentMessage:
        if isinstance(message, int):
            found = self.double.sent_message(self.chat_id, message)
            if found is None:
                raise LookupError(f"the bot sent no message #{message} to chat {self.chat_id}")
            return found
        return message

    async def send_text(self, text: str, *, reply_to: SentMessage | int | None = None) -> int:
        """Send a text message (``/command`` texts get a ``bot_command`` entity)."""
        content: JSONDict = {"text": text}
        entities = self._text_entities(text)
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = self._resolve(reply_to).to_telegram()
        return await self._push_message(self._new_message(**content), text)

    async def send_command(self, command: str = "/start") -> int:
        """Send a command such as ``"/start"`` or ``"/start payload"`` (slash optional)."""
        text = command if command.startswith("/") else f"/{command}"
        return await self.send_text(text)

    async def share_location(self, lat: float, lon: float, horizontal_accuracy: float | None = None) -> int:
        """Send a location message (what a ``request_location`` button produces)."""
        location: JSONDict = {"latitude": lat, "longitude": lon}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return await self._push_message(self._new_message(location=location), f"[location {lat}, {lon}]")

    async def send_photo(self, jpeg_bytes: bytes, caption: str | None = None) -> int:
        """Send a photo; the bytes are stored in the double and downloadable via getFile.

        ``message.photo`` lists PhotoSizes of increasing size, all resolving to the bytes.
        """
        stored = self.double.add_file(jpeg_bytes, kind="photo")
        content: JSONDict = {"photo": [dict(size) for size in stored.photo_sizes]}
        if caption:
            content["caption"] = caption
        label = "[photo]" + (f" {caption}" if caption else "")
        return await self._push_message(self._new_message(**content), label)

    async def send_document(self, data: bytes, file_name: str, mime_type: str, caption: str | None = None) -> int:
        """Send a file as a document; the bytes are downloadable via getFile."""
        stored = self.double.add_file(data, kind="document", file_name=file_name, mime_type=mime_type)
        content: JSONDict = {
            "document": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": stored.file_size,
            }
        }
        if caption:
            content["caption"] = caption
        return await self._push_message(self._new_message(**content), f"[document {file_name}]")

    async def send_sticker(self, emoji: str = "👍") -> int:
        """Send a sticker-only message (no text, no caption)."""
        stored = self.double.add_file(
            b"RIFF\x1a\x00\x00\x00WEBPVP8 ",
            kind="sticker",
            file_name="sticker.webp",
            mime_type="image/webp",
        )
        sticker: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.file_size,
        }
        return await self._push_message(self._new_message(sticker=sticker), f"[sticker {emoji}]")

    async def press(self, button_text: str, *, message: SentMessage | int | None = None) -> int:
        """Press the inline button labelled exactly ``button_text``.

        Searches ``message`` (a SentMessage or message id) or else the most recent
        non-deleted bot message in this chat having such a button, and pushes a
        ``callback_query`` with that button's ``callback_data``. Raises ``LookupError``
        if no such button is shown and ``ValueError`` for buttons without callback data.
        """
        if message is not None:
            candidates = [self._resolve(message)]
        else:
            candidates = [m for m in reversed(self.messages()) if not m.deleted]
        for candidate in candidates:
            button = candidate.find_button(button_text)
            if button is None:
                continue
            data = button.get("callback_data")
            if data is None:
                raise ValueError(
                    f"button {button_text!r} has no callback_data (it is {button}); pressing it sends no callback query"
                )
            return await self._press(str(data), candidate, button_text)
        shown = [list(m.buttons) for m in candidates if m.inline_keyboard]
        raise LookupError(f"no inline button {button_text!r} in chat {self.chat_id}; shown: {shown}")

    async def press_data(self, callback_data: str, message: SentMessage | int) -> int:
        """Push a ``callback_query`` with arbitrary (possibly forged) ``callback_data``."""
        return await self._press(callback_data, self._resolve(message), None)

    async def _press(self, callback_data: str, target: SentMessage, label: str | None) -> int:
        query_id = self.double._new_callback_query({"user_id": self.id, "data": callback_data})
        query: JSONDict = {
            "id": query_id,
            "from": self.user_dict,
            "message": target.to_telegram(),
            "chat_instance": self.double._chat_instance(target.chat_id),
            "data": callback_data,
        }
        self.last_callback_query_id = query_id
        text = f"[pressed {label!r}]" if label is not None else f"[callback {callback_data!r}]"
        return await self._push({"callback_query": query}, text)

    async def edit_text(self, message_id: int, new_text: str) -> int:
        """Edit a text message this user sent earlier (pushes ``edited_message``)."""
        original = self.double._user_message(self.chat_id, message_id)
        if original is None or original.get("from", {}).get("id") != self.id:
            raise LookupError(f"user {self.id} sent no message #{message_id}")
        edited = {k: v for k, v in original.items() if k not in ("text", "entities")}
        edited["text"] = new_text
        entities = self._text_entities(new_text)
        if entities:
            edited["entities"] = entities
        edited["edit_date"] = int(time.time())
        self.double._remember_user_message(edited)
        return await self._push({"edited_message": edited}, f"[edited #{message_id}] {new_text}")

    async def block_bot(self) -> int:
        """Block the bot: later sends to this chat get 403; pushes ``my_chat_member``."""
        self.double.block(self.chat_id)
        return await self._push(self._member_update("member", "kicked"), "[blocked the bot]")

    async def unblock_bot(self) -> int:
        """Unblock the bot; pushes the corresponding ``my_chat_member`` update."""
        self.double.unblock(self.chat_id)
        return await self._push(self._member_update("kicked", "member"), "[unblocked the bot]")

    def _member_update(self, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            record: JSONDict = {"user": dict(self.double.bot_user), "status": status}
            if status == "kicked":
                record["until_date"] = 0
            return record

        return {
            "my_chat_member": {
                "chat": self.chat_dict,
                "from": self.user_dict,
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            }
        }

    # ------------------------------------------------------------------ reading

    def messages(self) -> list[SentMessage]:
        """Every message the bot sent to this chat, in order (deleted ones included)."""
        return self.double.sent_messages(self.chat_id)

    def last_message(self) -> SentMessage | None:
        """The most recent non-deleted bot message in this chat, if any."""
        return next((m for m in reversed(self.messages()) if not m.deleted), None)

    async def next_message(self, timeout: float = 5.0) -> SentMessage:
        """Wait for the bot's next message in this chat after the cursor; advance it.

        The cursor starts at the first message and only moves through this method (or
        :meth:`catch_up`), so consecutive calls return consecutive bot messages.
        """
        index = self._cursor
        message = await self.double.wait_until(
            lambda: self.messages()[index] if len(self.messages()) > index else None,
            timeout,
            description=f"bot message #{index + 1} in chat {self.chat_id}",
        )
        self._cursor = index + 1
        return message

    def catch_up(self) -> None:
        """Move the :meth:`next_message` cursor past every message sent so far."""
        self._cursor = len(self.messages())

    async def wait_text(self, substring: str, timeout: float = 5.0, *, since_last_action: bool = True) -> SentMessage:
        """Wait until a bot message in this chat contains ``substring``; return it.

        Considers non-deleted messages whose current text/caption contains it and that
        were sent or edited after this user's latest action (any time when
        ``since_last_action`` is false or the user has not acted yet).
        """
        since = self._last_action_seq if since_last_action else 0

        def find() -> SentMessage | None:
            for message in self.messages():
                if message.deleted or message.changed_seq <= since:
                    continue
                if message.text is not None and substring in message.text:
                    return message
            return None

        return await self.double.wait_until(
            find,
            timeout,
            description=f"a bot message containing {substring!r} in chat {self.chat_id}",
        )

    async def wait_callback_answer(self, timeout: float = 5.0) -> JSONDict:
        """Wait until the bot answers this user's latest button press; return the params."""
        if self.last_callback_query_id is None:
            raise LookupError(f"user {self.id} has not pressed any button")
        return await self.double.wait_callback_answer(self.last_callback_query_id, timeout)

    def buttons(self, message: SentMessage | int | None = None) -> list[Button]:
        """The buttons the user sees, as :class:`Button` (str subclasses).

        For ``message``: its inline keyboard, or else its reply keyboard. Without it:
        the inline keyboard of the latest bot message that has one, or the latest reply
        keyboard not removed by a later ``remove_keyboard`` — whichever is newer.
        """
        if message is not None:
            target = self._resolve(message)
            if target.inline_keyboard:
                return [Button(b, "inline") for row in target.inline_keyboard for b in row]
            return [Button(b, "reply") for row in target.reply_keyboard for b in row]
        reply_removed = False
        for candidate in reversed(self.messages()):
            if candidate.deleted:
                continue
            if candidate.inline_keyboard:
                return [Button(b, "inline") for row in candidate.inline_keyboard for b in row]
            markup = candidate.reply_markup or {}
            if candidate.reply_keyboard and not reply_removed:
                return [Button(b, "reply") for row in candidate.reply_keyboard for b in row]
            if markup.get("remove_keyboard"):
                reply_removed = True
        return []

    def transcript(self) -> list[TranscriptEntry]:
        """Both sides of the conversation in order: user actions and bot messages.

        Bot entries show the message's current state (``(edited)``/``[deleted]``
        markers) and its button texts.
        """
        rows: list[tuple[int, TranscriptEntry]] = [(seq, TranscriptEntry("user", text, [])) for seq, text in self._log]
        rows.extend((m.sent_seq, TranscriptEntry("bot", m.describe(), list(m.buttons))) for m in self.messages())
        rows.sort(key=lambda row: row[0])
        return [entry for _, entry in rows]
