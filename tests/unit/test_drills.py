"""Drill scenarios: parsing with clear errors, grading and the certification bar."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sereno.verify.drills import CertificationBar, DrillFileError, Grade, grade, parse_scenarios
from sereno.verify.incidents import Verdict
from sereno.verify.model import Activity, Uniform

AREAS = {"harbor-view", "old-mill"}


def scenario(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "utility-crew",
        "title": {"en": "Vests on Main", "es": "Chalecos en Main"},
        "answer": "debunked",
        "explanation": {"en": "A city crew.", "es": "Una cuadrilla de la ciudad."},
        "reports": [
            {
                "activity": "presence",
                "neighborhood": "old-mill",
                "point": [34.05, -118.21],
                "minutes_ago": 5,
                "agents": "3-5",
                "uniform": "unknown",
                "text": {"en": "Men in vests", "es": "Hombres con chalecos"},
            }
        ],
    }
    base.update(overrides)
    return base


def test_a_valid_scenario_is_read_with_every_field() -> None:
    [parsed] = parse_scenarios({"scenarios": [scenario()]}, AREAS)
    assert parsed.answer is Verdict.DEBUNKED and parsed.title["es"] == "Chalecos en Main"
    [report] = parsed.reports
    assert report.activity is Activity.PRESENCE and report.uniform is Uniform.UNKNOWN and report.minutes_ago == 5
    assert report.point is not None and report.point.lat == 34.05


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "non-empty list under 'scenarios'"),
        ({"scenarios": ["text"]}, "scenarios[0]: each scenario is a mapping"),
        ({"scenarios": [scenario(id="Bad Id")]}, "scenarios[0].id: a lowercase slug"),
        ({"scenarios": [scenario(), scenario()]}, "scenarios[1].id: 'utility-crew' is used twice"),
        ({"scenarios": [scenario(answer="maybe")]}, "scenarios[0].answer: one of confirmed, debunked, unverifiable"),
        ({"scenarios": [scenario(title={"en": "only English"})]}, "scenarios[0].title: missing the es text"),
        ({"scenarios": [scenario(reports=[])]}, "scenarios[0].reports: 1 to 8 reports"),
        ({"scenarios": [scenario(colour="red")]}, "scenarios[0]: unknown field 'colour'"),
        (
            {"scenarios": [scenario(reports=[{"activity": "riot", "text": {"en": "x", "es": "x"}}])]},
            "scenarios[0].reports[0].activity: 'riot' is not one of",
        ),
        (
            {"scenarios": [scenario(reports=[{"activity": "arrest", "text": {"en": "x", "es": "x"}, "minutes_ago": -3}])]},
            "scenarios[0].reports[0].minutes_ago",
        ),
        (
            {"scenarios": [scenario(reports=[{"activity": "arrest", "text": {"en": "x", "es": "x"}, "point": [95, 0]}])]},
            "scenarios[0].reports[0].point",
        ),
        (
            {"scenarios": [scenario(reports=[{"activity": "arrest", "text": {"en": "x", "es": "x"}, "neighborhood": "mars"}])]},
            "scenarios[0].reports[0].neighborhood: unknown neighborhood 'mars'",
        ),
    ],
)
def test_malformed_scenarios_are_refused_naming_the_problem(data: object, message: str) -> None:
    with pytest.raises(DrillFileError) as refused:
        parse_scenarios(data, AREAS)
    assert message in str(refused.value)


def test_grading_and_the_certification_bar() -> None:
    [parsed] = parse_scenarios({"scenarios": [scenario()]}, AREAS)
    assert grade(parsed, Verdict.DEBUNKED, timedelta(minutes=1), timedelta(minutes=6)).correct
    assert not grade(parsed, Verdict.CONFIRMED, timedelta(minutes=1), timedelta(minutes=6)).correct
    bar = CertificationBar()
    right = Grade(True, timedelta(minutes=1), timedelta(minutes=8))
    wrong = Grade(False, timedelta(minutes=1), timedelta(minutes=9))
    good = [right] * 9 + [wrong]
    assert not bar.met_by(good[:9])  # too few drills
    assert bar.met_by(good)  # 90 % right, median 8 min
    slow = [Grade(True, timedelta(minutes=1), timedelta(minutes=12))] * 10
    assert not bar.met_by(slow)


def test_the_starter_scenarios_load_and_are_graded() -> None:
    from pathlib import Path

    import yaml

    from sereno.verify.places import parse_geojson
    from tests.conftest import DEMO_REGION

    starter = Path(__file__).resolve().parents[2] / "sereno" / "data" / "drills.yaml"
    areas = {nb.id for nb in parse_geojson(DEMO_REGION.read_text())}
    scenarios = parse_scenarios(yaml.safe_load(starter.read_text(encoding="utf-8")), areas)
    assert len(scenarios) >= 12 and {s.answer for s in scenarios} == {Verdict.CONFIRMED, Verdict.DEBUNKED, Verdict.UNVERIFIABLE}
    ids = {s.id for s in scenarios}
    assert {
        "police-traffic-stop",
        "utility-crew-vests",
        "courthouse-plainclothes-arrest",
        "recycled-old-photo",
        "duplicate-flood-laundromat",
        "no-location-report",
    } <= ids
    warrant = next(s for s in scenarios if s.id == "dawn-home-admin-warrant")
    assert "judge" in warrant.explanation["en"] and "juez" in warrant.explanation["es"]
    grades = [grade(s, s.answer, timedelta(minutes=2), timedelta(minutes=5)) for s in scenarios]
    assert all(g.correct for g in grades) and CertificationBar().met_by(grades)
    wrong = [grade(s, Verdict.CONFIRMED, timedelta(minutes=2), timedelta(minutes=5)) for s in scenarios]
    assert not CertificationBar().met_by(wrong)


def test_import_drills_from_the_command_line(tmp_path: Any, clean_env: None, monkeypatch: Any, capsys: Any) -> None:
    from pathlib import Path

    from sereno.cli import main

    monkeypatch.setenv("SERENO_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'drills.db'}")
    starter = Path(__file__).resolve().parents[2] / "sereno" / "data" / "drills.yaml"
    assert main(["admin", "import-drills"]) == 0  # the starter set shipped with Sereno
    assert "drill scenarios (16 new, 0 replaced)" in capsys.readouterr().out
    assert main(["admin", "import-drills", str(starter)]) == 0
    assert "(0 new, 16 replaced)" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("scenarios:\n  - id: x\n    answer: maybe\n", encoding="utf-8")
    assert main(["admin", "import-drills", str(broken)]) == 2
    assert "broken.yaml: scenarios[0]" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    assert main(["admin", "import-drills", str(tmp_path / "bad.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
