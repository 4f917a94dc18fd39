"""Checks every update passes before any feature sees it: duplicates and floods."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter
from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, ContextTypes, TypeHandler

from sereno.bot import messaging
from sereno.bot.context import translator_for
from sereno.bot.metrics import Metrics

#: Where the latest update ids are kept in the bot's (persisted) data, so that an update
#: delivered again after a restart is still recognised (long polling; behind the webhook
#: the inbox, `sereno.storage.update_inbox`, recognises it first, whichever replica it reaches).
SEEN_KEY = "recent_updates"
#: How many of them survive a restart: Telegram redelivers what was not confirmed, at
#: most a few batches of 100 (long polling) or the webhook's pending updates.
PERSISTED_SEEN = 1_000


class UpdateGuards:
    """Drops an update seen before (Telegram delivers at least once), edits and channel
    posts (but /linkchannel), button presses without their message, and throttles a person
    who sends too many updates too fast: they get one polite notice per flood, and everyone
    else is unaffected.

    The throttle judges each update as it arrives (:meth:`admit`, asked by the update
    processor before the update waits for its chat's turn), so the rest of a flood is
    dropped at once, at the cost of a dictionary look-up: no handler runs, no context is
    built, no update id is remembered or persisted. The handler (:meth:`check`) does the
    rest, and sends the notice."""

    def __init__(self, max_updates: int, window_seconds: float, default_language: str, remember: int = 50_000) -> None:
        self._max = max_updates
        self._window = window_seconds
        self._default_language = default_language
        self._remember = remember
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._recent: dict[int, deque[float]] = {}
        self._warned: set[int] = set()
        self._notify: set[int] = set()  # ids of the updates that carry a flood's notice
        self._restored = False

    def seen_before(self, update_id: int, bot_data: dict[str, Any] | None = None) -> bool:
        """Whether this update id was already processed; remembers it if not. With
        `bot_data` (persisted), the latest ids are kept there too and, the first time,
        those a previous run (or another replica) handled are remembered."""
        if bot_data is not None and not self._restored:
            self._restored = True
            for earlier in bot_data.get(SEEN_KEY) or ():
                self._seen.setdefault(earlier, None)
        if update_id in self._seen:
            return True
        self._seen[update_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        if bot_data is not None:
            recent = [*(bot_data.get(SEEN_KEY) or ())[-(PERSISTED_SEEN - 1) :], update_id]
            bot_data[SEEN_KEY] = recent
        return False

    def over_limit(self, user_id: int, now: float) -> bool:
        """Whether this person exceeds the allowed updates in the sliding window."""
        recent = self._recent.setdefault(user_id, deque())
        while recent and now - recent[0] > self._window:
            recent.popleft()
        if not recent:
            self._warned.discard(user_id)
        if len(recent) >= self._max:
            return True
        recent.append(now)
        if len(self._recent) > self._remember:
            self._recent = {u: d for u, d in self._recent.items() if d and now - d[-1] <= self._window}
        return False

    def admit(self, update: object) -> bool:
        """Counts a person's update as it arrives; False drops it untouched: they are over
        the limit and their notice is already on its way (the first update over the limit
        is admitted to carry it). An update remembered as handled is admitted uncounted (the
        handler drops it), so a redelivered batch does not throttle anyone."""
        if not isinstance(update, Update) or update.update_id in self._seen:
            return True
        user = update.effective_user
        if user is None or not self.over_limit(user.id, time.monotonic()):
            return True
        if user.id in self._warned:
            return False
        self._warned.add(user.id)
        self._notify.add(update.update_id)
        return True

    async def check(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.seen_before(update.update_id, context.bot_data):
            raise ApplicationHandlerStop
        if update.update_id in self._notify:
            self._notify.discard(update.update_id)
            await self._tell_flooding(update, context)
            raise ApplicationHandlerStop
        if update.edited_message or update.edited_channel_post:
            raise ApplicationHandlerStop
        if update.channel_post and not (update.channel_post.text or "").startswith("/linkchannel"):
            raise ApplicationHandlerStop
        if update.callback_query and update.callback_query.message is None:
            # a button on an inline-mode message: Sereno never sends one, and has no chat to answer in
            await update.callback_query.answer()
            raise ApplicationHandlerStop

    async def _tell_flooding(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = translator_for(update, context, self._default_language)
        if update.callback_query:
            await update.callback_query.answer()
        if update.effective_chat is not None:
            await messaging.send(
                context.bot,
                update.effective_chat.id,
                t("You are sending messages very fast, so I am pausing for a few seconds. Please wait a moment, then continue."),
            )

    def handler(self) -> BaseHandler:
        return TypeHandler(Update, self.check)


UPDATE_KINDS = ("message", "callback_query", "edited_message", "channel_post", "edited_channel_post", "my_chat_member")


def arrival(metrics: Metrics, guards: UpdateGuards) -> Callable[[object], bool]:
    """What the update processor asks of each update as it arrives: a Telegram update is
    counted by kind (a flood's included), then admitted or dropped by the flood guard."""

    counters: dict[str, Counter] = {}  # one per kind seen: `labels()` is slow for every update of a flood

    def admit(update: object) -> bool:
        if isinstance(update, Update):
            kind = next((k for k in UPDATE_KINDS if getattr(update, k, None) is not None), "other")
            (counters.get(kind) or counters.setdefault(kind, metrics.updates.labels(kind))).inc()
        return guards.admit(update)

    return admit
