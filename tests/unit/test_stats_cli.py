"""`sereno admin stats` on a SQLite file: the desk's figures with the field dispatches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sereno.cli import main
from sereno.storage.admin import replace_neighborhoods
from sereno.storage.engine import make_engine
from sereno.verify.dispatch import Finding
from sereno.verify.places import parse_geojson
from tests.conftest import DEMO_REGION
from tests.integration.test_dispatch_storage import ANA, DISP, Desk


async def seeded(url: str, dispatch: bool) -> None:
    """The demo region and one incident reported an hour ago; with `dispatch`, someone is
    sent at once, accepts 3 minutes after the report and reports on site 12 minutes after."""
    await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text()))
    engine = make_engine(url)
    try:
        desk = Desk(engine)
        desk.clock.advance(datetime.now(UTC) - timedelta(hours=1) - desk.clock.now())  # the CLI reads the real time
        await desk.staff()
        incident = await desk.incident()
        if dispatch:
            sent = await desk.dispatch.send(incident, by=DISP)
            desk.clock.advance(timedelta(minutes=3))
            await desk.dispatch.accept(sent.dispatch.id, ANA, 10)
            desk.clock.advance(timedelta(minutes=9))
            await desk.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.NOTHING_THERE)
    finally:
        await engine.dispose()


@pytest.fixture
def database_env(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sereno.db'}"
    monkeypatch.setenv("SERENO_DATABASE_URL", url)
    return url


@pytest.fixture
async def with_a_dispatch(database_env: str) -> None:
    await seeded(database_env, dispatch=True)


@pytest.fixture
async def without_dispatches(database_env: str) -> None:
    await seeded(database_env, dispatch=False)


def test_admin_stats_prints_the_dispatch_figures(with_a_dispatch: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin", "stats", "--days", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Reports: 1. Incidents: 1 (still open: 1)." in lines
    assert "Dispatches: 1 (someone went: 1; nobody available: 0)." in lines
    assert "Time to a dispatch accepted: median 3 min, p90 3 min (1 dispatch)" in lines
    assert "Time to the on-site report: median 12 min, p90 12 min (1 dispatch)" in lines
    assert "Safety check-ins missed: 0. Escalations to coordinators: 0." in lines


def test_admin_stats_says_no_dispatches_when_there_were_none(
    without_dispatches: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", "stats"]) == 0
    out = capsys.readouterr().out
    assert "Reports: 1. Incidents: 1 (still open: 1)." in out and "No dispatches." in out.splitlines()
