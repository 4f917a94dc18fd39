"""After a full demo run (reports, verdicts, alerts, a correction), captured logs and every
table of the database hold no bot token, no HMAC key and no reporter's Telegram id, and no
export carries a reporter's pseudonym or words."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from sereno.demo import DEMO_TOKEN, run_demo
from storage.engine import make_engine
from storage.unit_of_work import SqlUnitOfWorkFactory
from verify.clock import SystemClock
from verify.export_service import ExportService
from verify.exports import ExportFormat, FeedSource
from verify.places import Gazetteer

DEMO_KEY = "demo-only-hmac-key-not-for-production-use"
REPORTERS = (100001, 100002, 200000, 200001, 200002)  # Ana, Luis and the three neighbors of the rumor


async def test_a_full_run_leaves_no_secret_and_no_reporter_id_anywhere(database_url: str,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
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
        rendered = [(await exports.export(fmt, FeedSource.for_region("Puerto Sereno"), now - timedelta(days=1),
                                          None)).text for fmt in ExportFormat]
    finally:
        await engine.dispose()
    everything = "\n".join(dump)
    assert len(pseudonyms) == 5 and details  # the run did store reports: the checks below are not vacuous
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (DEMO_TOKEN, DEMO_KEY):
        assert secret not in everything and secret not in logged
    for reporter in REPORTERS:
        assert str(reporter) not in everything, f"reporter {reporter} is in the database"
        assert str(reporter) not in logged
    for export in rendered:
        for secret in (*pseudonyms, *details):
            assert secret not in export
