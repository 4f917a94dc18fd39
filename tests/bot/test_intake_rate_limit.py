"""The per-reporter rate limit, seen by the reporter."""

from __future__ import annotations

import pytest

from sereno.double import BotApiDouble
from tests.bot.conftest import Harness
from tests.bot.test_intake_bad_input import USER, finish, skip_after_place, to_details
from tests.bot.test_intake_conversation import answer, start_in


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"reports_per_window": 1}


async def test_the_rate_limit_refuses_politely_and_keeps_the_draft(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_details(ana)
    await ana.press("Skip")
    await finish(ana)
    await ana.press("📝 Report activity")
    await answer(ana, "What is happening?", "Skip")
    await ana.wait_text("Where is it happening?")
    await ana.send_text("Skip")
    await skip_after_place(ana)
    await answer(ana, "send a photo", "Skip")
    await answer(ana, "Please check your report", "✅ Submit")
    refusal = await ana.wait_text("You have sent 1 reports in the last 10 minutes")
    assert "Your report is kept here" in refusal.text
    await ana.send_command("/cancel")
    await ana.wait_text("Report cancelled")
    await ana.press("📝 Report activity")
    await ana.wait_text("please wait about 10 min")
    assert len(await bot.rows("SELECT * FROM report")) == 1
