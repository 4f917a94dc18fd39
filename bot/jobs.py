"""Scheduled work, on PTB's JobQueue (APScheduler 3)."""

from __future__ import annotations

import logging

from telegram.ext import Application, ContextTypes

from bot.intake import IntakeConversation
from verify.retention import RetentionService

log = logging.getLogger(__name__)

#: How often unfinished reports are checked for the conversation timeout, in seconds.
IDLE_SWEEP_SECONDS = 60
#: How often expired reports, contacts and photos are purged, in seconds.
PURGE_SECONDS = 3600


def schedule_jobs(application: Application, intake: IntakeConversation, retention: RetentionService) -> None:  # type: ignore[type-arg]
    """Register the repeating jobs."""

    async def close_idle_drafts(context: ContextTypes.DEFAULT_TYPE) -> None:
        await intake.close_idle(context.application)

    async def purge_expired(context: ContextTypes.DEFAULT_TYPE) -> None:
        purged = await retention.purge()
        log.info("retention purge: %d reports, %d contacts, %d unsubmitted photos",
                 purged.reports, purged.contacts, purged.photos)

    queue = application.job_queue
    assert queue is not None
    queue.run_repeating(close_idle_drafts, interval=IDLE_SWEEP_SECONDS, first=IDLE_SWEEP_SECONDS, name="close-idle-drafts")
    queue.run_repeating(purge_expired, interval=PURGE_SECONDS, first=10, name="purge-expired")
