"""Telegram's flood limits as the double enforces them on sends: forced and earned 429s.

:class:`FloodLimits` keeps the sends the double accepted in sliding windows (all chats
within 1 s, one private chat within 1 s, one group/supergroup/channel within 60 s) and
the 429 answers a test asked for in advance. Both raise
:func:`~sereno.double.errors.too_many_requests` with Telegram's ``retry_after``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from sereno.double.errors import too_many_requests

__all__ = ["FloodLimits"]

JSONDict = dict[str, Any]


class FloodLimits:
    """Sliding-window send limits (off until :meth:`enforce`) and forced 429 answers."""

    def __init__(self) -> None:
        self._limits: dict[str, int | None] | None = None
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int, deque[float]] = {}
        self._forced_429: deque[int] = deque()

    def enforce(
        self,
        global_per_second: int | None,
        private_per_second: int | None,
        group_per_minute: int | None,
    ) -> None:
        """Start enforcing these limits (``None`` disables one)."""
        self._limits = {
            "global_per_second": global_per_second,
            "private_per_second": private_per_second,
            "group_per_minute": group_per_minute,
        }

    def disable(self) -> None:
        """Stop enforcing the limits set by :meth:`enforce`."""
        self._limits = None

    def force(self, times: int, retry_after: int) -> None:
        """Answer the next ``times`` sends with 429 ``retry_after``."""
        self._forced_429.extend([retry_after] * times)

    def check_forced(self) -> None:
        """Raise the next forced 429, if one is queued (it is used up)."""
        if self._forced_429:
            raise too_many_requests(self._forced_429.popleft())

    def check_rate(self, chat: JSONDict) -> None:
        """Raise 429 when one more send to ``chat`` would exceed an enforced limit.

        ``retry_after`` is the whole seconds until the window frees a slot (at least 1).
        """
        if self._limits is None:
            return
        now = time.monotonic()
        waits: list[float] = []
        global_limit = self._limits.get("global_per_second")
        self._prune(self._send_times, now, 1.0)
        if global_limit is not None and len(self._send_times) >= global_limit:
            waits.append(self._send_times[-global_limit] + 1.0 - now)
        per_chat = self._chat_send_times.get(chat["id"])
        if chat.get("type") == "private":
            limit, window = self._limits.get("private_per_second"), 1.0
        else:
            limit, window = self._limits.get("group_per_minute"), 60.0
        if per_chat is not None:
            self._prune(per_chat, now, 60.0)
            recent = [t for t in per_chat if t > now - window]
            if limit is not None and len(recent) >= limit:
                waits.append(recent[-limit] + window - now)
        if waits:
            raise too_many_requests(max(1, math.ceil(max(waits))))

    def note_send(self, chat: JSONDict) -> None:
        """Count an accepted send to ``chat`` in the windows."""
        now = time.monotonic()
        self._send_times.append(now)
        self._chat_send_times.setdefault(chat["id"], deque()).append(now)

    @staticmethod
    def _prune(times: deque[float], now: float, window: float) -> None:
        while times and times[0] <= now - window:
            times.popleft()
