"""Updates accepted by a replica that died before handling them are handled by another:
every replica looks for them when it starts and then every `interval` seconds (see
`sereno.storage.update_inbox`: an update is someone else's to handle only once its lease ran out)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Protocol

from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)


class AbandonedUpdates(Protocol):
    """The webhook's inbox (`sereno.storage.update_inbox.UpdateInbox`)."""

    async def claim_abandoned(self) -> list[bytes]:
        """The bodies of updates accepted and left unhandled, claimed for this replica."""
        ...


async def replay_abandoned(inbox: AbandonedUpdates, application: Application, interval: float, stop: asyncio.Event) -> None:
    """Queue the abandoned updates for `application` until `stop` is set."""
    while not stop.is_set():
        try:
            bodies = await inbox.claim_abandoned()
        except Exception as exc:  # the database is away: look again later
            log.warning("replaying accepted updates: the database does not answer (%s)", type(exc).__name__)
            bodies = []
        if bodies:
            log.info("handling %d update(s) accepted by a replica that stopped before handling them", len(bodies))
        for body in bodies:
            await application.update_queue.put(Update.de_json(json.loads(body), application.bot))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
