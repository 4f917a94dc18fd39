"""Telegram's sending limits, kept on our side so the server never has to refuse us.

Telegram allows about 30 messages a second overall (up to 1,000 with paid broadcasts),
one a second to a private chat and 20 a minute to a group or channel, each over a sliding
window, and answers 429 beyond that. The server stamps a message somewhere between the
moment we start sending it and the moment its answer arrives, so :class:`SendGate` counts
a send inside every window from its start until its answer plus the window: whatever the
network does, no window the server sees can hold more than the limit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

INF = math.inf


@dataclass(frozen=True, slots=True)
class SendLimits:
    """Messages per window the broadcaster keeps to (configurable)."""

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    group_per_minute: float = 20.0
    #: Requests open at once (keeps the HTTP pool and the server's queue short).
    max_in_flight: int = 64


@dataclass(slots=True)
class _Window:
    """At most `limit` sends within any `seconds`-long window."""

    limit: int
    seconds: float
    in_flight: int = 0
    done: deque[float] = field(default_factory=deque)

    @classmethod
    def per(cls, rate: float, seconds: float) -> _Window:
        """`rate` sends per `seconds` (a rate below one becomes one send per longer window)."""
        if rate >= 1:
            return cls(int(rate), seconds)
        return cls(1, seconds / rate)

    def ready_at(self, now: float) -> float:
        """When one more send may start: now, a time, or INF (wait for an answer)."""
        while self.done and self.done[0] <= now - self.seconds:
            self.done.popleft()
        excess = self.in_flight + len(self.done) - self.limit + 1
        if excess <= 0:
            return now
        if excess > len(self.done):
            return INF
        return self.done[excess - 1] + self.seconds

    @property
    def idle(self) -> bool:
        return self.in_flight == 0 and not self.done

    def add_done(self, times: Iterable[float], now: float) -> None:
        """Count sends answered at `times` (those still inside the window)."""
        recent = [t for t in times if t > now - self.seconds]
        if recent:
            self.done = deque(sorted([*self.done, *recent]))


class SendGate:
    """Says when a message to a chat may start, and is told when sends start and end.
    Chat ids below zero are groups and channels (Telegram's convention)."""

    def __init__(self, limits: SendLimits) -> None:
        self.limits = limits
        self._overall = _Window.per(limits.overall_per_second, 1.0)
        # pacing: a token bucket of a tenth of a second's sends spreads each second's
        # budget out instead of spending it in one burst
        self._rate = limits.overall_per_second
        self._capacity = max(1.0, limits.overall_per_second / 10)
        self._tokens = self._capacity
        self._filled_at = 0.0
        self._chats: dict[int, _Window] = {}
        self._paused_until = 0.0
        self._in_flight = 0

    def _chat(self, chat_id: int) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            if chat_id < 0:
                window = _Window.per(self.limits.group_per_minute, 60.0)
            else:
                window = _Window.per(self.limits.private_per_second, 1.0)
            self._chats[chat_id] = window
        return window

    def ready_at(self, chat_id: int, now: float, private_limit: bool = True) -> float:
        """The earliest time a message to `chat_id` may start (INF: after an answer).
        Replies to a person's own actions pass `private_limit=False`: they keep the overall
        and group limits but not the one-a-second limit of a private chat."""
        if self._in_flight >= self.limits.max_in_flight:
            return INF
        chat = self._chat(chat_id).ready_at(now) if chat_id < 0 or private_limit else now
        return max(self._paused_until, self._paced_at(now), self._overall.ready_at(now), chat)

    def _paced_at(self, now: float) -> float:
        self._tokens = min(self._capacity, self._tokens + (now - self._filled_at) * self._rate)
        self._filled_at = now
        return now if self._tokens >= 1 else now + (1 - self._tokens) / self._rate

    def chat_ready_at(self, chat_id: int, now: float) -> float:
        """When this chat's own window allows a message (ignoring the overall limit)."""
        return self._chat(chat_id).ready_at(now)

    def start(self, chat_id: int) -> None:
        self._tokens -= 1
        self._in_flight += 1
        self._overall.in_flight += 1
        self._chat(chat_id).in_flight += 1

    def finish(self, chat_id: int, now: float) -> None:
        """The answer to a send arrived (whatever it said)."""
        self._in_flight -= 1
        for window in (self._overall, self._chat(chat_id)):
            window.in_flight -= 1
            window.done.append(now)

    def set_overall_rate(self, rate: float) -> None:
        """Keep to `rate` messages a second overall from now on (this replica's share of the
        token's limit changed); at least one."""
        rate = max(1.0, min(rate, self.limits.overall_per_second))
        self._overall.limit = int(rate)
        self._rate = rate
        self._capacity = max(1.0, rate / 10)
        self._tokens = min(self._tokens, self._capacity)

    @property
    def overall_rate(self) -> float:
        """Messages a second this gate lets through overall, as now set."""
        return self._rate

    def seed(self, sends: Iterable[tuple[int, float]], now: float) -> None:
        """Count messages another process sent with this token — (chat id, when its answer
        came, on this process's monotonic clock) — in the windows they still fill, as if
        this gate had sent them: a new leader does not spend what its predecessor just did."""
        by_chat: dict[int, list[float]] = {}
        for chat_id, at in sends:
            by_chat.setdefault(chat_id, []).append(at)
        self._overall.add_done((at for times in by_chat.values() for at in times), now)
        for chat_id, times in by_chat.items():
            self._chat(chat_id).add_done(times, now)

    def pause(self, until: float) -> None:
        """Send nothing before `until` (Telegram said retry_after)."""
        self._paused_until = max(self._paused_until, until)

    def forget_idle(self, now: float) -> None:
        """Drop the windows of chats with nothing in them (keeps memory flat)."""
        for chat_id in [c for c, w in self._chats.items() if w.ready_at(now) == now and w.idle]:
            del self._chats[chat_id]


def replica_rate(overall: float, share: float, replicas: int, leading: bool) -> float:
    """Messages a second one of `replicas` processes sharing a bot token may send: a
    replica that does not lead sends only replies, at most `share`; the leader (replies,
    jobs and the broadcaster) keeps what the others cannot use. Together they stay within
    `overall` as long as `share * (replicas - 1)` does."""
    if not leading:
        return min(share, overall)
    return max(1.0, overall - share * (replicas - 1))
