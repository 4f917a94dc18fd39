"""The chats and people the double knows, and what the bot may do in them.

:class:`Chats` holds the ``Chat`` objects (private chats of simulated users, groups,
supergroups, channels), the chats that blocked or kicked the bot, and members'
statuses and rights. It resolves a request's ``chat_id`` (number or ``@username``) the
way Telegram does, including "chat not found" for chats the bot never met.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sereno.double.errors import ApiError, bad_request
from sereno.double.params import as_int

if TYPE_CHECKING:
    from sereno.double.users import FakeUser

__all__ = ["MEMBER_STATUSES", "Chats", "infer_chat_type"]

JSONDict = dict[str, Any]

#: Chat member statuses accepted by :meth:`BotApiDouble.set_chat_member`.
MEMBER_STATUSES: Final = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})


def infer_chat_type(chat_id: int) -> str:
    """``private`` for positive ids, ``supergroup`` for ``-100…`` ids, else ``group``."""
    if chat_id > 0:
        return "private"
    if chat_id <= -1_000_000_000_000:
        return "supergroup"
    return "group"


class Chats:
    """Known chats, simulated users, blocked chats and chat members for one bot.

    With ``strict`` sending to an unknown chat is "chat not found"; without it unknown
    numeric chats are created on first use (their type inferred from the id).
    """

    def __init__(self, bot_user: JSONDict, *, strict: bool) -> None:
        self.bot_user = bot_user
        self.strict: bool = strict
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, FakeUser] = {}
        self._blocked: set[int] = set()
        self._members: dict[tuple[int, int], str] = {}
        self._member_rights: dict[tuple[int, int], dict[str, bool]] = {}

    # ------------------------------------------------------------------ registering

    def user(self, user_id: int) -> FakeUser | None:
        """The simulated user ``user_id``, if one was added."""
        return self._users.get(user_id)

    def add_user(self, fake: FakeUser) -> None:
        """Register a simulated user and its private chat."""
        self._users[fake.id] = fake
        self._chats[fake.id] = fake.chat_dict

    def add_chat(
        self,
        chat_id: int,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Register (or replace) a chat; return (a copy of) its ``Chat`` object."""
        kind = type or infer_chat_type(chat_id)
        chat: JSONDict = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = first_name or f"User {chat_id}"
        else:
            chat["title"] = title or f"{kind.capitalize()} {chat_id}"
        if username:
            chat["username"] = username.lstrip("@")
        self._chats[chat_id] = chat
        return dict(chat)

    def block(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` fail with 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(chat_id)

    def is_blocked(self, chat_id: int) -> bool:
        """Whether :meth:`block` is in effect for ``chat_id``."""
        return chat_id in self._blocked

    def set_member(self, chat_id: int, user_id: int, status: str, rights: dict[str, bool]) -> None:
        """Record ``user_id``'s status (one of :data:`MEMBER_STATUSES`, else ``ValueError``)
        and ``can_*`` rights in ``chat_id``, registering the chat if unknown."""
        self._member_rights[(chat_id, user_id)] = dict(rights)
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}, got {status!r}")
        if chat_id not in self._chats:
            self.add_chat(chat_id)
        self._members[(chat_id, user_id)] = status

    # ------------------------------------------------------------------ answering the bot

    def resolve(self, params: JSONDict, key: str = "chat_id") -> JSONDict:
        """Return the Chat object for ``params[key]`` or raise Telegram's 400."""
        raw = params.get(key)
        if raw is None or raw == "":
            raise bad_request(f"{key} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            for known in self._chats.values():
                if str(known.get("username", "")).lower() == wanted:
                    return known
            raise bad_request("chat not found")
        chat_id = as_int(raw, key)
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict:
                raise bad_request("chat not found")
            self.add_chat(chat_id)
            chat = self._chats[chat_id]
        return chat

    def check_blocked(self, chat: JSONDict) -> None:
        """Raise Telegram's 403 for ``chat`` if it blocked or kicked the bot."""
        if chat["id"] not in self._blocked:
            return
        kind = chat.get("type")
        if kind == "private":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "channel":
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        if kind == "supergroup":
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        raise ApiError(403, "Forbidden: bot was kicked from the group chat")

    def status(self, chat_id: int, user_id: int) -> str:
        """``user_id``'s status in ``chat_id`` ("member" unless set otherwise)."""
        return self._members.get((chat_id, user_id), "member")

    def rights(self, chat_id: int, user_id: int) -> dict[str, bool]:
        """The ``can_*`` overrides set for ``user_id`` in ``chat_id``."""
        return self._member_rights.get((chat_id, user_id), {})

    def may_delete_others(self, chat_id: int) -> bool:
        """Whether the bot may delete other people's messages in a group or channel: as
        its creator, or an administrator not denied ``can_delete_messages``."""
        key = (chat_id, self.bot_user["id"])
        status = self._members.get(key, "member")
        return status == "creator" or (
            status == "administrator" and self._member_rights.get(key, {}).get("can_delete_messages", True)
        )

    def user_object(self, user_id: int) -> JSONDict:
        """The ``User`` object for ``user_id``: the bot, a simulated user, or a stand-in."""
        if user_id == self.bot_user["id"]:
            return dict(self.bot_user)
        fake = self._users.get(user_id)
        if fake is not None:
            return fake.user_dict
        return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
