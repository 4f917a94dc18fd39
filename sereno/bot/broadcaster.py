"""The broadcaster: drains the outbox into Telegram as fast as the limits allow, no faster.

One task claims due messages (most urgent first), starts each send the moment
:class:`sereno.verify.limits.SendGate` allows it, and records the results in batches. It obeys a
429's ``retry_after`` (nothing is sent until it passes), deactivates subscribers who blocked
the bot, flags channels it can no longer post in (admins are told), and retries what may
not have arrived. It runs on its own :class:`telegram.Bot` (an aiohttp request, no PTB rate
limiter); the gate it uses is shared with the application bot's rate limiter, so replies
and broadcasts together keep one token's limits.

When it starts (this process became the leader) it counts what was sent in the last minute
— by the leader before it — in its gate, so a takeover does not overrun Telegram's
windows. It starts a send only while its :class:`Fence` holds (the leader lease, on this
process's clock), claims only with the lease's epoch, and starts none while it cannot
record what it sent (the database does not answer): a leader cut off from the database
leaves little for its successor to send twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from sereno.bot import messaging
from sereno.bot.alert_render import AlertRenderer
from sereno.bot.i18n import Translator, translator
from sereno.bot.rate_limiter import retry_seconds
from sereno.verify.alerts import Alert, Delivery, DeliveryResult, MessageKind, OutboxMessage, TargetKind
from sereno.verify.audience import ChannelLink
from sereno.verify.limits import INF, SendGate
from sereno.verify.outbox import OutboxService, Outcomes
from sereno.verify.ports import Clock

log = logging.getLogger(__name__)

#: A message whose chat cannot take it for longer than this goes back to the database.
HOLD_SECONDS = 2.0
#: Sends that may not have arrived (timeouts, network errors) are tried this many times.
MAX_ATTEMPTS = 8
#: New sends wait while results older than this are not recorded yet.
RECORD_LAG_SECONDS = 1.0
#: What was sent this long before a start is counted in the gate (the longest window).
SEED_SECONDS = 60.0
#: How long stopping waits for the last results to be recorded (they are kept otherwise).
STOP_FLUSH_SECONDS = 1.0
#: Telegram's answers meaning "this chat cannot be reached" (lower case, matched as substrings).
_UNREACHABLE = (
    "chat not found",
    "bot was kicked",
    "not enough rights",
    "need administrator rights",
    "have no rights",
    "not a member",
    "user is deactivated",
    "chat_write_forbidden",
)


_unwinding: set[asyncio.Future[object]] = set()  # cancelled database calls, still closing their connection


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, object], timeout: float | None = None) -> bool:
    """Await `work` unless `stop` is set (or `timeout` passes) first — a database that does
    not answer must not hold a stopping broadcaster: then it is cancelled, left to unwind
    in the background, and False is returned. Its exception, if it failed, is raised."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    _unwinding.add(task)
    task.add_done_callback(_unwinding.discard)
    return False


class Fence(Protocol):
    """The leader lease, as the broadcaster sees it."""

    def holds(self) -> bool:
        """Whether this process may send as the leader right now."""
        ...

    @property
    def epoch(self) -> int | None:
        """The lease's fencing token (None where there is no lease)."""
        ...


@dataclass(slots=True)
class BroadcastCounters:
    """What the broadcaster did since it started (for metrics and benchmarks)."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    throttled: int = 0  # answers 429


class Broadcaster:
    """Drains the outbox; `run(stop)` until `stop` is set, `wake()` after queueing."""

    def __init__(
        self,
        outbox: OutboxService,
        bot: Bot,
        renderer: AlertRenderer,
        gate: SendGate,
        clock: Clock,
        on_flagged: Callable[[list[ChannelLink]], Awaitable[None]] | None = None,
        flush_seconds: float = 0.1,
        poll_seconds: float = 1.0,
        language_for: Callable[[str], str] = lambda language: language,
        fence: Fence | None = None,
    ) -> None:
        self._outbox = outbox
        self._bot = bot
        self._renderer = renderer
        self._gate = gate
        self._clock = clock
        self._on_flagged = on_flagged
        #: The leader lease; None sends whenever running (one process, no lease).
        self.fence = fence
        self._flush_seconds = flush_seconds
        self._poll_seconds = poll_seconds
        self._language_for = language_for
        self._claim_size = int(max(50, min(2000, 2 * gate.limits.overall_per_second)))
        self._work: list[OutboxMessage] = []
        self._alerts: dict[str, Alert] = {}
        self._posted: dict[tuple[str, int, str], int] = {}  # (alert, chat, language) → message id of the post
        self._outcomes = Outcomes()
        self._recorded_at = time.monotonic()  # when every result so far was recorded
        self._tasks: set[asyncio.Task[None]] = set()
        self._signal = asyncio.Event()  # woken: new messages queued, or a send answered
        self._more = True  # the last claim may have left more behind
        self._next_poll = 0.0
        self.counters = BroadcastCounters()
        self._stop = asyncio.Event()
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the sending connection and run in the background until :meth:`stop`."""
        await self._bot.initialize()
        self._stop.clear()
        self._running = asyncio.create_task(self.run(self._stop), name="broadcaster")

    async def stop(self) -> None:
        """Let in-flight sends finish, record every result, close the connection."""
        if self._running is not None:
            self._stop.set()
            self._signal.set()
            try:
                await self._running
            except Exception:  # a failed run must not stop the leadership loop that calls this
                log.exception("the broadcaster stopped with an error")
            self._running = None
        await self._bot.shutdown()

    def wake(self) -> None:
        """New messages were queued: look at the outbox now."""
        self._more = True
        self._signal.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Recover what a dead broadcaster left, then send until `stop` is set."""
        if not await self._resume(stop):
            return
        flusher = asyncio.create_task(self._flush_forever(stop))
        try:
            while not stop.is_set():
                try:
                    if self._needs_refill() and not await _unless_stopped(stop, self._refill()):
                        break
                except Exception:
                    log.warning("could not claim outbox messages; retrying", exc_info=True)
                    await asyncio.sleep(1.0)
                    continue
                if stop.is_set():
                    break
                wait = self._start_ready()
                self._signal.clear()
                if wait > 0:
                    try:
                        await asyncio.wait_for(self._signal.wait(), timeout=wait)
                    except TimeoutError:
                        pass
        finally:
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=30)
            self._outcomes.results += [DeliveryResult(m.id or 0, Delivery.PENDING) for m in self._work]
            self._work = []
            flusher.cancel()
            if not await _unless_stopped(asyncio.Event(), self._flush(), timeout=STOP_FLUSH_SECONDS):
                log.warning("stopping before the last results were recorded; the next start records them")

    async def _resume(self, stop: asyncio.Event) -> bool:
        """Record the results an earlier run of this process could not (the database was
        down when it stopped), then return what a dead broadcaster left *sending* to the
        queue — in that order, or messages this process already sent would go out again —
        and count what was sent lately in the gate. Retries until the database answers;
        False if `stop` came first."""
        while not stop.is_set():
            if not await _unless_stopped(stop, self._flush()):
                return False
            if not self._outcomes:
                try:
                    if not await _unless_stopped(stop, self._seed_gate()):
                        return False
                    if not await _unless_stopped(stop, self._outbox.recover()):
                        return False
                    return True
                except Exception:
                    log.warning("could not recover the outbox; retrying", exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
        return False

    async def _seed_gate(self) -> None:
        sends = await self._outbox.recent_sends(timedelta(seconds=SEED_SECONDS))
        now = time.monotonic()
        self._gate.seed(((chat_id, now - ago) for chat_id, ago in sends), now)
        log.info("counted %d message(s) sent in the last %.0f s against the limits", len(sends), SEED_SECONDS)

    def _needs_refill(self) -> bool:
        """Whether to claim more: the working set runs low and the outbox may hold more
        (woken, or the last claim was full, or a poll interval passed: retries come due,
        other processes queue)."""
        return len(self._work) <= self._claim_size // 2 and (self._more or time.monotonic() >= self._next_poll)

    async def _refill(self) -> None:
        """Claim more messages (see :meth:`_needs_refill`)."""
        self._next_poll = time.monotonic() + self._poll_seconds
        epoch = self.fence.epoch if self.fence is not None else None
        claimed = await self._outbox.claim(self._claim_size - len(self._work), epoch)
        self._more = len(claimed) == self._claim_size - len(self._work)
        if not claimed:
            return
        self._alerts.update(await self._outbox.alerts(list({m.alert_id for m in claimed})))
        self._work = sorted([*self._work, *claimed], key=lambda m: (m.priority, m.id or 0))

    def _start_ready(self) -> float:
        """Start every send the gate allows now; returns how long to wait before looking again."""
        now = time.monotonic()
        if (self.fence is not None and not self.fence.holds()) or (
            self._outcomes.results and now - self._recorded_at > RECORD_LAG_SECONDS
        ):
            return 0.05  # not the leader any more, or what was sent is not recorded yet
        keep: list[OutboxMessage] = []
        wait = self._poll_seconds if not self._work else 0.05
        for index, message in enumerate(self._work):
            ready = self._gate.ready_at(message.chat_id, now)
            if ready <= now:
                self._gate.start(message.chat_id)
                task = asyncio.create_task(self._send(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                continue
            chat_ready = self._gate.chat_ready_at(message.chat_id, now)
            if chat_ready != INF and chat_ready - now > HOLD_SECONDS:
                retry_at = self._clock.now() + timedelta(seconds=chat_ready - now)
                self._outcomes.results.append(DeliveryResult(message.id or 0, Delivery.PENDING, retry_at=retry_at))
                continue
            keep.append(message)
            if ready != INF:
                wait = min(wait, ready - now)
            if chat_ready <= now:
                # the overall limit (or a pause) holds everything behind this one too
                keep += self._work[index + 1 :]
                break
        self._work = keep
        return max(wait, 0.001)

    async def _send(self, message: OutboxMessage) -> None:
        try:
            result = await self._deliver(message)
        except Exception as exc:  # never lose a message to a bug: it stays pending, logged
            log.exception("sending an outbox message failed unexpectedly")
            result = DeliveryResult(message.id or 0, Delivery.PENDING, retry_at=self._later(message), error=str(exc))
        finally:
            self._gate.finish(message.chat_id, time.monotonic())
            self._signal.set()
        self._note(result)
        self._outcomes.results.append(result)

    def _note(self, result: DeliveryResult) -> None:
        if result.state is Delivery.SENT:
            self.counters.sent += 1
        elif result.state is Delivery.FAILED:
            self.counters.failed += 1
        else:
            self.counters.retried += 1

    def _later(self, message: OutboxMessage) -> datetime:
        return self._clock.now() + timedelta(seconds=min(300, 2**message.attempts))

    async def _deliver(self, message: OutboxMessage) -> DeliveryResult:
        """Send one message; what happened, as a result to record."""
        alert = self._alerts.get(message.alert_id)
        if alert is None:
            return DeliveryResult(message.id or 0, Delivery.FAILED, error="alert gone")
        now = self._clock.now()
        try:
            if message.kind is MessageKind.POST:
                sent = await messaging.send(
                    self._bot, message.chat_id, self._text(message, lambda t: self._renderer.post(t, alert))
                )
                self._posted[(alert.id, message.chat_id, message.language)] = sent
                return DeliveryResult(message.id or 0, Delivery.SENT, sent_message_id=sent)
            post_id, post_state = await self._post(alert.id, message.chat_id, message.language)
            if post_state is Delivery.FAILED or (post_state is None and message.target is TargetKind.CHANNEL):
                return DeliveryResult(message.id or 0, Delivery.FAILED, error="the post was never delivered")
            if post_id is None:  # the post itself is still on its way
                return DeliveryResult(message.id or 0, Delivery.PENDING, retry_at=now + timedelta(seconds=HOLD_SECONDS))
            if message.target is TargetKind.CHANNEL:
                await messaging.edit(
                    self._bot,
                    message.chat_id,
                    post_id,
                    self._text(message, lambda t: self._renderer.message(t, alert, message.kind, now)),
                )
                return DeliveryResult(message.id or 0, Delivery.SENT, sent_message_id=post_id)
            sent = await self._reply(
                message.chat_id, self._text(message, lambda t: self._renderer.reply(t, alert, message.kind, now)), post_id
            )
            return DeliveryResult(message.id or 0, Delivery.SENT, sent_message_id=sent)
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            self._gate.pause(time.monotonic() + seconds)
            self.counters.throttled += 1
            log.warning("Telegram asked to wait %s s; pausing the broadcast", seconds)
            return DeliveryResult(message.id or 0, Delivery.PENDING, retry_at=now + timedelta(seconds=seconds), error="429")
        except (Forbidden, BadRequest) as exc:
            return self._refused(message, exc)
        except NetworkError as exc:  # includes timeouts: it may or may not have arrived
            if message.attempts >= MAX_ATTEMPTS:
                return DeliveryResult(message.id or 0, Delivery.FAILED, error=f"gave up: {exc.message}")
            return DeliveryResult(message.id or 0, Delivery.PENDING, retry_at=self._later(message), error=exc.message)

    def _text(self, message: OutboxMessage, render: Callable[[Translator], str]) -> str:
        """The message in its language, or in each of them ("en+es": one combined channel
        post); a channel with one post per language gets each post in its own."""
        languages = dict.fromkeys(self._language_for(code) for code in message.language.split("+"))
        return self._renderer.combined([render(translator(code)) for code in languages])

    def _refused(self, message: OutboxMessage, exc: TelegramError) -> DeliveryResult:
        """A 403 or 400: the chat is unreachable (subscriber deactivated, channel flagged),
        or this message cannot be sent (recorded as failed with Telegram's words)."""
        text = exc.message.lower()
        if isinstance(exc, Forbidden) or any(marker in text for marker in _UNREACHABLE):
            if message.target is TargetKind.SUBSCRIBER:
                self._outcomes.blocked.add(message.chat_id)
            else:
                self._outcomes.broken[message.chat_id] = exc.message
        return DeliveryResult(message.id or 0, Delivery.FAILED, error=exc.message)

    async def _post(self, alert_id: str, chat_id: int, language: str) -> tuple[int | None, Delivery | None]:
        """The message id of the alert's post to this chat in this language (the one a
        lifecycle message in that language edits or replies to; None while it is on its way)."""
        known = self._posted.get((alert_id, chat_id, language))
        if known is not None:
            return known, Delivery.SENT
        post = await self._outbox.post_of(alert_id, chat_id, language)
        if post is None:
            return None, None
        return post.message_id, post.state

    async def _reply(self, chat_id: int, text: str, reply_to: int) -> int:
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "text": text,
            "reply_parameters": {"message_id": reply_to, "allow_sending_without_reply": True},
        }
        result = await self._bot.do_api_request("sendmessage", api_kwargs=params)
        return int(result["message_id"])

    async def _flush_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self._flush_seconds)
            await self._flush()

    async def _flush(self) -> None:
        """Record the results gathered so far (kept for the next try if the database fails)."""
        taken = time.monotonic()
        if not self._outcomes:
            self._recorded_at = taken
            return
        batch, self._outcomes = self._outcomes, Outcomes()
        try:
            flagged = await self._outbox.record(batch)
        except BaseException as exc:  # kept for the next try, even when cancelled
            batch.results += self._outcomes.results
            batch.blocked |= self._outcomes.blocked
            batch.broken.update(self._outcomes.broken)
            self._outcomes = batch
            if not isinstance(exc, Exception):
                raise
            log.warning("could not record %d outbox results; will retry", len(batch.results), exc_info=True)
            return
        self._recorded_at = taken
        states = [r.state for r in batch.results]
        log.info(
            "outbox: %d sent, %d failed, %d to retry",
            states.count(Delivery.SENT),
            states.count(Delivery.FAILED),
            states.count(Delivery.PENDING),
        )
        if len(self._posted) > 100_000:
            self._posted.clear()
        self._gate.forget_idle(time.monotonic())
        if flagged and self._on_flagged is not None:
            try:
                await self._on_flagged(flagged)
            except Exception:
                log.warning("could not tell admins about a broken channel", exc_info=True)
