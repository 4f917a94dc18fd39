"""How updates reach the bot: the ``getUpdates`` queue and long poll, or webhook POSTs.

:class:`UpdateDelivery` numbers the updates a test pushes, queues them for
``getUpdates`` (offsets confirm them, ``allowed_updates`` filters them, a newer poll
terminates an older one with 409, redelivered updates come first), and implements
``setWebhook``/``deleteWebhook``/``getWebhookInfo``. A registered webhook is only
recorded (``getUpdates`` then answers 409, like Telegram); after
:meth:`UpdateDelivery.deliver_to` pushed updates are POSTed to a URL instead, with the
secret token header and Telegram's retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Mapping
from typing import Any, Final

import aiohttp

from sereno.double.errors import ApiError, bad_request
from sereno.double.files import UploadedFile
from sereno.double.params import as_float, as_int
from sereno.double.records import Changes

__all__ = ["UpdateDelivery"]

JSONDict = dict[str, Any]

# Update types Telegram delivers when ``allowed_updates`` was never specified.
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


class UpdateDelivery:
    """The updates pushed for one bot and their delivery by long poll or webhook.

    ``changes`` is the double's change sequence: pushing an update advances it (waking a
    waiting long poll), and a long poll waits on it.
    """

    def __init__(self, changes: Changes) -> None:
        self._changes = changes
        #: Set while the server shuts down: long polls answer an empty result.
        self.closing: bool = False
        #: HTTP statuses of the webhook POSTs made after :meth:`deliver_to` (0: no answer).
        self.webhook_answers: list[int] = []

        self._updates: dict[int, JSONDict] = {}
        self._pending: list[int] = []
        self._redeliver: list[int] = []
        self._redelivered_out: set[int] = set()
        self._next_update_id = 100_000_001
        self._confirmed_offset = 0
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._active_polls = 0

        self._webhook: JSONDict | None = None
        self._delivery_url: str | None = None
        self._delivery_secret: str | None = None
        self._delivery_session: aiohttp.ClientSession | None = None
        self._deliveries: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ test side

    def push(self, body: JSONDict) -> int:
        """Give ``body`` (an update without ``update_id``) the next id and deliver it:
        POST it to the webhook set by :meth:`deliver_to`, or queue it for getUpdates."""
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates[update_id] = {"update_id": update_id, **body}
        if self._delivery_url is not None:
            task = asyncio.get_running_loop().create_task(self._post(self._updates[update_id]))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            self._pending.append(update_id)
        self._changes.touch()
        return update_id

    def deliver_to(self, url: str | None, secret: str | None) -> None:
        """POST updates pushed from now on to ``url`` (``None``: queue them again)."""
        self._delivery_url = url
        self._delivery_secret = secret

    async def _post(self, update: JSONDict) -> None:
        if self._delivery_session is None:
            self._delivery_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        secret = self._delivery_secret or (self._webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": str(secret)} if secret else {}
        assert self._delivery_url is not None
        for attempt in range(5):
            try:
                async with self._delivery_session.post(self._delivery_url, json=update, headers=headers) as response:
                    self.webhook_answers.append(response.status)
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                self.webhook_answers.append(0)
            await asyncio.sleep(0.1 * (attempt + 1))

    def redeliver(self, update_id: int) -> None:
        """Hand ``update_id`` out again, first in the next batch (``KeyError`` if unknown)."""
        if update_id not in self._updates:
            raise KeyError(f"unknown update_id {update_id}")
        if update_id not in self._redeliver:
            self._redeliver.append(update_id)
        self._changes.touch()

    def get(self, update_id: int) -> JSONDict:
        """A copy of the pushed update ``update_id``; raises ``KeyError`` if unknown."""
        return copy.deepcopy(self._updates[update_id])

    @property
    def pending_count(self) -> int:
        """Updates pushed but not yet confirmed by a ``getUpdates`` offset."""
        return len(self._pending) + len(self._redeliver)

    @property
    def active_polls(self) -> int:
        """``getUpdates`` requests currently being served."""
        return self._active_polls

    def is_confirmed(self, update_id: int) -> bool:
        """Whether the bot polled with an offset past ``update_id`` (and it is not redelivered)."""
        return update_id < self._confirmed_offset and update_id not in self._redeliver

    @property
    def webhook(self) -> JSONDict | None:
        """A copy of the parameters of the active ``setWebhook``, or ``None``."""
        return copy.deepcopy(self._webhook)

    def open(self) -> None:
        """Serve long polls again (the server started)."""
        self.closing = False

    async def close(self) -> None:
        """End pending long polls, wait for webhook POSTs under way, close their session."""
        self.closing = True
        self._changes.touch()
        if self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._delivery_session is not None:
            await self._delivery_session.close()
            self._delivery_session = None

    # ------------------------------------------------------------------ getUpdates

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u >= offset]
            self._confirmed_offset = max(self._confirmed_offset, offset)
        elif offset < 0:
            keep = self._pending[offset:]
            dropped = [u for u in self._pending if u not in keep]
            if dropped:
                self._confirmed_offset = max(self._confirmed_offset, max(dropped) + 1)
            self._pending = keep

    def _allowed(self, update_id: int) -> bool:
        kind = _update_type(self._updates[update_id])
        if self._allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def _collect(self, limit: int) -> list[int]:
        self._pending = [u for u in self._pending if self._allowed(u)]
        pending = set(self._pending)
        batch: list[int] = []
        for update_id in self._redeliver:
            if len(batch) >= limit:
                break
            if update_id in pending or update_id in self._redelivered_out:
                continue
            batch.append(update_id)
        for update_id in sorted(self._pending):
            if len(batch) >= limit:
                break
            batch.append(update_id)
        return batch

    async def get_updates(self, params: JSONDict) -> list[JSONDict]:
        """getUpdates long poll: answer as soon as an update is available or ``timeout`` elapsed."""
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset = as_int(params.get("offset", 0) or 0, "offset")
        limit = min(100, max(1, as_int(params.get("limit", 100) or 100, "limit")))
        timeout = max(0.0, as_float(params.get("timeout", 0) or 0, "timeout"))
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        self._confirm(offset)
        # Redelivered updates handed out by the previous poll are confirmed by this one.
        self._redeliver = [u for u in self._redeliver if u not in self._redelivered_out]
        self._redelivered_out.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._poll_generation += 1
        generation = self._poll_generation
        self._active_polls += 1
        self._changes.touch()  # wakes (and so terminates) an older poll, and wait_until() callers
        try:
            while True:
                event = self._changes.event
                if self.closing:
                    return []
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    )
                batch = self._collect(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self._active_polls -= 1
        for update_id in batch:
            if update_id in self._redeliver:
                self._redelivered_out.add(update_id)
        return [copy.deepcopy(self._updates[u]) for u in batch]

    # ------------------------------------------------------------------ webhooks

    async def set_webhook(self, params: JSONDict) -> bool:
        """setWebhook: record the webhook (HTTPS only); an empty url removes it."""
        url = params.get("url") or ""
        if params.get("drop_pending_updates"):
            self._drop_pending()
        if not url:
            self._webhook = None
            return True
        if not str(url).startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        return True

    def _drop_pending(self) -> None:
        """Confirm every queued update without handing it out (``drop_pending_updates``)."""
        if self._pending:
            self._confirmed_offset = max(self._confirmed_offset, max(self._pending) + 1)
        self._pending.clear()
        self._redeliver.clear()
        self._redelivered_out.clear()

    async def delete_webhook(self, params: JSONDict) -> bool:
        """deleteWebhook: forget the webhook, dropping pending updates when asked."""
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self._webhook = None
        return True

    async def get_webhook_info(self, params: JSONDict) -> JSONDict:
        """getWebhookInfo: the active webhook's url and settings, and the pending count."""
        info: JSONDict = {
            "url": (self._webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.pending_count,
        }
        if self._webhook is not None:
            info["max_connections"] = int(self._webhook.get("max_connections") or 40)
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = list(self._webhook["allowed_updates"])
            if self._webhook.get("ip_address"):
                info["ip_address"] = self._webhook["ip_address"]
        return info
