"""Scheduled work, on PTB's JobQueue (APScheduler 3)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from telegram.ext import Application, ContextTypes

from sereno.bot.intake import IntakeConversation
from sereno.bot.notifier import Notifier
from sereno.bot.services import Services
from sereno.bot.surge import SUMMARY_CHECK_SECONDS, summary_job

log = logging.getLogger(__name__)
Job = Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]

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
#: How often due dispatch steps (unanswered asks, check-ins) and owed notices are looked for, in seconds.
DISPATCH_SWEEP_SECONDS = 15
#: The first lease, alert and owed-outcome sweeps run this soon after a start.
STARTUP_SWEEP_SECONDS = 2
#: The sweeps a replica runs as soon as it becomes the leader (what a leader that died left).
TAKEOVER_SWEEPS = ("expire-leases", "expire-alerts", "tell-owed-outcomes", "dispatch-steps")


def schedule_jobs(
    application: Application, intake: IntakeConversation, notifier: Notifier, services: Services, leads: Callable[[], bool]
) -> None:
    """Register the repeating jobs; whom they tell is the services' answer, sent by
    `notifier`. Those working on the shared database run only while this replica
    `leads()`; closing idle drafts (this process's own conversations) always.
    Each run that finishes without an error sets its job's last-success metric (a job
    skipped on a follower does not)."""

    def leader_only(job: Job) -> Job:
        async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
            if leads():
                await job(context)

        return run

    async def close_idle_drafts(context: ContextTypes.DEFAULT_TYPE) -> None:
        await intake.close_idle(context.application)

    async def purge_expired(context: ContextTypes.DEFAULT_TYPE) -> None:
        purged = await services.retention.purge()
        log.info(
            "retention purge: %d reports, %d contacts, %d unsubmitted photos, %d verdict reasons, %d incident pins",
            purged.reports,
            purged.contacts,
            purged.photos,
            purged.reasons,
            purged.pins,
        )

    async def expire_leases(context: ContextTypes.DEFAULT_TYPE) -> None:
        await notifier.claims_expired(context.bot, [holder for _, holder in await services.desk.expire_leases()])

    async def ping_unclaimed(context: ContextTypes.DEFAULT_TYPE) -> None:
        await notifier.cards(context.bot, await services.desk.unclaimed_pings())

    async def tell_owed(context: ContextTypes.DEFAULT_TYPE) -> None:
        if told := await notifier.owed(context.bot):
            log.info("told %d owed outcome(s) to reporters", told)

    async def dispatch_steps(context: ContextTypes.DEFAULT_TYPE) -> None:
        if sent := await notifier.dispatch(context.bot, await services.dispatch.run_due()):
            log.info("sent %d dispatch notice(s): asks passed on, check-ins, escalations", sent)

    async def expire_alerts(context: ContextTypes.DEFAULT_TYPE) -> None:
        if await services.alerts.expire_due():
            services.broadcast_queued()

    metrics = services.metrics

    def tracked(name: str, job: Job) -> Job:
        async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
            await job(context)
            metrics.job_succeeded(name)

        return run

    queue = application.job_queue
    assert queue is not None
    # (name, job, interval, first run, whether only the leader runs it), in seconds
    jobs: list[tuple[str, Job, float, float, bool]] = [
        ("close-idle-drafts", close_idle_drafts, IDLE_SWEEP_SECONDS, IDLE_SWEEP_SECONDS, False),
        ("purge-expired", purge_expired, PURGE_SECONDS, 10, True),
        # soon after a start too: a restart must return the leases of a process that died
        ("expire-leases", expire_leases, LEASE_SWEEP_SECONDS, STARTUP_SWEEP_SECONDS, True),
        ("ping-unclaimed", ping_unclaimed, LEASE_SWEEP_SECONDS, LEASE_SWEEP_SECONDS, True),
        ("expire-alerts", expire_alerts, ALERT_SWEEP_SECONDS, STARTUP_SWEEP_SECONDS, True),
        # soon after a start too: a restart must tell what the process that died did not
        ("tell-owed-outcomes", tell_owed, OWED_SWEEP_SECONDS, STARTUP_SWEEP_SECONDS, True),
        # soon after a start too: the timers of dispatches are in the database
        ("dispatch-steps", dispatch_steps, DISPATCH_SWEEP_SECONDS, STARTUP_SWEEP_SECONDS, True),
        ("surge-summary", summary_job(services), SUMMARY_CHECK_SECONDS, SUMMARY_CHECK_SECONDS, True),
    ]
    for name, job, interval, first, shared in jobs:
        metrics.job_last_success.labels(name)  # exposed from the start, at 0 until it first succeeds
        queue.run_repeating(
            leader_only(tracked(name, job)) if shared else tracked(name, job), interval=interval, first=first, name=name
        )


def sweep_now(application: Application) -> None:
    """Bring the takeover sweeps forward to now (this replica just became the leader); at a
    start, before the job queue runs, they come soon anyway."""
    queue = application.job_queue
    if queue is None or not queue.scheduler.running:
        return
    for name in TAKEOVER_SWEEPS:
        for job in queue.get_jobs_by_name(name):
            job.job.modify(next_run_time=datetime.now(UTC))
