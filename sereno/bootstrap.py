"""The composition root: settings → storage → services → the PTB Application.

This is the one module that knows every layer: it opens the database (`sereno.storage`),
builds the domain services (`sereno.verify`) on it, and hands them to the Telegram side
(`sereno.bot`) and the HTTP side (`sereno.web`), which never import storage themselves.
The command line (`sereno.cli`) and the demo (`sereno.demo`) start everything from here.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder
from telegram.request import BaseRequest

from sereno import logs
from sereno.bot.aiohttp_request import AiohttpRequest
from sereno.bot.alert_desk import AlertDeskHandlers
from sereno.bot.alert_render import AlertRenderer
from sereno.bot.broadcaster import Broadcaster
from sereno.bot.channels import RIGHTS, ChannelHandlers, missing_rights
from sereno.bot.concurrency import PerChatUpdateProcessor
from sereno.bot.desk import DeskHandlers
from sereno.bot.desk_stats import StatsHandlers
from sereno.bot.dispatch import DispatchHandlers
from sereno.bot.drills import DrillHandlers
from sereno.bot.errors import make_error_handler
from sereno.bot.export_handlers import ExportHandlers
from sereno.bot.geocoding import GeopyGeocoder, geocoder_from
from sereno.bot.guards import UpdateGuards, arrival
from sereno.bot.i18n import SUPPORTED_LANGUAGES as SUPPORTED_LANGUAGES  # (re-exported for the command line)
from sereno.bot.i18n import CatalogStatus as CatalogStatus  # (re-exported for the command line)
from sereno.bot.i18n import catalog_status as catalog_status
from sereno.bot.i18n import reviewed, translator
from sereno.bot.intake import IntakeConversation
from sereno.bot.jobs import schedule_jobs, sweep_now
from sereno.bot.leadership import RENEW_TIMEOUT_SECONDS, Leadership
from sereno.bot.menu import Menu, publish_commands
from sereno.bot.metrics import Metrics
from sereno.bot.notifier import Notifier
from sereno.bot.persistence import DatabasePersistence, PersonState, StateWriter
from sereno.bot.rate_limiter import GateRateLimiter
from sereno.bot.refusals import answer_refusals
from sereno.bot.replay import replay_abandoned
from sereno.bot.services import Services
from sereno.bot.stats_render import stats_text
from sereno.bot.subscribe import SubscribeHandlers
from sereno.bot.surge import SurgeHandlers
from sereno.bot.watchdog import keep_alive, notify, watchdog_interval
from sereno.config import MissingSetting, Settings
from sereno.storage import admin as storage_admin
from sereno.storage.conversation_store import ConversationStore
from sereno.storage.engine import answers, is_sqlite, make_engine
from sereno.storage.health import open_incidents
from sereno.storage.images import PillowImageSanitizer
from sereno.storage.leader_lease import leader_lease
from sereno.storage.migrate import Migration, MigrationRefused, current_revision, head_revision, upgrade
from sereno.storage.scratch import scratch_database as scratch_database  # (re-exported for the demo)
from sereno.storage.sealing import SealingKeyMissing
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.storage.update_inbox import UpdateInbox
from sereno.verify.alerts import AlertPolicy
from sereno.verify.audience import ChannelLink
from sereno.verify.channels import ChannelService
from sereno.verify.clock import SystemClock
from sereno.verify.desk import DeskService
from sereno.verify.dispatch_service import DispatchService
from sereno.verify.export_service import ExportService
from sereno.verify.exports import FeedSource
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.limits import SendGate, replica_rate
from sereno.verify.members import Role
from sereno.verify.outbox import OutboxService
from sereno.verify.places import Gazetteer, Neighborhood, PlaceResolver
from sereno.verify.ports import Clock, UnitOfWorkFactory
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.publishing import AlertService, Publisher
from sereno.verify.retention import RetentionService
from sereno.verify.roster import RosterService
from sereno.verify.stats import DeskStats, StatsService
from sereno.verify.subscriptions import SubscriptionService
from sereno.verify.surge_service import SurgeService
from sereno.verify.training import TrainingService
from sereno.verify.trust_service import TrustService
from sereno.web.feeds import feed_routes
from sereno.web.public_map import load_from, map_routes
from sereno.web.server import HEALTH_TIMEOUT, WebContext, serve, web_app

log = logging.getLogger("sereno")


# ── settings ─────────────────────────────────────────────────────────────────────
def check_languages(settings: Settings) -> None:
    """The configured languages must have a translation catalog (the catalogs are found by
    `sereno.bot.i18n`); else :class:`MissingSetting` names the variable and the choices."""
    choices = ", ".join(SUPPORTED_LANGUAGES)
    if settings.default_language not in SUPPORTED_LANGUAGES:
        raise MissingSetting(
            f"SERENO_DEFAULT_LANGUAGE is invalid: {settings.default_language!r} has no translation; use one of {choices}."
        )
    unknown = [code for code in settings.channel_language_codes if code not in SUPPORTED_LANGUAGES]
    if unknown:
        raise MissingSetting(f"SERENO_CHANNEL_LANGUAGES is invalid: {unknown[0]!r} has no translation; use one of {choices}.")


def load_settings() -> Settings:
    """The deployment's settings (environment and `.env`), checked: an invalid value, or a
    language without a catalog, raises :class:`MissingSetting` naming the variable. Their
    secrets are redacted from the logs and the error line from now on."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SERENO_" + "_".join(str(p) for p in first["loc"]).upper()
        raise MissingSetting(f"{name} is invalid: {first['msg']}") from None
    logs.redact(settings.secret_values())
    check_languages(settings)
    return settings


def alert_policy(settings: Settings) -> AlertPolicy:
    """The configured alert rules. An alert goes out in its reader's language, unless the
    deployment only sends reviewed languages and theirs is not (then the default, or
    English when the default is not reviewed either); a channel's per-language posts follow
    the same rule, each language once."""
    policy = settings.alert_policy
    if settings.alert_languages == "all":
        return policy
    fallback = settings.default_language if reviewed(settings.default_language) else "en"
    return replace(policy, language_for=lambda language: language if reviewed(language) else fallback)


# ── the running bot ───────────────────────────────────────────────────────────────
@dataclass(slots=True)
class Runtime:
    """Everything a running bot owns, closed by :func:`close_runtime`."""

    application: Application
    engine: AsyncEngine
    services: Services
    geocoder: GeopyGeocoder | None
    broadcaster: Broadcaster
    leadership: Leadership
    people: PersonState
    inbox: UpdateInbox
    #: Sends what the services' results say to tell whom (as the handlers and jobs do).
    notifier: Notifier


async def prepare_database(settings: Settings, engine: AsyncEngine) -> None:
    """Migrate a SQLite database; require an up-to-date PostgreSQL one (`sereno migrate`)."""
    if is_sqlite(settings.database_url):
        await upgrade(engine, hmac_key=settings.require_hmac_key())
        return
    if await current_revision(engine) != head_revision():
        raise MissingSetting("the database schema is not up to date: run `sereno migrate` first.")


async def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    limit_sends: bool = True,
    webhook: bool = False,
) -> Runtime:
    """Open the database, load the neighborhoods and build the Application (not started),
    then freeze the heap built so far (see :func:`freeze_startup_heap`).
    `limit_sends=False` drops the send gate from the application bot (only for measuring
    processing cost against an offline request, where no Telegram limit applies);
    `webhook`: the updates come through the webhook's inbox (and are marked handled there)."""
    check_languages(settings)
    token = settings.require_token()
    key = settings.require_hmac_key()
    logs.quiet()
    resources = settings.load_resources()
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    try:
        await prepare_database(settings, engine)
        uow = SqlUnitOfWorkFactory(engine, key)
        async with uow() as tx:
            neighborhoods = await tx.neighborhoods.all()
    except BaseException:
        await engine.dispose()
        raise
    if not neighborhoods:
        log.warning("no neighborhoods loaded: import them with `sereno admin import-neighborhoods FILE`")
    if unknown := resources.unknown_neighborhoods(nb.id for nb in neighborhoods):
        log.warning("SERENO_RESOURCES_FILE names unknown neighborhoods (check the ids): %s", ", ".join(unknown))
    geocoder = geocoder_from(settings)
    pseudonymize = Pseudonymizer(key)
    gazetteer = Gazetteer(neighborhoods)
    policy = alert_policy(settings)
    publisher = Publisher(policy, gazetteer.adjacent)
    outbox = OutboxService(uow, clock)
    gate = SendGate(settings.send_limits)
    metrics = Metrics(head_revision())

    # The leadership starts and stops the broadcaster, whose claims carry the lease as
    # their fence, and the broadcaster has admins told of broken channels: these callbacks
    # look the broadcaster, the application and the notifier up when they run.
    async def lead() -> None:
        await broadcaster.start()
        sweep_now(application)

    async def follow() -> None:
        await broadcaster.stop()

    leadership = leadership_of(settings, gate, metrics, lead, follow)

    async def tell_broken(links: list[ChannelLink]) -> None:  # admins are told through the application's bot
        await notifier.channels_broken(application.bot, links)

    broadcaster = Broadcaster(
        outbox,
        Bot(
            token,
            base_url=settings.bot_base_url,
            base_file_url=settings.bot_base_file_url,
            request=AiohttpRequest(connection_pool_size=gate.limits.max_in_flight),
        ),
        AlertRenderer(gazetteer, resources, settings.tz),
        gate,
        clock,
        on_flagged=tell_broken,
        language_for=policy.language_for,
        fence=leadership,
    )
    training = TrainingService(uow, clock, settings.certification_bar, pseudonymize, gazetteer=gazetteer)
    metrics.watch_broadcaster(broadcaster.counters)
    surge = SurgeService(uow, clock, gazetteer, settings.surge_policy, pseudonymize)
    desk = DeskService(
        uow,
        clock,
        settings.desk_policy,
        pseudonymize,
        on_decided=publisher.on_decided,
        on_drill_decided=training.on_decided,
        batch=surge,
    )
    services = Services(
        settings=settings,
        clock=clock,
        intake=IntakeService(
            uow,
            clock,
            pseudonymize,
            IntakePolicy(settings.reports_per_window, settings.report_window, settings.contact_ttl, settings.photos_per_report),
            settings.cluster_policy,
            images=PillowImageSanitizer(),
            gazetteer=gazetteer,
            surge=surge,
        ),
        places=PlaceResolver(gazetteer, geocoder),
        retention=RetentionService(uow, clock, settings.retention),
        roster=RosterService(uow, clock, pseudonymize),
        desk=desk,
        resources=resources,
        alerts=AlertService(uow, clock, publisher, pseudonymize),
        subscriptions=SubscriptionService(uow, clock),
        channels=ChannelService(uow, clock, pseudonymize),
        outbox=outbox,
        broadcast_queued=broadcaster.wake,
        metrics=metrics,
        stats=StatsService(uow, clock, pseudonymize),
        exports=ExportService(uow, clock, gazetteer),
        training=training,
        dispatch=DispatchService(uow, clock, gazetteer, desk, settings.dispatch_policy, pseudonymize),
        surge=surge,
        trust=TrustService(uow),
    )
    for admin_id in settings.admins:
        existing = await services.roster.get(admin_id)
        if existing is None or existing.role is not Role.ADMIN:
            await services.roster.add_admin(admin_id, "admin")
    store = ConversationStore(engine, key, clock)
    writer = StateWriter(store, settings.persistence_interval_seconds)
    people = PersonState(
        store,
        writer,
        shared=not is_sqlite(settings.database_url),  # SQLite: one process
        from_inbox=webhook,
    )
    inbox = UpdateInbox(engine, key, clock, timedelta(seconds=settings.webhook_replay_seconds))
    guards = UpdateGuards(settings.flood_max_updates, settings.flood_window_seconds, settings.default_language)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.bot_base_url)
        .base_file_url(settings.bot_base_file_url)
        .persistence(DatabasePersistence(store, writer, settings.persistence_interval_seconds))
        .concurrent_updates(PerChatUpdateProcessor(admit=arrival(metrics, guards), around=people))
    )
    if limit_sends:
        builder = builder.rate_limiter(GateRateLimiter(gate))
    # replies go out through aiohttp (PTB's default httpx client manages a few hundred a second)
    builder = builder.request(request or AiohttpRequest())
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    application = builder.build()
    notifier = Notifier(services)
    register_handlers(application, services, notifier, guards, people, leads=leadership.holds)
    freeze_startup_heap()
    return Runtime(application, engine, services, geocoder, broadcaster, leadership, people, inbox, notifier)


def leadership_of(
    settings: Settings,
    gate: SendGate,
    metrics: Metrics,
    lead: Callable[[], Awaitable[None]],
    follow: Callable[[], Awaitable[None]],
) -> Leadership:
    """The leader election on the deployment's database (none on SQLite: this process
    leads): `lead` runs when this process becomes the leader (the broadcaster starts and
    the takeover sweeps run at once), `follow` when it stops; the send gate keeps this
    replica's share of the token's limits."""

    async def gained() -> None:
        metrics.leadership_changes.labels("gained").inc()
        await lead()

    async def lost() -> None:
        metrics.leadership_changes.labels("lost").inc()
        await follow()

    def share() -> None:
        gate.set_overall_rate(
            replica_rate(settings.send_per_second, settings.send_replica_per_second, leadership.replicas, leadership.is_leader)
        )

    leadership = Leadership(leader_lease(settings.database_url, RENEW_TIMEOUT_SECONDS), gained, lost, on_beat=share)
    return leadership


def register_handlers(
    application: Application,
    services: Services,
    notifier: Notifier,
    guards: UpdateGuards,
    people: PersonState,
    leads: Callable[[], bool],
) -> None:
    """Every feature's handlers, guards first, and the jobs (run only while `leads()`),
    all telling people through `notifier`. `people` keeps each person's data and
    conversation states."""
    settings = services.settings
    application.add_handler(guards.handler(), group=-1)
    menu = Menu(services)
    desk = DeskHandlers(services, notifier)
    intake = IntakeConversation(services, menu, notifier.submitted, people)
    conversation = intake.handler()
    people.bind(application, [conversation])
    application.add_handler(conversation)
    application.add_handlers(desk.handlers(application))
    application.add_handlers(DrillHandlers(services, desk, notifier).handlers(application))
    application.add_handlers(DispatchHandlers(services, desk, notifier).handlers(application))
    application.add_handlers(SurgeHandlers(services).handlers())
    application.add_handlers(ChannelHandlers(services).handlers())
    application.add_handlers(AlertDeskHandlers(services).handlers())
    application.add_handlers(StatsHandlers(services).handlers())
    application.add_handlers(ExportHandlers(services).handlers())
    application.add_handlers(SubscribeHandlers(services).handlers(application))
    application.add_handlers(menu.handlers())
    answer_refusals(application, settings.default_language)  # every handler: refusals answered in one place
    application.add_error_handler(make_error_handler(settings.default_language))
    schedule_jobs(application, intake, notifier, services, leads)


async def close_runtime(runtime: Runtime) -> None:
    """Release the geocoder session and the database pool, and hand the frozen heap back
    to the garbage collector."""
    if runtime.geocoder is not None:
        await runtime.geocoder.close()
    await runtime.engine.dispose()
    gc.unfreeze()


def freeze_startup_heap() -> None:
    """Take every object alive now (modules, handlers, settings, neighborhoods: ~170,000 of
    them, kept for the bot's whole life) out of the garbage collector's sight. A full
    collection walks all tracked objects: over this heap it stops the event loop for
    100–250 ms on a small server, and a burst of updates (a flood) allocates enough to
    trigger one; frozen, a full collection walks only what was made since the start."""
    gc.freeze()


def public_routes(runtime: Runtime) -> list[web.RouteDef]:
    """The public map and the alert feeds, read from the bot's database."""
    services = runtime.services
    settings = services.settings
    uow = SqlUnitOfWorkFactory(runtime.engine)
    gazetteer = services.places.gazetteer
    return [
        *map_routes(
            functools.partial(load_from, uow, gazetteer),
            tz=settings.tz,
            resources=services.resources,
            default_language=settings.default_language,
            region_name=settings.region_name,
            clock=services.clock,
        ),
        *feed_routes(services.exports, FeedSource.for_region(settings.region_name, settings.tz), services.clock),
    ]


@asynccontextmanager
async def running_bot(
    settings: Settings, *, clock: Clock | None = None, poll_timeout: int = 10, webhook: bool = False
) -> AsyncIterator[Runtime]:
    """A started bot — polling for updates, or serving the webhook, /healthz and /metrics
    (and handling the updates other replicas accepted and left unhandled) — whose jobs and
    broadcaster run while it leads; stopped (state flushed) on exit."""
    secret = settings.require_webhook_secret() if webhook else ""
    runtime = await build_runtime(settings, clock=clock, webhook=webhook)
    app = runtime.application
    stop_leading = asyncio.Event()
    runner: web.AppRunner | None = None
    replaying: asyncio.Task[None] | None = None
    try:
        await app.initialize()
        leading = asyncio.create_task(runtime.leadership.run(stop_leading), name="leadership")
        tried = asyncio.create_task(runtime.leadership.tried.wait())
        await asyncio.wait([leading, tried], return_when=asyncio.FIRST_COMPLETED)
        tried.cancel()
        try:
            await publish_commands(app)
            await app.start()
            if webhook:
                replaying = asyncio.create_task(
                    replay_abandoned(runtime.inbox, app, settings.webhook_replay_seconds, stop_leading), name="replay"
                )
                context = WebContext(
                    app,
                    functools.partial(open_incidents, runtime.engine),
                    runtime.services.outbox,
                    runtime.leadership,
                    runtime.services.metrics,
                    secret,
                    inbox=runtime.inbox,
                    max_pending_seconds=settings.health_max_pending_seconds,
                )
                served = web_app(context, public_routes(runtime), trust_forwarded_headers=settings.trust_forwarded_headers)
                runner = await serve(served, settings.web_host, settings.web_port)
                if settings.webhook_url:
                    await app.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
            else:
                assert app.updater is not None
                await app.updater.start_polling(poll_interval=0, timeout=poll_timeout, drop_pending_updates=False)
            yield runtime
        finally:
            if runner is not None:
                await runner.cleanup()
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            stop_leading.set()
            await leading
            if replaying is not None:
                await replaying
            if app.running:
                await app.stop()
            await app.shutdown()
    finally:
        await close_runtime(runtime)


async def serve_bot(settings: Settings, stop: asyncio.Event, webhook: bool = False) -> None:
    """Run until `stop` is set (long polling, or the webhook server), telling systemd when
    the bot is ready and, under its watchdog, pinging it while the database answers."""
    async with running_bot(settings, webhook=webhook) as runtime:
        me = runtime.application.bot
        where = f"webhook on {settings.web_host}:{settings.web_port}" if webhook else "polling"
        log.info("Sereno is running as @%s (%s)", me.username, where)
        notify("READY=1")
        interval = watchdog_interval()
        pinging = (
            None
            if interval is None
            else asyncio.create_task(
                keep_alive(functools.partial(answers, runtime.engine, HEALTH_TIMEOUT), interval, stop), name="watchdog"
            )
        )
        await stop.wait()
        if pinging is not None:
            await pinging  # its last check done: no ping follows STOPPING
        notify("STOPPING=1")


# ── what the command line and the demo do on a database ──────────────────────────
async def migrate(settings: Settings, to: str = "head", *, allow_downgrade: bool = False) -> Migration:
    """Create the schema or take it to revision `to`; a refused migration (a downgrade not
    allowed, a key missing to seal or open the reporter contacts) raises
    :class:`MissingSetting` saying why."""
    try:
        return await storage_admin.migrate(
            settings.database_url, to, allow_downgrade=allow_downgrade, hmac_key=settings.optional_hmac_key()
        )
    except (MigrationRefused, SealingKeyMissing) as exc:
        raise MissingSetting(str(exc)) from None


async def replace_neighborhoods(database_url: str, neighborhoods: list[Neighborhood], hmac_key: bytes | None = None) -> None:
    """Migrate the database at `database_url`, then replace every neighborhood with
    `neighborhoods`, in one transaction."""
    await storage_admin.replace_neighborhoods(database_url, neighborhoods, hmac_key)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[UnitOfWorkFactory]:
    """Units of work on the configured database, migrated first; the pool is closed after."""
    key = settings.optional_hmac_key()
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine, hmac_key=key)
        yield SqlUnitOfWorkFactory(engine, key)
    finally:
        await engine.dispose()


async def neighborhoods(uow: UnitOfWorkFactory) -> Gazetteer:
    """The neighborhoods stored in the database of `uow`."""
    async with uow() as tx:
        return Gazetteer(await tx.neighborhoods.all())


@dataclass(frozen=True, slots=True)
class ChatCheck:
    """A chat the bot was asked to post alerts in: its title (None: it cannot be reached at
    all) and what the bot still lacks there, described in English."""

    title: str | None
    missing: tuple[str, ...] = ()


async def check_chat(settings: Settings, chat_id: int) -> ChatCheck:
    """Ask Telegram whether the bot can post and edit alerts in `chat_id`."""
    bot = Bot(settings.require_token(), base_url=settings.bot_base_url, base_file_url=settings.bot_base_file_url)
    async with bot:
        missing = await missing_rights(bot, chat_id)
        chat = await bot.get_chat(chat_id) if missing is not None else None
    if missing is None or chat is None:
        return ChatCheck(None)
    return ChatCheck(chat.title or str(chat_id), tuple(RIGHTS[m] for m in missing))


def stats_report(figures: DeskStats, gazetteer: Gazetteer, settings: Settings) -> str:
    """The desk statistics as the bot's /stats writes them, in English."""
    return stats_text(translator("en"), figures, gazetteer, settings.tz)
