"""Which replica runs the scheduled jobs and the broadcaster.

On PostgreSQL several replicas may serve webhooks, but Telegram's rate budget is per bot
token and jobs must run once: only the holder of the lease row (`leader_lease`) leads. The
lease runs out `lease_seconds` after its last renewal, by the database's clock (`now()`,
so the replicas' clocks do not matter); the leader renews it every `beat_seconds`, and a
replica takes it only once it has run out — or at once when the leader gives it up on a
clean stop (it says so with NOTIFY, so a rolling restart hands over in milliseconds).
Each taking adds one to the lease's `epoch`, the fencing token the broadcaster's claims
carry: a deposed leader's claim finds nothing.

A leader stops leading as soon as a renewal fails or does not answer within
`renew_timeout` (a network that silently drops its packets), and in any case once its
lease may be about to run out: `lease_seconds - margin_seconds` after it sent its last
confirmed renewal, on its own monotonic clock. So it has stopped sending well before
anyone else may start. Taking over a lease that ran out also ends every PostgreSQL
session of the process that held it (found by `application_name`), so a replica cut off
in the middle of a transaction holds no row locks that would block the others.

The queries are `sereno.storage.leader_lease`'s; this module keeps the timing. On SQLite —
one process by nature, no lease — this process always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

#: How long a lease lasts after its last renewal (database clock).
LEASE_SECONDS = 8.0
#: How often the leader renews and the others look at the lease.
BEAT_SECONDS = 1.0
#: A renewal not confirmed within this time counts as failed: the leader steps down.
RENEW_TIMEOUT_SECONDS = 2.0
#: The leader steps down this long before its lease could run out (its own clock).
MARGIN_SECONDS = 3.0
#: What a lease query that fails raises: the database refused or dropped it (an OSError,
#: see `sereno.storage.leader_lease.LeaseUnreachable`) or it did not answer in time.
_UNREACHABLE = (OSError, TimeoutError)


class Taken(Protocol):
    """The lease, just taken: its fencing token, the holder it had before (None: nobody
    else), and how many replicas look at it."""

    @property
    def epoch(self) -> int: ...
    @property
    def previous(self) -> str | None: ...
    @property
    def replicas(self) -> int: ...


class Lease(Protocol):
    """The lease row on the shared database (`sereno.storage.leader_lease.LeaderLease`)."""

    holder: str
    #: Set when a holder gives the lease up (so the others look at once).
    given_up: asyncio.Event

    async def acquire(self, lease_seconds: float) -> Taken | None: ...
    async def renew(self, epoch: int | None, lease_seconds: float) -> int | None: ...
    async def release(self, epoch: int | None) -> None: ...
    async def end_sessions_of(self, previous: str) -> tuple[str, int]: ...
    def close(self) -> None: ...


class Leadership:
    """Runs `on_gain` when this process becomes the leader and `on_loss` when it stops being
    one; `on_beat` after every look at the lease (the replica count or the role may have
    changed). Without a `lease` (SQLite) this process leads from its first look on."""

    def __init__(
        self,
        lease: Lease | None,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
        *,
        on_beat: Callable[[], None] = lambda: None,
        lease_seconds: float = LEASE_SECONDS,
        beat_seconds: float = BEAT_SECONDS,
        renew_timeout: float = RENEW_TIMEOUT_SECONDS,
        margin_seconds: float = MARGIN_SECONDS,
    ) -> None:
        self._lease_row = lease
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._on_beat = on_beat
        self._lease = lease_seconds
        self._beat_seconds = beat_seconds
        self._renew_timeout = renew_timeout
        self._margin = margin_seconds
        self._deadline = 0.0  # monotonic: when this leader stops at the latest
        self._wake = lease.given_up if lease is not None else asyncio.Event()
        self.is_leader = False
        #: The lease's fencing token while this process leads (None on SQLite).
        self.epoch: int | None = None
        #: Replicas counted at the last renewal (leadership sessions on the database).
        self.replicas = 1
        #: Set once the first attempt to lead has been made (won or not).
        self.tried = asyncio.Event()

    @property
    def holder(self) -> str | None:
        """This process's name in the lease (None without one)."""
        return self._lease_row.holder if self._lease_row is not None else None

    def holds(self) -> bool:
        """Whether this process may act as the leader right now: it leads and, by its own
        monotonic clock, its lease cannot have run out yet."""
        return self.is_leader and (self._lease_row is None or time.monotonic() < self._deadline)

    async def run(self, stop: asyncio.Event) -> None:
        """Try to lead until `stop` is set; step down (running `on_loss`) and give the
        lease up on the way out."""
        try:
            while not stop.is_set():
                await self._step()
                self.tried.set()
                wait = self._beat_seconds
                if self.is_leader and self._lease_row is not None:
                    wait = max(0.0, min(wait, self._deadline - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop.wait(), self._wake.wait()), timeout=wait)
                self._wake.clear()  # (a lease given up while this replica looked wakes it at once)
        finally:
            await self._step_down(release=True)
            if self._lease_row is not None:
                self._lease_row.close()

    async def _step(self) -> None:
        lease = self._lease_row
        if lease is None:
            if not self.is_leader:
                await self._become_leader()
            return
        if self.is_leader and time.monotonic() >= self._deadline:
            log.warning("the lease could not be renewed in time; stepping down")
            await self._step_down()
            return
        try:
            sent = time.monotonic()
            if self.is_leader:
                timeout = min(self._renew_timeout, self._deadline - sent)
                replicas = await asyncio.wait_for(lease.renew(self.epoch, self._lease), timeout=timeout)
                if replicas is None:
                    log.warning("another replica holds the lease now; stepping down")
                    await self._step_down()
                    return
                self._deadline = sent + self._lease - self._margin
                self.replicas = replicas
            else:
                taken = await asyncio.wait_for(lease.acquire(self._lease), timeout=self._renew_timeout)
                if taken is not None:
                    self._deadline = sent + self._lease - self._margin
                    self.replicas = taken.replicas
                    self.epoch = taken.epoch
                    if taken.previous is not None:
                        await self._end_sessions_of(lease, taken.previous)
                    await self._become_leader()
        except _UNREACHABLE:
            log.warning("the database is unreachable for leader election", exc_info=True)
            lease.close()
            await self._step_down()
        self._on_beat()

    async def _end_sessions_of(self, lease: Lease, previous: str) -> None:
        """End the sessions of the process whose lease ran out (its leadership session and
        its pool's), so none of its transactions keeps rows locked."""
        process, ended = await asyncio.wait_for(lease.end_sessions_of(previous), timeout=self._renew_timeout)
        if ended:
            log.warning("ended %d database session(s) of %s, whose lease ran out", ended, process)

    async def _become_leader(self) -> None:
        self.is_leader = True
        log.info("this replica now leads: it runs the jobs and the broadcaster (epoch %s)", self.epoch)
        self._on_beat()
        await self._on_gain()

    async def _step_down(self, release: bool = False) -> None:
        if not self.is_leader:
            return
        self.is_leader = False
        await self._on_loss()
        log.info("this replica no longer leads (epoch %s)", self.epoch)
        if release and self._lease_row is not None:
            try:
                await asyncio.wait_for(self._lease_row.release(self.epoch), timeout=self._renew_timeout)
            except _UNREACHABLE:
                log.warning("could not give the lease up; it runs out by itself", exc_info=True)
        self.epoch = None
        self._on_beat()


async def _first(*waits: Awaitable[object]) -> None:
    """Return when the first of `waits` finishes (the others are cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
