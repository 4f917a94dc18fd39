"""Scheduled work, on PTB's JobQueue (APScheduler 3)."""

from __future__ import annotations

from telegram.ext import Application, ContextTypes

from bot.intake import IntakeConversation

#: How often unfinished reports are checked for the conversation timeout, in seconds.
IDLE_SWEEP_SECONDS = 60


def schedule_jobs(application: Application, intake: IntakeConversation) -> None:  # type: ignore[type-arg]
    """Register the repeating jobs."""

    async def close_idle_drafts(context: ContextTypes.DEFAULT_TYPE) -> None:
        await intake.close_idle(context.application)

    assert application.job_queue is not None
    application.job_queue.run_repeating(
        close_idle_drafts, interval=IDLE_SWEEP_SECONDS, first=IDLE_SWEEP_SECONDS, name="close-idle-drafts"
    )
