"""After a full demo run (reports, verdicts, alerts, a correction), captured logs and every
table of the database hold no bot token, no HMAC key and no reporter's Telegram id, and no
export carries a reporter's pseudonym or words. While an outcome is owed, a dump of the
database (SQLite's files, PostgreSQL's pg_dump) names no reporter; after the retention
purge it holds no text they or the verifiers typed and no exact pin."""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from sereno.demo import DEMO_TOKEN, run_demo
from sereno.double import BotApiDouble
from sereno.storage.engine import make_engine
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.clock import SystemClock
from sereno.verify.clustering import cell_of, coarse_point, distance_m
from sereno.verify.export_service import ExportService
from sereno.verify.exports import ExportFormat, FeedSource
from sereno.verify.incidents import Verdict
from sereno.verify.model import GeoPoint
from sereno.verify.places import Gazetteer
from tests.bot.conftest import Harness, bot, double, settings_overrides  # noqa: F401 (fixtures)
from tests.bot.test_broadcast_flow import ANA, BEN, COORD, decide, staff
from tests.bot.test_desk_flow import report
from tests.bot.test_intake_bad_input import finish, skip_after_place
from tests.bot.test_intake_conversation import start_in

DEMO_KEY = "demo-only-hmac-key-not-for-production-use"
REPORTERS = (100001, 100002, 200000, 200001, 200002, 200010)  # Ana, Luis, the rumor's three neighbors, the dispatch's


async def test_a_full_run_leaves_no_secret_and_no_reporter_id_anywhere(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    codes = await run_demo(io.StringIO(), database_url)
    assert len(codes) == 2
    engine = make_engine(database_url)
    try:
        dump = []
        async with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                rows = (await conn.execute(text(f'SELECT * FROM "{table.name}"'))).all()
                dump += [f"{table.name} {row!r}" for row in rows]
            pseudonyms = (await conn.execute(text("SELECT reporter FROM report WHERE reporter != 'drill'"))).scalars().all()
            details = [d for d in (await conn.execute(text("SELECT details FROM report"))).scalars().all() if d]
        uow = SqlUnitOfWorkFactory(engine)
        async with uow() as tx:
            gazetteer = Gazetteer(await tx.neighborhoods.all())
        exports = ExportService(uow, SystemClock(), gazetteer)
        now = datetime.now(UTC)
        rendered = [
            (await exports.export(fmt, FeedSource.for_region("Puerto Sereno"), now - timedelta(days=1), None)).text
            for fmt in ExportFormat
        ]
    finally:
        await engine.dispose()
    everything = "\n".join(dump)
    assert len(pseudonyms) == len(REPORTERS) and details  # the run did store reports: the checks below are not vacuous
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (DEMO_TOKEN, DEMO_KEY):
        assert secret not in everything and secret not in logged
    for reporter in REPORTERS:
        assert str(reporter) not in everything, f"reporter {reporter} is in the database"
        assert str(reporter) not in logged
    for export in rendered:
        for secret in (*pseudonyms, *details):
            assert secret not in export


REPORTER_ID = 7_912_345_678  # Rosa's Telegram user id, which is also her private chat's id
DETAILS = "Magenta tricycle convoy 4471"
REASON = "Zebra-striped awning seen by Ana"
PIN = (34.038712, -118.279934)  # Rosa's exact pin, in Harbor View


def id_forms(n: int) -> list[bytes]:
    """How a database can hold the integer `n`: as text (decimal, hex) or binary."""
    return [str(n).encode(), f"{n:x}".encode(), n.to_bytes(8, "big"), n.to_bytes(6, "big"), n.to_bytes(8, "little")]


def pin_forms(lat: float, lon: float) -> list[bytes]:
    """How a database can hold a pin's coordinates: as text or as binary doubles."""
    return [form for x in (lat, lon) for form in (repr(x).encode(), struct.pack(">d", x), struct.pack("<d", x))]


def database_dump(database_url: str) -> bytes:
    """Everything a copy of the database gives away. SQLite: the bytes of the main, `-wal`
    and `-shm` files, then the SQL dump; PostgreSQL: pg_dump of the data."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return raw + "\n".join(conn.iterdump()).encode()
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(["pg_dump", "--data-only", plain], capture_output=True, check=True).stdout


async def owed_sweep(bot: Harness) -> None:
    """The leader's sweep of outcomes owed to reporters, run once past the grace period."""
    bot.clock.advance(timedelta(seconds=bot.settings.outcome_grace_seconds + 1))
    [job] = bot.runtime.application.job_queue.get_jobs_by_name("tell-owed-outcomes")  # type: ignore[union-attr]
    await job.run(bot.runtime.application)


async def test_while_a_reporter_waits_for_the_outcome_a_dump_of_the_database_does_not_name_them(
    bot: Harness, double: BotApiDouble, database_url: str
) -> None:
    await staff(bot)
    rosa = double.user(REPORTER_ID, "Rosa", "en")
    done = await report(rosa)
    [reported] = await bot.rows("SELECT id, incident_id, ref_code FROM report")
    assert reported["ref_code"] in done
    assert len(await bot.rows("SELECT report_id FROM report_contact")) == 1  # kept, to tell her: not vacuous
    for form in id_forms(REPORTER_ID):
        assert form not in database_dump(database_url), form
    await decide(bot, str(reported["incident_id"]), Verdict.CONFIRMED)
    assert len(await bot.rows("SELECT id FROM owed_outcome")) == 1  # the outcome is owed to her
    for form in id_forms(REPORTER_ID):
        assert form not in database_dump(database_url), form
    await owed_sweep(bot)
    told = await rosa.wait_text("Update on your report", since_last_action=False)
    assert reported["ref_code"] in told.text and "confirmed" in told.text


async def test_after_the_retention_purge_the_database_files_hold_no_typed_text_and_no_exact_pin(
    bot: Harness, double: BotApiDouble, database_url: str
) -> None:
    await staff(bot)
    rosa = double.user(REPORTER_ID, "Rosa", "en")
    await start_in(rosa, "en")
    await rosa.press("📝 Report activity")
    await rosa.wait_text("What is happening?")
    await rosa.press("Checkpoint or vehicle stop")
    await rosa.wait_text("Where is it happening?")
    await rosa.share_location(*PIN, horizontal_accuracy=5)
    await rosa.wait_text("Got it: Harbor View.")
    await skip_after_place(rosa, details=False)
    await rosa.send_text(DETAILS)
    await rosa.wait_text("Noted.")
    await finish(rosa)
    [incident] = await bot.rows("SELECT id, lat, lon FROM incident")
    assert (incident["lat"], incident["lon"]) == PIN  # the first reporter's exact pin
    incident_id = str(incident["id"])
    desk = bot.runtime.services.desk
    for person in (ANA, BEN):
        await desk.claim(person, incident_id)
        await desk.decide(person, incident_id, Verdict.CONFIRMED, REASON)
    await owed_sweep(bot)
    await rosa.wait_text("Update on your report", since_last_action=False)
    before = database_dump(database_url)
    assert DETAILS.encode() in before and REASON.encode() in before  # the checks below are not vacuous

    bot.clock.advance(bot.settings.retention + timedelta(days=1))
    [job] = bot.runtime.application.job_queue.get_jobs_by_name("purge-expired")  # type: ignore[union-attr]
    await job.run(bot.runtime.application)

    after = database_dump(database_url)
    for leak in (DETAILS.encode(), REASON.encode(), b"Zebra-striped", *pin_forms(*PIN)):
        assert leak not in after, leak
    [kept] = await bot.rows("SELECT lat, lon, cell FROM incident")
    coarse = coarse_point(GeoPoint(*PIN))
    assert (kept["lat"], kept["lon"]) == (coarse.lat, coarse.lon) and kept["cell"] == cell_of(GeoPoint(*PIN))
    assert distance_m(coarse, GeoPoint(*PIN)) > 10
    view = await desk.view(ANA, incident_id)  # the desk still shows the incident and who decided it
    assert view.reports == [] and [v.reason for v in view.verdicts] == ["", ""]
    figures = await bot.runtime.services.stats.stats(COORD, since=bot.clock.now() - timedelta(days=60))
    assert figures.total.incidents == 1 and figures.total.verdicts == {Verdict.CONFIRMED: 1}  # without the reports
