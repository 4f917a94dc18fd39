"""Drill scenarios: parsing with clear errors, grading and the certification bar."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from verify.drills import CertificationBar, DrillFileError, Grade, grade, parse_scenarios
from verify.incidents import Verdict
from verify.model import Activity, Uniform

AREAS = {"harbor-view", "old-mill"}


def scenario(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "utility-crew", "title": {"en": "Vests on Main", "es": "Chalecos en Main"}, "answer": "debunked",
        "explanation": {"en": "A city crew.", "es": "Una cuadrilla de la ciudad."},
        "reports": [{"activity": "presence", "neighborhood": "old-mill", "point": [34.05, -118.21], "minutes_ago": 5,
                     "agents": "3-5", "uniform": "unknown", "text": {"en": "Men in vests", "es": "Hombres con chalecos"}}],
    }
    base.update(overrides)
    return base


def test_a_valid_scenario_is_read_with_every_field() -> None:
    [parsed] = parse_scenarios({"scenarios": [scenario()]}, AREAS)
    assert parsed.answer is Verdict.DEBUNKED and parsed.title["es"] == "Chalecos en Main"
    [report] = parsed.reports
    assert report.activity is Activity.PRESENCE and report.uniform is Uniform.UNKNOWN and report.minutes_ago == 5
    assert report.point is not None and report.point.lat == 34.05


@pytest.mark.parametrize(("data", "message"), [
    ({}, "non-empty list under 'scenarios'"),
    ({"scenarios": ["text"]}, "scenarios[0]: each scenario is a mapping"),
    ({"scenarios": [scenario(id="Bad Id")]}, "scenarios[0].id: a lowercase slug"),
    ({"scenarios": [scenario(), scenario()]}, "scenarios[1].id: 'utility-crew' is used twice"),
    ({"scenarios": [scenario(answer="maybe")]}, "scenarios[0].answer: one of confirmed, debunked, unverifiable"),
    ({"scenarios": [scenario(title={"en": "only English"})]}, "scenarios[0].title: missing the es text"),
    ({"scenarios": [scenario(reports=[])]}, "scenarios[0].reports: 1 to 8 reports"),
    ({"scenarios": [scenario(colour="red")]}, "scenarios[0]: unknown field 'colour'"),
    ({"scenarios": [scenario(reports=[{"activity": "riot", "text": {"en": "x", "es": "x"}}])]},
     "scenarios[0].reports[0].activity: 'riot' is not one of"),
    ({"scenarios": [scenario(reports=[{"activity": "arrest", "text": {"en": "x", "es": "x"}, "minutes_ago": -3}])]},
     "scenarios[0].reports[0].minutes_ago"),
    ({"scenarios": [scenario(reports=[{"activity": "arrest", "text": {"en": "x", "es": "x"}, "point": [95, 0]}])]},
     "scenarios[0].reports[0].point"),
    ({"scenarios": [scenario(reports=[{"activity": "arrest", "text": {"en": "x", "es": "x"}, "neighborhood": "mars"}])]},
     "scenarios[0].reports[0].neighborhood: unknown neighborhood 'mars'"),
])
def test_malformed_scenarios_are_refused_naming_the_problem(data: object, message: str) -> None:
    with pytest.raises(DrillFileError) as refused:
        parse_scenarios(data, AREAS)
    assert message in str(refused.value)


def test_grading_and_the_certification_bar() -> None:
    [parsed] = parse_scenarios({"scenarios": [scenario()]}, AREAS)
    assert grade(parsed, Verdict.DEBUNKED, timedelta(minutes=1), timedelta(minutes=6)).correct
    assert not grade(parsed, Verdict.CONFIRMED, timedelta(minutes=1), timedelta(minutes=6)).correct
    bar = CertificationBar()
    good = [Grade(True, timedelta(minutes=1), timedelta(minutes=8))] * 9 + [Grade(False, timedelta(minutes=1), timedelta(minutes=9))]
    assert not bar.met_by(good[:9])  # too few drills
    assert bar.met_by(good)  # 90 % right, median 8 min
    slow = [Grade(True, timedelta(minutes=1), timedelta(minutes=12))] * 10
    assert not bar.met_by(slow)
