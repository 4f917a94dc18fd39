"""The HTTP side of `sereno run --webhook` (aiohttp): Telegram's webhook, health, metrics.

`POST /telegram` takes updates only with the right `X-Telegram-Bot-Api-Secret-Token`
(anything else: 403, nothing processed). A body that is not a JSON object with an integer
`update_id` gets 400, one over MAX_BODY bytes 413. An update is recorded in the inbox
(`sereno.storage.update_inbox`) before it is answered 200 and queued for the Application, so a
crash loses none; an update id recorded before (by any replica) is answered 200 and
dropped; with the database away the answer is 503 and Telegram delivers it again later.
A middleware times every webhook request and counts those answered with an error.
`GET /healthz` says whether the database answers, the scheduler
runs (on the leader), how many outbox messages wait and how long the oldest has waited
(the same figures on every replica). It answers 503 with a `reason` when unhealthy
(database, scheduler), and on the leader — whose broadcaster drains the outbox — also when
that wait passes `max_pending_seconds` ("degraded"); a follower reports the stuck outbox
but stays 200, since restarting it would not drain anything. `GET /metrics` is the
Prometheus exposition.

Behind a reverse proxy the deployment trusts (`SERENO_TRUST_FORWARDED_HEADERS`), each
request's scheme, host and client address are the ones the proxy reports in
`X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For` (aiohttp-remotes'
`XForwardedRelaxed`: the value the nearest proxy added), so the links the public feeds write
say `https://` and the public host name. Without that setting those headers are ignored: any
client could send them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from aiohttp_remotes import XForwardedRelaxed
from telegram import Update
from telegram.ext import Application

from sereno.bot.leadership import Leadership
from sereno.bot.metrics import Metrics
from sereno.verify.outbox import OutboxService

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_TIMEOUT = 2.0
#: The largest webhook body taken (Telegram's updates are a few kilobytes).
MAX_BODY = 1024 * 1024


class Inbox(Protocol):
    """Where webhook updates are recorded before they are answered
    (`sereno.storage.update_inbox.UpdateInbox`)."""

    async def accept(self, update_id: int, body: bytes) -> bool:
        """Record the update; False when it was recorded before (by any replica)."""
        ...


@dataclass(frozen=True, slots=True)
class WebContext:
    """What the HTTP handlers need from the running bot; `queue_depth` counts the open
    incidents (`sereno.storage.health.open_incidents`)."""

    application: Application
    queue_depth: Callable[[], Awaitable[int]]
    outbox: OutboxService
    leadership: Leadership
    metrics: Metrics
    secret: str
    #: The leader's /healthz degrades once an outbox message has waited longer (seconds).
    max_pending_seconds: float = 300.0
    inbox: Inbox | None = None


def web_app(
    ctx: WebContext, extra: list[web.RouteDef] | None = None, *, trust_forwarded_headers: bool = False
) -> web.Application:
    """The aiohttp application: webhook, /healthz, /metrics, and `extra` routes; with
    `trust_forwarded_headers`, requests as the reverse proxy in front saw them."""
    middlewares = [XForwardedRelaxed().middleware] if trust_forwarded_headers else []
    app = web.Application(client_max_size=MAX_BODY, middlewares=[*middlewares, _instrument_webhook(ctx.metrics)])

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not ctx.secret or not hmac.compare_digest(given.encode(), ctx.secret.encode()):
            return web.Response(status=403, text="forbidden")
        body = await request.read()  # over MAX_BODY: aiohttp answers 413
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or type(data.get("update_id")) is not int:
                raise ValueError("not an update")
            update = Update.de_json(data, ctx.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400, text="not an update")
        if ctx.inbox is not None:
            try:
                if not await ctx.inbox.accept(update.update_id, body):
                    return web.Response(text="ok")  # delivered again: handled, or being handled
            except Exception as exc:  # not recorded: Telegram delivers it again later
                log.warning("webhook: the update could not be recorded (%s)", type(exc).__name__)
                return web.Response(status=503, text="try again")
        await ctx.application.update_queue.put(update)
        return web.Response(text="ok")

    async def healthz(_: web.Request) -> web.Response:
        database, backlog, waited = await _database_health(ctx)
        scheduler = _scheduler_health(ctx)
        stuck = waited is not None and waited > ctx.max_pending_seconds
        broken = [
            reason
            for failing, reason in (
                (database != "ok", "the database does not answer"),
                (scheduler not in ("ok", "follower"), "the scheduler is not running"),
            )
            if failing
        ]
        slow = (
            [f"the oldest outbox message has waited {waited or 0:.0f} s (more than {ctx.max_pending_seconds:g} s)"]
            if stuck and ctx.leadership.is_leader
            else []
        )
        reasons = broken + slow
        status = "unhealthy" if broken else "degraded" if slow else "ok"
        body: dict[str, object] = {
            "status": status,
            "database": database,
            "scheduler": scheduler,
            "leader": ctx.leadership.is_leader,
            "outbox_backlog": backlog,
            "oldest_pending_seconds": None if waited is None else round(waited, 1),
            "outbox": "stuck" if stuck else "ok",
        }
        if reasons:
            body["reason"] = "; ".join(reasons)
        return web.json_response(body, status=200 if not reasons else 503)

    async def metrics(_: web.Request) -> web.Response:
        exposition = await ctx.metrics.render(_refresh_gauges(ctx))
        return web.Response(body=exposition, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    app.add_routes([web.post(WEBHOOK_PATH, webhook), web.get("/healthz", healthz), web.get("/metrics", metrics), *(extra or [])])
    return app


async def _database_health(ctx: WebContext) -> tuple[str, int | None, float | None]:
    """ "ok" or "unreachable", the outbox backlog and the oldest waiting message's age (seconds)."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            waited = await ctx.outbox.oldest_wait()
            return "ok", await ctx.outbox.backlog(), None if waited is None else waited.total_seconds()
    except Exception as exc:  # any failure to answer is "unreachable"; the cause goes to the log
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return "unreachable", None, None


def _scheduler_health(ctx: WebContext) -> str:
    if not ctx.leadership.is_leader:
        return "follower"
    queue = ctx.application.job_queue
    return "ok" if queue is not None and queue.scheduler.running else "stopped"


def _refresh_gauges(ctx: WebContext) -> Callable[[Metrics], Awaitable[None]]:
    async def refresh(metrics: Metrics) -> None:
        metrics.leader.set(1 if ctx.leadership.is_leader else 0)
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                metrics.queue_depth.set(await ctx.queue_depth())
                metrics.outbox_backlog.set(await ctx.outbox.backlog())
                waited = await ctx.outbox.oldest_wait()
                metrics.oldest_pending.set(0 if waited is None else waited.total_seconds())
        except Exception:
            log.warning("metrics: the database does not answer; gauges keep their last values")

    return refresh


def _instrument_webhook(metrics: Metrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware timing each request to the webhook route and counting those answered
    with a status of 400 or more (an exception counts as 500); other routes pass untouched."""

    @web.middleware
    async def instrument(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.match_info.route.resource is None or request.match_info.route.resource.canonical != WEBHOOK_PATH:
            return await handler(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.webhook_seconds.observe(time.perf_counter() - started)
            if status >= 400:
                metrics.webhook_errors.labels(str(status)).inc()

    return instrument


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving `app`; the caller cleans the returned runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
