"""An offline `BaseRequest` for benchmarks: answers Bot API calls from memory, like Telegram
would, and remembers the last message with buttons sent to each chat (so a script can press
them)."""

from __future__ import annotations

import json
import time
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Sereno", "username": "sereno_bench_bot"}


class OfflineRequest(BaseRequest):
    """Serves getMe, sends and edits without any network."""

    def __init__(self) -> None:
        self.calls = 0
        self.last_keyboard: dict[int, dict[str, Any]] = {}
        self._message_id = 0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        self.calls += 1
        api = url.rsplit("/", 1)[-1].lower()  # Bot API method names are case-insensitive
        params = request_data.parameters if request_data else {}
        result: Any = True
        if api == "getme":
            result = BOT_USER
        elif api in ("sendmessage", "editmessagetext", "sendphoto"):
            chat_id = int(params.get("chat_id", 0))
            self._message_id += 1
            result = {
                "message_id": params.get("message_id", self._message_id),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "U"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            markup = params.get("reply_markup")
            if markup:
                markup = json.loads(markup) if isinstance(markup, str) else markup
                if "inline_keyboard" in markup:
                    result["reply_markup"] = markup
                    self.last_keyboard[chat_id] = result
        elif api == "getupdates":
            result = []
        return 200, json.dumps({"ok": True, "result": result}).encode()
