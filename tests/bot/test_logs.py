"""Logs carry no secrets, no reporter's Telegram id and no report text (INFO and above)."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import quote

import pytest

from sereno import logs
from sereno.config import Settings
from sereno.double import BotApiDouble
from sereno.verify.incidents import Verdict
from tests.bot.conftest import Harness
from tests.bot.test_broadcast_flow import decide, incident, link_channel, staff, subscriber
from tests.bot.test_desk_flow import report
from tests.conftest import TEST_HMAC_KEY, TEST_TOKEN

REPORTER = 7_400_001
DETAILS = "Two vans, agents in vests"  # what tests.bot.test_desk_flow.report types


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": "8100001"}


async def test_a_full_flow_logs_no_secret_no_reporter_id_and_no_report_text(
    bot: Harness, double: BotApiDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await staff(bot)
    await link_channel(bot, double)
    await subscriber(bot, double, 7_400_002, "es")
    rosa = double.user(REPORTER, "Rosa", "en")
    assert "Report received" in await report(rosa)
    [reported] = await bot.rows("SELECT id FROM incident")
    await decide(bot, str(reported["id"]), Verdict.CONFIRMED)
    await decide(bot, await incident(bot), Verdict.CONFIRMED)  # one in Harbor View: broadcast
    await double.wait_for(lambda m: "Alerta verificada" in (m.text or ""), chat_id=7_400_002)
    for _ in range(50):  # the broadcaster records (and logs) its results a moment later
        if any("outbox: " in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO)
    assert "stored (incident" in logged and "outbox: " in logged  # the check below is not vacuous
    for leak in (TEST_TOKEN, TEST_HMAC_KEY, str(REPORTER), DETAILS, "vests"):
        assert leak not in logged, leak


def test_secrets_are_redacted_from_any_message(caplog: pytest.LogCaptureFixture) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(logs.Redact([TEST_TOKEN]))
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s/getUpdates", (f"/bot{TEST_TOKEN}",), None)
    for f in handler.filters:
        f.filter(record)  # type: ignore[union-attr]
    assert record.getMessage() == "POST /bot[redacted]/getUpdates"


def test_json_lines_are_one_object_per_record(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(json_lines=True)
        logs.redact([TEST_HMAC_KEY])
        logging.getLogger("sereno").info("ready with key %s", TEST_HMAC_KEY)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["level"] == "INFO" and line["logger"] == "sereno" and line["message"] == "ready with key [redacted]"


def test_tracebacks_extra_fields_and_database_passwords_are_redacted_in_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    password = "pg-Secret/pass word"
    settings = Settings(
        telegram_token=TEST_TOKEN,
        hmac_key=TEST_HMAC_KEY,
        database_url=f"postgresql+asyncpg://sereno:{quote(password, safe='')}@db/sereno",
    )
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(json_lines=True)
        logs.redact(settings.secret_values())
        try:
            raise ConnectionError(f"cannot reach {settings.database_url} for /bot{TEST_TOKEN}/getMe")
        except ConnectionError:
            logging.getLogger("sereno").exception("outage", extra={"url": settings.database_url}, stack_info=True)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    written = capsys.readouterr().err
    line = json.loads(written.strip().splitlines()[-1])
    assert "cannot reach postgresql+asyncpg://sereno:[redacted]@db/sereno" in line["exc_info"]
    assert line["url"] == "postgresql+asyncpg://sereno:[redacted]@db/sereno" and "stack_info" in line
    for secret in (TEST_TOKEN, TEST_HMAC_KEY, password, quote(password, safe="")):
        assert secret not in written
