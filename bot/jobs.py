"""Scheduled work, on PTB's JobQueue (APScheduler 3)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot import messaging
from bot.desk import DeskHandlers
from bot.i18n import translator
from bot.intake import IntakeConversation
from bot.services import Services

log = logging.getLogger(__name__)
Job = Callable[[ContextTypes.DEFAULT_TYPE], Awaitable[None]]

#: How often alerts past their lifetime are looked for, in seconds.
ALERT_SWEEP_SECONDS = 30
#: How often unfinished reports are checked for the conversation timeout, in seconds.
IDLE_SWEEP_SECONDS = 60
#: How often expired reports, contacts and photos are purged, in seconds.
PURGE_SECONDS = 3600
#: How often expired leases and unclaimed incidents are looked for, in seconds.
LEASE_SWEEP_SECONDS = 15
#: How often outcomes still owed to reporters past the grace period are looked for, in seconds.
OWED_SWEEP_SECONDS = 15
#: The first lease, alert and owed-outcome sweeps run this soon after a start.
STARTUP_SWEEP_SECONDS = 2
#: The sweeps a replica runs as soon as it becomes the leader (what a leader that died left).
TAKEOVER_SWEEPS = ("expire-leases", "expire-alerts", "tell-owed-outcomes")


def schedule_jobs(application: Application, intake: IntakeConversation, desk: DeskHandlers,  # type: ignore[type-arg]
                  services: Services, leads: Callable[[], bool]) -> None:
    """Register the repeating jobs. Those working on the shared database run only while
    this replica `leads()`; closing idle drafts (this process's own conversations) always."""

    def leader_only(job: Job) -> Job:
        async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
            if leads():
                await job(context)

        return run

    async def close_idle_drafts(context: ContextTypes.DEFAULT_TYPE) -> None:
        await intake.close_idle(context.application)

    async def purge_expired(context: ContextTypes.DEFAULT_TYPE) -> None:
        purged = await services.retention.purge()
        log.info("retention purge: %d reports, %d contacts, %d unsubmitted photos",
                 purged.reports, purged.contacts, purged.photos)

    async def expire_leases(context: ContextTypes.DEFAULT_TYPE) -> None:
        for _, holder in await services.desk.expire_leases():
            person = await services.roster.get(holder)
            t = translator(person.language if person else "en")
            try:
                await messaging.send(context.bot, holder, t(
                    "Your claim on an incident ran out, so it went back to the queue. Send /queue to see it."))
            except TelegramError:
                log.info("could not tell a verifier their lease ran out", exc_info=True)

    async def ping_unclaimed(context: ContextTypes.DEFAULT_TYPE) -> None:
        await desk.ping_unclaimed(context.bot)

    async def tell_owed(context: ContextTypes.DEFAULT_TYPE) -> None:
        if told := await desk.tell_owed(context.bot):
            log.info("told %d owed outcome(s) to reporters", told)

    async def expire_alerts(context: ContextTypes.DEFAULT_TYPE) -> None:
        if await services.alerts.expire_due():
            services.broadcast_queued()

    queue = application.job_queue
    assert queue is not None
    queue.run_repeating(close_idle_drafts, interval=IDLE_SWEEP_SECONDS, first=IDLE_SWEEP_SECONDS, name="close-idle-drafts")
    queue.run_repeating(leader_only(purge_expired), interval=PURGE_SECONDS, first=10, name="purge-expired")
    # soon after a start too: a restart must return the leases of a process that died
    queue.run_repeating(leader_only(expire_leases), interval=LEASE_SWEEP_SECONDS, first=STARTUP_SWEEP_SECONDS,
                        name="expire-leases")
    queue.run_repeating(leader_only(ping_unclaimed), interval=LEASE_SWEEP_SECONDS, first=LEASE_SWEEP_SECONDS,
                        name="ping-unclaimed")
    queue.run_repeating(leader_only(expire_alerts), interval=ALERT_SWEEP_SECONDS, first=STARTUP_SWEEP_SECONDS,
                        name="expire-alerts")
    # soon after a start too: a restart must tell what the process that died did not
    queue.run_repeating(leader_only(tell_owed), interval=OWED_SWEEP_SECONDS, first=STARTUP_SWEEP_SECONDS,
                        name="tell-owed-outcomes")


def sweep_now(application: Application) -> None:  # type: ignore[type-arg]
    """Bring the takeover sweeps forward to now (this replica just became the leader); at a
    start, before the job queue runs, they come soon anyway."""
    queue = application.job_queue
    if queue is None or not queue.scheduler.running:
        return
    for name in TAKEOVER_SWEEPS:
        for job in queue.get_jobs_by_name(name):
            job.job.modify(next_run_time=datetime.now(UTC))
