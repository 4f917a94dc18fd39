"""Drill scenarios for training verifiers: synthetic reports with a known true answer.

A scenario is one or more synthetic reports (activity, place, when, counts, text, maybe a
photo) with the answer a careful verifier should reach and why. Scenarios are authored as
YAML/JSON (see `sereno/data/drills.yaml`) and checked here field by field: a malformed file
is refused with the path of the first problem (``scenarios[3].reports[0].activity: …``).
Grading compares a trainee's verdict with the answer and measures how long they took;
certification says when a trainee's record meets a deployment's bar. A drill worked on
the desk is a :class:`DrillRun`; its outcome is a :class:`DrillDebrief` (the service is
:mod:`sereno.verify.training`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, TypeVar, overload

from sereno.verify.incidents import DrillKind, Verdict, VerdictRecord
from sereno.verify.members import Verifier
from sereno.verify.model import Activity, AgentCount, GeoPoint, InvalidPoint, Uniform, VehicleCount
from sereno.verify.notices import Recipient

ANSWERS = (Verdict.CONFIRMED, Verdict.DEBUNKED, Verdict.UNVERIFIABLE)
LANGUAGES = ("en", "es")
MAX_REPORTS = 8
MAX_MINUTES_AGO = 720
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_E = TypeVar("_E", bound=StrEnum)


class DrillFileError(ValueError):
    """A scenario file that cannot be used; the message names the first problem's path."""


@dataclass(frozen=True, slots=True)
class DrillReport:
    """One synthetic report of a scenario; `text` by language."""

    activity: Activity
    text: Mapping[str, str]
    minutes_ago: int = 0
    neighborhood_id: str | None = None
    point: GeoPoint | None = None
    agents: AgentCount | None = None
    vehicles: VehicleCount | None = None
    uniform: Uniform | None = None
    photo: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    """A drill: its reports, the true answer and the explanation trainees see afterwards."""

    id: str
    title: Mapping[str, str]
    answer: Verdict
    explanation: Mapping[str, str]
    reports: tuple[DrillReport, ...]


def _texts(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DrillFileError(f"{where}: give the text per language, e.g. {{en: …, es: …}}")
    texts = {str(k): v.strip() for k, v in value.items() if isinstance(v, str) and v.strip()}
    missing = [code for code in LANGUAGES if code not in texts]
    if missing:
        raise DrillFileError(f"{where}: missing the {', '.join(missing)} text")
    return texts


@overload
def _choice(enum: type[_E], value: object, where: str, optional: Literal[False]) -> _E: ...
@overload
def _choice(enum: type[_E], value: object, where: str, optional: bool = True) -> _E | None: ...
def _choice(enum: type[_E], value: object, where: str, optional: bool = True) -> _E | None:
    if value is None and optional:
        return None
    try:
        return enum(str(value))
    except ValueError:
        choices = ", ".join(str(m.value) for m in enum)
        raise DrillFileError(f"{where}: {value!r} is not one of {choices}") from None


def _report(raw: object, where: str, neighborhoods: set[str] | None) -> DrillReport:
    if not isinstance(raw, Mapping):
        raise DrillFileError(f"{where}: each report is a mapping of fields")
    unknown = set(raw) - {"activity", "text", "minutes_ago", "neighborhood", "point", "agents", "vehicles", "uniform", "photo"}
    if unknown:
        raise DrillFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    minutes = raw.get("minutes_ago", 0)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= MAX_MINUTES_AGO:
        raise DrillFileError(f"{where}.minutes_ago: a whole number from 0 to {MAX_MINUTES_AGO}")
    neighborhood = raw.get("neighborhood")
    if neighborhood is not None and (
        not isinstance(neighborhood, str) or (neighborhoods is not None and neighborhood not in neighborhoods)
    ):
        raise DrillFileError(f"{where}.neighborhood: unknown neighborhood {neighborhood!r}")
    point = raw.get("point")
    if point is not None:
        try:
            if (
                not isinstance(point, Sequence)
                or len(point) != 2
                or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
            ):
                raise InvalidPoint(point)
            point = GeoPoint(float(point[0]), float(point[1]))
        except InvalidPoint:
            raise DrillFileError(f"{where}.point: give [latitude, longitude] in degrees") from None
    photo = raw.get("photo", False)
    if not isinstance(photo, bool):
        raise DrillFileError(f"{where}.photo: true or false")
    return DrillReport(
        activity=_choice(Activity, raw.get("activity"), f"{where}.activity", optional=False),
        text=_texts(raw.get("text"), f"{where}.text"),
        minutes_ago=minutes,
        neighborhood_id=neighborhood,
        point=point,
        agents=_choice(AgentCount, raw.get("agents"), f"{where}.agents"),
        vehicles=_choice(VehicleCount, raw.get("vehicles"), f"{where}.vehicles"),
        uniform=_choice(Uniform, raw.get("uniform"), f"{where}.uniform"),
        photo=photo,
    )


def parse_scenarios(data: object, neighborhoods: set[str] | None = None) -> list[Scenario]:
    """Scenarios from a loaded YAML/JSON document ``{"scenarios": [...]}``; `neighborhoods`,
    when given, are the ids a report may name. Raises :class:`DrillFileError`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("scenarios"), list) or not data["scenarios"]:
        raise DrillFileError("the file must hold a non-empty list under 'scenarios'")
    scenarios: list[Scenario] = []
    for index, raw in enumerate(data["scenarios"]):
        where = f"scenarios[{index}]"
        if not isinstance(raw, Mapping):
            raise DrillFileError(f"{where}: each scenario is a mapping of fields")
        unknown = set(raw) - {"id", "title", "answer", "explanation", "reports"}
        if unknown:
            raise DrillFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        scenario_id = raw.get("id")
        if not isinstance(scenario_id, str) or not _SLUG.match(scenario_id):
            raise DrillFileError(f"{where}.id: a lowercase slug like 'utility-crew'")
        if any(s.id == scenario_id for s in scenarios):
            raise DrillFileError(f"{where}.id: {scenario_id!r} is used twice")
        answer = raw.get("answer")
        if answer not in [a.value for a in ANSWERS]:
            raise DrillFileError(f"{where}.answer: one of {', '.join(a.value for a in ANSWERS)}")
        reports = raw.get("reports")
        if not isinstance(reports, list) or not 1 <= len(reports) <= MAX_REPORTS:
            raise DrillFileError(f"{where}.reports: 1 to {MAX_REPORTS} reports")
        scenarios.append(
            Scenario(
                id=scenario_id,
                title=_texts(raw.get("title"), f"{where}.title"),
                answer=Verdict(answer),
                explanation=_texts(raw.get("explanation"), f"{where}.explanation"),
                reports=tuple(_report(r, f"{where}.reports[{i}]", neighborhoods) for i, r in enumerate(reports)),
            )
        )
    return scenarios


def scenario_document(scenario: Scenario) -> dict[str, object]:
    """The scenario as the mapping :func:`parse_scenarios` reads (how it is stored)."""

    def report(r: DrillReport) -> dict[str, object]:
        doc: dict[str, object] = {
            "activity": r.activity.value,
            "text": dict(r.text),
            "minutes_ago": r.minutes_ago,
            "photo": r.photo,
        }
        if r.neighborhood_id is not None:
            doc["neighborhood"] = r.neighborhood_id
        if r.point is not None:
            doc["point"] = [r.point.lat, r.point.lon]
        for name, value in (("agents", r.agents), ("vehicles", r.vehicles), ("uniform", r.uniform)):
            if value is not None:
                doc[name] = value.value
        return doc

    return {
        "id": scenario.id,
        "title": dict(scenario.title),
        "answer": scenario.answer.value,
        "explanation": dict(scenario.explanation),
        "reports": [report(r) for r in scenario.reports],
    }


@dataclass(frozen=True, slots=True)
class Grade:
    """One drill verdict scored: right or wrong, and how long claiming and deciding took."""

    correct: bool
    time_to_claim: timedelta
    time_to_verdict: timedelta


def grade(scenario: Scenario, verdict: Verdict, time_to_claim: timedelta, time_to_verdict: timedelta) -> Grade:
    """Score a verdict against the scenario's answer."""
    return Grade(verdict is scenario.answer, time_to_claim, time_to_verdict)


@dataclass(frozen=True, slots=True)
class CertificationBar:
    """What a trainee's drill record must show before coordinators are asked to promote
    them (configurable); promotion stays a coordinator's decision."""

    min_drills: int = 10
    min_accuracy: float = 0.9
    max_median_verdict: timedelta = timedelta(minutes=10)

    def met_by(self, grades: Sequence[Grade]) -> bool:
        if len(grades) < self.min_drills:
            return False
        accuracy = sum(g.correct for g in grades) / len(grades)
        median = statistics.median(g.time_to_verdict.total_seconds() for g in grades)
        return accuracy >= self.min_accuracy and median <= self.max_median_verdict.total_seconds()


@dataclass(frozen=True, slots=True)
class DrillRun:
    """One drill on the desk. `person` is the trainee (training) or the coordinator who
    injected it (live); the verdict and times are filled in when it is decided."""

    id: str
    scenario_id: str
    incident_id: str
    kind: DrillKind
    person: int
    started_at: datetime
    first_claimed_at: datetime | None = None
    verdict: Verdict | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """A person's graded training drills."""

    person: Verifier
    grades: tuple[Grade, ...]
    meets_bar: bool

    @property
    def drills(self) -> int:
        return len(self.grades)

    @property
    def correct(self) -> int:
        return sum(g.correct for g in self.grades)

    @property
    def accuracy(self) -> float:
        return self.correct / self.drills if self.grades else 0.0

    @property
    def median_verdict(self) -> timedelta | None:
        return _median(g.time_to_verdict for g in self.grades)


def _median(values: Iterable[timedelta]) -> timedelta | None:
    seconds = [v.total_seconds() for v in values]
    return timedelta(seconds=statistics.median(seconds)) if seconds else None


@dataclass(frozen=True, slots=True)
class DrillDebrief:
    """A drill just finished: its grade (None when a coordinator ended a live drill before
    any decision) and the scenario's explanation; for a live drill the desk members who
    worked it; for a practice drill the person's record, this drill included, and whether
    it just got them proposed to coordinators.

    And whom to tell what: a practice drill's feedback goes to the `trainee`, the proposal
    to promote them to every coordinator (`proposal_to`, only when `proposed`); a live
    drill is revealed as a drill to those who worked it, coordinators excepted
    (`revealed_to`), and reported to every coordinator (`report_to`)."""

    run: DrillRun
    scenario: Scenario
    grade: Grade | None
    verdicts: tuple[VerdictRecord, ...]
    participants: tuple[int, ...] = ()
    record: TrainingRecord | None = None
    proposed: bool = False
    trainee: Recipient | None = None
    proposal_to: tuple[Recipient, ...] = ()
    revealed_to: tuple[Recipient, ...] = ()
    report_to: tuple[Recipient, ...] = ()

    @property
    def proposal(self) -> TrainingRecord | None:
        """The record to put to coordinators, when this drill got the trainee proposed."""
        return self.record if self.proposed else None
