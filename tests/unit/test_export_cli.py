"""`sereno export` as partners run it: a seeded SQLite file, every format, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from sereno.storage.admin import replace_neighborhoods
from sereno.storage.engine import make_engine
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.alerts import Alert, AlertKind
from sereno.verify.exports import ATOM_NS, CAP_NS
from sereno.verify.incidents import Incident, IncidentStatus, Verdict
from sereno.verify.model import Activity, Tier
from sereno.verify.places import parse_geojson
from tests.conftest import DEMO_REGION

ROOT = Path(__file__).resolve().parents[2]
JAN_10, JAN_20 = datetime(2026, 1, 10, 18, tzinfo=UTC), datetime(2026, 1, 20, 18, tzinfo=UTC)


@pytest.fixture
async def database(clean_env: None, tmp_path: Path) -> str:
    """A SQLite file with the demo region, an alert in Harbor View on Jan 10 and a
    correction in Old Mill on Jan 20."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sereno.db'}"
    await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text()))
    engine = make_engine(url)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            for n, (at, place, kind) in enumerate(
                ((JAN_10, "harbor-view", AlertKind.ALERT), (JAN_20, "old-mill", AlertKind.CORRECTION))
            ):
                verdict = Verdict.CONFIRMED if kind is AlertKind.ALERT else Verdict.DEBUNKED
                await uow.incidents.add(
                    Incident(
                        f"inc-{n}",
                        IncidentStatus.DECIDED,
                        Tier.URGENT,
                        Activity.ARREST,
                        place,
                        None,
                        None,
                        at,
                        at,
                        3,
                        verdict=verdict,
                        decided_at=at,
                    )
                )
                await uow.alerts.add(
                    Alert(
                        f"alert-{n}",
                        f"inc-{n}",
                        kind,
                        place,
                        (place,),
                        Activity.ARREST,
                        Tier.URGENT,
                        2,
                        3,
                        at,
                        at + timedelta(hours=4),
                    )
                )
            await uow.commit()
    finally:
        await engine.dispose()
    return url


def sereno(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m sereno ARGS` on this checkout (not whichever copy is installed)."""
    env = {
        **os.environ,
        "SERENO_DATABASE_URL": url,
        "SERENO_REGION_NAME": "Harbor City",
        "SERENO_TIMEZONE": "America/Los_Angeles",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "sereno", *args], capture_output=True, text=True, timeout=60, env=env, encoding="utf-8"
    )


def test_export_prints_every_format_from_the_database(database: str) -> None:
    done = sereno(database, "export", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert [r["alert_id"] for r in csv.DictReader(io.StringIO(done.stdout))] == ["alert-1", "alert-0"]
    geojson = json.loads(sereno(database, "export", "--format", "geojson").stdout)
    assert [f["geometry"]["type"] for f in geojson["features"]] == ["Polygon", "Polygon"]
    cap = ET.fromstring(sereno(database, "export", "--format", "CAP").stdout.encode())
    assert [e.findtext(f"{{{CAP_NS}}}sender") for e in cap] == ["sereno@harbor-city"] * 2
    atom = ET.fromstring(sereno(database, "export", "--format", "atom").stdout.encode())
    assert len(atom.findall(f"{{{ATOM_NS}}}entry")) == 2


def test_export_filters_by_local_dates_and_neighborhood_and_writes_a_file(database: str, tmp_path: Path) -> None:
    done = sereno(database, "export", "--format", "csv", "--until", "2026-01-10")  # the whole local day
    assert [r["alert_id"] for r in csv.DictReader(io.StringIO(done.stdout))] == ["alert-0"]
    done = sereno(database, "export", "--format", "csv", "--since", "2026-01-11T00:00-08:00")
    assert [r["alert_id"] for r in csv.DictReader(io.StringIO(done.stdout))] == ["alert-1"]
    out = tmp_path / "old-mill.geojson"
    done = sereno(database, "export", "--format", "geojson", "--neighborhood", "old-mill", "--output", str(out))
    assert done.returncode == 0 and done.stdout == f"Exported 1 alert as geojson to {out}.\n"
    [feature] = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert feature["properties"]["neighborhood_name"] == "Old Mill" and feature["properties"]["kind"] == "correction"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "sereno: unknown format 'xml': use csv, geojson, cap or atom"),
        (["--format", "csv", "--since", "last tuesday"], "sereno: --since: 'last tuesday' is not an ISO date or time"),
        (["--format", "csv", "--until", "2026-02-30"], "sereno: --until: '2026-02-30' is not an ISO date or time"),
        (["--format", "csv", "--neighborhood", "atlantis"], "sereno: unknown neighborhood 'atlantis': use one of"),
        (["--format", "csv", "--since", "2026-02-01", "--until", "2026-01-01"], "sereno: the window is empty"),
        (["--format", "cap", "--sender", "my network"], "sereno: --sender: sender 'my network' must be one word"),
        (["--format", "csv", "--output", "/nonexistent/dir/x.csv"], "sereno: cannot write /nonexistent/dir/x.csv"),
    ],
)
def test_bad_export_arguments_exit_2_with_one_line(database: str, args: list[str], message: str) -> None:
    done = sereno(database, "export", *args)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""
