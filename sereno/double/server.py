"""An in-process HTTP double of the Telegram Bot API, built on aiohttp.

:class:`BotApiDouble` listens on a local port and answers the Bot API methods Sereno
uses, with JSON shaped exactly like Telegram's, so that a real python-telegram-bot
``Application`` can run against it unchanged::

    async with BotApiDouble() as double:
        app = (
            ApplicationBuilder()
            .token(double.token)
            .base_url(double.bot_base_url)
            .base_file_url(double.file_base_url)
            .build()
        )

The double records every call (:attr:`BotApiDouble.calls`), keeps the messages the bot
sent per chat (:meth:`BotApiDouble.sent_messages`, reflecting later edits and
deletions), queues updates for ``getUpdates`` long polling
(:meth:`BotApiDouble.push_update`, :meth:`BotApiDouble.redeliver`), stores files, and
can emulate Telegram's failure modes: rate limits (HTTP 429), blocked users (403),
unknown chats and invalid requests (400), wrong tokens (401) and unknown methods (404).
Simulated users live in :mod:`sereno.double.users`.

Webhooks are only recorded: ``setWebhook`` makes ``getUpdates`` answer 409 like
Telegram does; with :meth:`BotApiDouble.deliver_webhook_to` it also POSTs updates to a webhook.

This module holds the class itself: HTTP routing, the record of calls and sent messages,
and the test-control API (chats, users, updates, flood limits, waiting). What answers the
bot lives beside it: :mod:`~sereno.double.methods` (the Bot API methods),
:mod:`~sereno.double.delivery` (the update queue, long poll and webhooks),
:mod:`~sereno.double.entities` and :mod:`~sereno.double.markup` (message text and
keyboards as Telegram checks them), :mod:`~sereno.double.files` (uploads and downloads),
:mod:`~sereno.double.chats` (known chats and members), :mod:`~sereno.double.limits`
(flood limits), :mod:`~sereno.double.params` (request decoding),
:mod:`~sereno.double.records` (:class:`Call`, :class:`SentMessage`) and
:mod:`~sereno.double.errors` (:class:`ApiError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

from aiohttp import web

from sereno.double.chats import Chats
from sereno.double.delivery import UpdateDelivery
from sereno.double.errors import ApiError
from sereno.double.files import FileStore, StoredFile
from sereno.double.limits import FloodLimits
from sereno.double.methods import SEND_METHODS, BotApiMethods, MethodHandler
from sereno.double.params import read_params
from sereno.double.records import Call, Changes, MessageLog, SentMessage
from sereno.double.users import FakeUser

__all__ = ["BotApiDouble"]

T = TypeVar("T")
JSONDict = dict[str, Any]

_API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[^/]*)/?$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_MAX_BODY: Final = 60 * 1024 * 1024


class BotApiDouble:
    """An aiohttp server answering the Telegram Bot API for one bot token.

    Start it with :meth:`start` (or ``async with``), point PTB at :attr:`bot_base_url`
    and :attr:`file_base_url`, feed updates with :meth:`push_update` or simulated users
    (:meth:`user`), and inspect :attr:`calls` and :meth:`sent_messages`.

    With ``strict_chats`` (the default) sending to a chat the double does not know
    answers 400 "Bad Request: chat not found", as Telegram does for users who never
    talked to the bot; chats become known through :meth:`user`, :meth:`add_chat` and
    :meth:`set_chat_member`. With ``strict_chats=False`` unknown chats are created on
    the fly (positive ids private, ``-100…`` supergroups, other negative ids groups).
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        bot_user_id: int | None = None,
        bot_username: str = "sereno_test_bot",
        bot_first_name: str = "Sereno",
        strict_chats: bool = True,
    ) -> None:
        prefix = token.split(":", 1)[0]
        self.token: str = token
        self.bot_user: JSONDict = {
            "id": bot_user_id if bot_user_id is not None else int(prefix) if prefix.isdigit() else 123456,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        #: Every request made to the double, in order of completion.
        self.calls: list[Call] = []
        #: How many requests were answered with HTTP 429 (forced or by enforced limits).
        self.count_429: int = 0
        #: Seconds to hold the answer to each send after carrying it out (network latency:
        #: the message is delivered, the bot has not heard so yet).
        self.answer_delay: float = 0.0

        self._runner: web.AppRunner | None = None
        self._host: str = "127.0.0.1"
        self._port: int | None = None

        self._changes = Changes()
        self._messages = MessageLog()
        self._chats = Chats(self.bot_user, strict=strict_chats)
        self._files = FileStore()
        self._limits = FloodLimits()
        self._delivery = UpdateDelivery(self._changes)
        self._methods = BotApiMethods(
            bot_user=self.bot_user,
            chats=self._chats,
            messages=self._messages,
            files=self._files,
            limits=self._limits,
            delivery=self._delivery,
            changes=self._changes,
        )
        self._handlers: dict[str, tuple[str, MethodHandler]] = {
            name.lower(): (name, handler) for name, handler in self._methods.handlers().items()
        }

    @property
    def strict_chats(self) -> bool:
        """Whether sending to an unknown chat is "chat not found" (else it is created)."""
        return self._chats.strict

    @strict_chats.setter
    def strict_chats(self, value: bool) -> None:
        self._chats.strict = value

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (``port=0`` picks a free port); return :attr:`api_url`."""
        if self._runner is not None:
            return self.api_url
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        self._delivery.open()
        return self.api_url

    async def stop(self) -> None:
        """Answer pending long polls with an empty result and shut the server down."""
        if self._runner is None:
            return
        await self._delivery.close()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> BotApiDouble:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """Root URL of the running server, e.g. ``http://127.0.0.1:43123``."""
        if self._port is None:
            raise RuntimeError("BotApiDouble is not running; call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def bot_base_url(self) -> str:
        """Value for PTB's ``base_url``: ``{api_url}/bot``."""
        return f"{self.api_url}/bot"

    @property
    def file_base_url(self) -> str:
        """Value for PTB's ``base_file_url``: ``{api_url}/file/bot``."""
        return f"{self.api_url}/file/bot"

    # ------------------------------------------------------------------ configuration

    def user(
        self,
        user_id: int,
        first_name: str = "Ana",
        language_code: str = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> FakeUser:
        """The simulated user ``user_id`` (created on first use; private chat id == user id).

        Calling again with the same id returns the same :class:`FakeUser`, ignoring the
        other arguments.
        """
        existing = self._chats.user(user_id)
        if existing is not None:
            return existing
        fake = FakeUser(
            self,
            user_id,
            first_name,
            language_code,
            last_name=last_name,
            username=username,
        )
        self._chats.add_user(fake)
        return fake

    def add_chat(
        self,
        chat_id: int,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Register (or replace) a chat the bot can talk to; return its ``Chat`` object.

        ``type`` defaults to ``private`` for positive ids, ``supergroup`` for ``-100…``
        ids and ``group`` for other negative ids. ``username`` (without ``@``) lets the
        bot address the chat as ``@username``.
        """
        return self._chats.add_chat(chat_id, type=type, title=title, username=username, first_name=first_name)

    def block(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` fail with 403 (user blocked the bot / bot was kicked)."""
        self._chats.block(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self._chats.unblock(chat_id)

    def is_blocked(self, chat_id: int) -> bool:
        """Whether :meth:`block` is in effect for ``chat_id``."""
        return self._chats.is_blocked(chat_id)

    def set_chat_member(self, chat_id: int, user_id: int, status: str, **rights: bool) -> None:
        """Make ``getChatMember(chat_id, user_id)`` report ``status`` (default is "member").

        ``status`` is one of :data:`MEMBER_STATUSES`. The chat is registered if unknown.
        ``rights`` override an administrator's ``can_*`` fields (in a channel, posting and
        editing are granted unless given as False).
        """
        self._chats.set_member(chat_id, user_id, status, rights)

    def enforce_limits(
        self,
        global_per_second: int | None = 30,
        private_per_second: int | None = 1,
        group_per_minute: int | None = 20,
    ) -> None:
        """Answer 429 to :data:`SEND_METHODS` calls that exceed Telegram's flood limits.

        Sliding windows over accepted sends: all chats within 1 s, one private chat
        within 1 s, one group/supergroup/channel within 60 s. ``None`` disables a limit.
        ``retry_after`` is the whole seconds until the window frees a slot (at least 1).
        """
        self._limits.enforce(global_per_second, private_per_second, group_per_minute)

    def disable_limits(self) -> None:
        """Stop enforcing the limits set by :meth:`enforce_limits`."""
        self._limits.disable()

    def force_429(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` :data:`SEND_METHODS` calls with 429 ``retry_after``."""
        self._limits.force(times, retry_after)

    def add_file(
        self,
        data: bytes,
        *,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store ``data`` as a file (``kind`` "photo", "document", "sticker", …).

        Photos get Telegram-like PhotoSizes computed from the image dimensions (800x600
        is assumed when Pillow cannot read the bytes).
        """
        return self._files.add(data, kind=kind, file_name=file_name, mime_type=mime_type)

    def file(self, file_id: str) -> StoredFile:
        """The stored file for ``file_id``; raises ``KeyError`` if unknown."""
        stored = self._files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored

    # ------------------------------------------------------------------ updates

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue ``update`` (without ``update_id``) for ``getUpdates``; return its new id.

        Ids are monotonic. A waiting long poll returns right away. A message or channel
        post it carries is remembered as the chat's (the bot may reply to it or delete
        it), and the bot's next message in that chat gets a later id.
        """
        body = copy.deepcopy({k: v for k, v in update.items() if k != "update_id"})
        for kind in ("message", "channel_post"):
            posted = body.get(kind)
            if isinstance(posted, dict) and isinstance(posted.get("chat"), dict) and "message_id" in posted:
                chat_id, mid = int(posted["chat"]["id"]), int(posted["message_id"])
                self._messages.saw_message_id(chat_id, mid)
                self._remember_user_message(posted)
        return self._delivery.push(body)

    def deliver_webhook_to(self, url: str | None, secret: str | None = None) -> None:
        """POST every update pushed from now on to `url`, as Telegram does for a webhook,
        instead of queueing it for getUpdates; `secret` goes in the
        X-Telegram-Bot-Api-Secret-Token header (default: the secret_token given to
        setWebhook). A refused or failed POST is retried a few times, as Telegram does.
        ``None`` goes back to getUpdates."""
        self._delivery.deliver_to(url, secret)

    def redeliver(self, update_id: int) -> None:
        """Deliver the already pushed update ``update_id`` again, with the same id.

        The next ``getUpdates`` returns it even though the bot's offset is past it (it
        is put first in the batch); it is dropped once the bot polls again.
        """
        self._delivery.redeliver(update_id)

    def get_update(self, update_id: int) -> JSONDict:
        """A copy of the pushed update ``update_id``; raises ``KeyError`` if unknown."""
        return self._delivery.get(update_id)

    @property
    def pending_update_count(self) -> int:
        """Updates pushed but not yet confirmed by a ``getUpdates`` offset."""
        return self._delivery.pending_count

    @property
    def active_polls(self) -> int:
        """``getUpdates`` requests currently being served (long polls waiting for updates)."""
        return self._delivery.active_polls

    async def wait_confirmed(self, update_id: int, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed ``update_id`` (polled with an offset past it)."""
        await self.wait_until(
            lambda: self._delivery.is_confirmed(update_id),
            timeout,
            description=f"confirmation of update {update_id}",
        )

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive, like Telegram's method names)."""
        canonical = self._canonical(method)
        return [call for call in self.calls if call.method == canonical]

    def sent_messages(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id`` (all chats if ``None``), in sending order.

        The objects are live: they reflect later edits and deletions.
        """
        return self._messages.sent(chat_id)

    def sent_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """The bot message ``message_id`` in ``chat_id``, if the bot sent it."""
        return self._messages.sent_message(chat_id, message_id)

    @property
    def callback_answers(self) -> dict[str, JSONDict]:
        """``answerCallbackQuery`` parameters by callback query id."""
        return dict(self._methods.callback_answers)

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[JSONDict]:
        """Commands set with ``setMyCommands`` for ``scope`` (default scope if ``None``)."""
        return self._methods.commands(scope, language_code)

    @property
    def webhook(self) -> JSONDict | None:
        """The parameters of the active ``setWebhook``, or ``None``."""
        return self._delivery.webhook

    @property
    def webhook_answers(self) -> list[int]:
        """HTTP statuses of the webhook POSTs made by :meth:`deliver_webhook_to` (0: no answer)."""
        return self._delivery.webhook_answers

    # ------------------------------------------------------------------ waiting

    async def wait_until(
        self,
        condition: Callable[[], T | None],
        timeout: float = 5.0,
        *,
        description: str = "condition",
    ) -> T:
        """Wait until ``condition()`` returns a truthy value and return that value.

        ``condition`` is re-evaluated whenever the double's state changes (a call is
        recorded, a message is sent/edited/deleted, an update is queued), not by
        polling. Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changes.event
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {description}; {self._describe_recent()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,
        *,
        chat_id: int | None = None,
    ) -> SentMessage:
        """Wait until a bot message (in ``chat_id``, or any chat) satisfies ``predicate``.

        Messages are checked in their current state, so an edit can satisfy it; the
        earliest-sent matching message is returned.
        """

        def find() -> SentMessage | None:
            return next((m for m in self.sent_messages(chat_id) if predicate(m)), None)

        where = f"chat {chat_id}" if chat_id is not None else "any chat"
        return await self.wait_until(find, timeout, description=f"a bot message in {where}")

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """Wait until a call of ``method`` (matching ``predicate``) has been recorded."""

        def find() -> Call | None:
            return next((c for c in self.calls_to(method) if predicate is None or predicate(c)), None)

        return await self.wait_until(find, timeout, description=f"a {method} call")

    async def wait_callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> JSONDict:
        """Wait until the bot answers callback query ``callback_query_id``; return the params."""
        return await self.wait_until(
            lambda: self._methods.callback_answers.get(callback_query_id),
            timeout,
            description=f"answerCallbackQuery for {callback_query_id}",
        )

    # ------------------------------------------------------------------ internals (FakeUser too)

    @property
    def _seq(self) -> int:
        """The current change sequence (see :class:`~sereno.double.records.Changes`)."""
        return self._changes.seq

    def _touch(self) -> int:
        """Advance the change sequence and wake every waiter; return the new sequence."""
        return self._changes.touch()

    def _next_message_id(self, chat_id: int) -> int:
        """A new message id in ``chat_id`` (for a simulated user's message)."""
        return self._messages.next_message_id(chat_id)

    def _remember_user_message(self, message: JSONDict) -> None:
        """Keep a user's message so the bot may reply to it, edit-check it or delete it."""
        self._messages.remember_user_message(message)

    def _user_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A copy of the kept user message ``message_id`` in ``chat_id``, if any."""
        return self._messages.user_message(chat_id, message_id)

    def _new_callback_query(self, update_hint: JSONDict) -> str:
        """A new callback query id for a button a simulated user pressed."""
        return self._methods.new_callback_query(update_hint)

    @staticmethod
    def _chat_instance(chat_id: int) -> str:
        """A stable ``chat_instance`` for callback queries from ``chat_id``."""
        return str((abs(chat_id) * 2_654_435_761 + 97_531) % 10**19)

    def _describe_recent(self, count: int = 5) -> str:
        """The last ``count`` bot messages, for timeout errors."""
        recent = self.sent_messages()[-count:]
        if not recent:
            return "the bot has sent no messages"
        lines = "; ".join(f"chat {m.chat_id} #{m.message_id}: {m.describe()!r}" for m in recent)
        return f"last bot messages: {lines}"

    # ------------------------------------------------------------------ HTTP plumbing

    def _canonical(self, method: str) -> str:
        """The canonical spelling of a Bot API method name (unknown names unchanged)."""
        entry = self._handlers.get(method.lower())
        return entry[0] if entry else method

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Route ``/bot<token>/<method>`` and ``/file/bot<token>/<path>`` requests."""
        path = request.path
        file_match = _FILE_PATH.match(path)
        if file_match is not None:
            return self._serve_file(file_match.group("token"), file_match.group("path"))
        api_match = _API_PATH.match(path)
        if api_match is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        token, method = api_match.group("token"), api_match.group("method")
        entry = self._handlers.get(method.lower())
        name = entry[0] if entry else method
        started = time.time()
        status: int
        body: JSONDict
        params: JSONDict = {}
        try:
            params = await read_params(request)
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            result = await entry[1](params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except asyncio.CancelledError:
            self._record(Call(name, params, started, None, 499))
            raise
        except Exception as exc:  # any other failure is a 500 for the bot
            status = 500
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: {exc!r}",
            }
        if status == 429:
            self.count_429 += 1
        self._record(Call(name, params, started, body, status))
        if self.answer_delay and name in SEND_METHODS:
            await asyncio.sleep(self.answer_delay)  # done, but the bot does not know yet
        return web.json_response(body, status=status)

    def _record(self, call: Call) -> None:
        """Record a finished (or abandoned) request and wake waiters."""
        self.calls.append(call)
        self._touch()

    def _serve_file(self, token: str, file_path: str) -> web.Response:
        """Answer a file download (recorded as ``downloadFile``): the bytes, 401 or 404."""
        started = time.time()
        stored = self._files.by_path(file_path) if token == self.token else None
        if token != self.token:
            status = 401
            body: JSONDict | None = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif stored is None or stored.data is None:
            status, body = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            status, body = 200, None
        self._record(Call("downloadFile", {"file_path": file_path}, started, body, status))
        if stored is not None and stored.data is not None and status == 200:
            return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")
        return web.json_response(body, status=status)

    def __repr__(self) -> str:
        where = self.api_url if self._port is not None else "stopped"
        return f"<BotApiDouble {where} calls={len(self.calls)}>"
