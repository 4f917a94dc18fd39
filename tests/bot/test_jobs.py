"""The scheduled jobs of a running bot."""

from __future__ import annotations

from datetime import timedelta

from sereno.double import BotApiDouble
from tests.bot.conftest import Harness
from tests.bot.test_intake_bad_input import USER, finish, to_details
from tests.bot.test_intake_conversation import start_in


async def test_the_hourly_purge_removes_reports_past_the_retention_window(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_details(ana)
    await ana.press("Skip")
    await finish(ana)
    assert len(await bot.rows("SELECT * FROM report")) == 1
    [job] = bot.runtime.application.job_queue.get_jobs_by_name("purge-expired")  # type: ignore[union-attr]
    await job.run(bot.runtime.application)
    assert len(await bot.rows("SELECT * FROM report")) == 1
    bot.clock.advance(timedelta(days=bot.settings.retention_days, minutes=1))
    await job.run(bot.runtime.application)
    assert await bot.rows("SELECT * FROM report") == []
    assert await bot.rows("SELECT * FROM report_contact") == []
