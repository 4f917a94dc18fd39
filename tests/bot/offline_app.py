"""The real Application driven through `Application.process_update` (as bench/intake.py does)
with an offline request that answers every Bot API call locally and records what the bot
said: fast enough to push tens of thousands of updates through in a test."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from telegram import Update
from telegram.ext import Application, ContextTypes
from telegram.request import RequestData

from bench.offline import BOT_USER, OfflineRequest
from sereno.bootstrap import Runtime, build_runtime, close_runtime
from sereno.config import Settings
from tests.bot.conftest import HOTLINE, seed_region
from tests.conftest import TEST_HMAC_KEY, TEST_TOKEN

#: Bot API methods whose text a person reads.
SAYING = {
    "sendmessage": "text",
    "editmessagetext": "text",
    "answercallbackquery": "text",
    "senddocument": "caption",
    "sendphoto": "caption",
}


@dataclass
class Said:
    """One thing the bot said (or tried to) through the Bot API."""

    method: str
    chat_id: int | None
    text: str | None
    markup: dict[str, Any] | None
    params: dict[str, Any]


class RecordingRequest(OfflineRequest):
    """The benchmarks' offline request, plus: every call recorded, files that do not exist
    (any file id is bogus here), and the chat look-ups /linkchannel makes."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[Said] = []
        self.keyboards: dict[int, list[dict[str, Any]]] = {}  # every message with buttons, per chat

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        api = url.rsplit("/", 1)[-1].lower()
        params = dict(request_data.parameters) if request_data else {}
        if api in SAYING or api == "answercallbackquery":
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            chat = params.get("chat_id")
            self.said.append(
                Said(api, int(chat) if chat is not None else None, params.get(SAYING.get(api, "text")), markup, params)
            )
        if api == "getfile":
            return 400, json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}).encode()
        if api == "getchat":
            chat_id = int(params.get("chat_id", 0))
            return 200, json.dumps({"ok": True, "result": {"id": chat_id, "type": "channel", "title": "Fuzz"}}).encode()
        if api == "getchatmember":
            member = {
                "status": "administrator",
                "user": BOT_USER,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": False,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_post_messages": True,
                "can_edit_messages": True,
            }
            return 200, json.dumps({"ok": True, "result": member}).encode()
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        if api in ("sendmessage", "editmessagetext"):
            result = json.loads(body)["result"]
            if "reply_markup" in result:
                self.keyboards.setdefault(int(params.get("chat_id", 0)), []).append(result)
        return status, body


class ErrorLog(logging.Handler):
    """Remembers every record at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class OfflineBot:
    runtime: Runtime
    request: RecordingRequest
    errors: list[tuple[object, BaseException | None]] = field(default_factory=list)
    next_id: int = 1

    @property
    def app(self) -> Application:  # type: ignore[type-arg]
        return self.runtime.application

    def update_id(self) -> int:
        self.next_id += 1
        return self.next_id

    async def feed(self, payload: dict[str, Any]) -> None:
        """One update, through the per-chat update processor like a polled or webhook update."""
        update = Update.de_json(payload, self.app.bot)
        await self.app.update_processor.process_update(update, self.app.process_update(update))

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        async with self.runtime.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(sql))).mappings()]


def offline_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        telegram_token=TEST_TOKEN,
        database_url=database_url,
        hmac_key=TEST_HMAC_KEY,
        hotline=HOTLINE,
        hotline_name="Demo Legal Aid",
        region_name="Puerto Sereno",
        send_per_second=1000,
        persistence_interval_seconds=0.5,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@asynccontextmanager
async def offline_bot(folder: Path, **overrides: object) -> AsyncIterator[OfflineBot]:
    """A started Sereno on a scratch SQLite database with the demo region."""
    url = f"sqlite+aiosqlite:///{folder}/sereno.db"
    await seed_region(url)
    request = RecordingRequest()
    runtime = await build_runtime(offline_settings(url, **overrides), request=request, updates_request=OfflineRequest())
    bot = OfflineBot(runtime, request)

    async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot.errors.append((update, context.error))

    app = runtime.application
    app.add_error_handler(record)
    await app.initialize()
    await app.start()
    try:
        yield bot
    finally:
        await app.stop()
        await app.shutdown()
        await close_runtime(runtime)


def user(user_id: int, language: str | None = "en") -> dict[str, Any]:
    body: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"U{user_id}"}
    if language is not None:
        body["language_code"] = language
    return body


def private(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": f"U{user_id}"}


def message(
    update_id: int, sender: dict[str, Any], chat: dict[str, Any], text: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"message_id": update_id, "date": int(time.time()), "chat": chat, "from": sender}
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0]) if text.split() else 1}]
    body.update(extra)
    return {"update_id": update_id, "message": body}


def press(update_id: int, sender: dict[str, Any], shown: dict[str, Any] | None, data: str) -> dict[str, Any]:
    query: dict[str, Any] = {"id": str(update_id), "chat_instance": str(sender["id"]), "data": data, "from": sender}
    if shown is not None:
        query["message"] = shown
    else:
        query["inline_message_id"] = f"inline-{update_id}"
    return {"update_id": update_id, "callback_query": query}


def buttons(shown: dict[str, Any]) -> list[str]:
    """The callback data of every button of a shown message."""
    return [b["callback_data"] for row in shown["reply_markup"]["inline_keyboard"] for b in row if "callback_data" in b]
