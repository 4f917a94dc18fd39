"""The application bot's rate limiter: its sends share the broadcaster's :class:`SendGate`,
so replies and broadcasts together stay within one bot token's limits."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from sereno.verify.limits import INF, SendGate

JSONDict = dict[str, Any]
#: Bot API methods that put a message in a chat (what Telegram's limits count).
SEND_METHODS = frozenset(
    {
        "sendmessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "sendphoto",
        "senddocument",
        "sendlocation",
        "sendvideo",
        "sendaudio",
        "sendvoice",
        "sendsticker",
        "sendmediagroup",
        "copymessage",
        "forwardmessage",
    }
)


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB 22 warns that the type will change)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class GateRateLimiter(BaseRateLimiter[None]):
    """Waits for the shared gate before each message a handler or job sends (overall and
    group limits; a private chat's one-a-second limit is left to the flood guard, since
    replies answer the person's own taps). A 429 pauses everyone and is re-raised."""

    def __init__(self, gate: SendGate) -> None:
        self._gate = gate

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = data.get("chat_id")
        if endpoint.lower() not in SEND_METHODS or not isinstance(chat_id, int):
            return await callback(*args, **kwargs)
        while True:
            now = time.monotonic()
            ready = self._gate.ready_at(chat_id, now, private_limit=False)
            if ready <= now:
                break
            await asyncio.sleep(0.005 if ready == INF else min(ready - now, 1.0))
        self._gate.start(chat_id)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            self._gate.pause(time.monotonic() + retry_seconds(exc))
            raise
        finally:
            self._gate.finish(chat_id, time.monotonic())
