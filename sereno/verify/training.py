"""Training and drills on the desk: practice drills, live fire drills, records, certification.

A drill is a scenario (see :mod:`sereno.verify.drills`) turned into a real incident with synthetic
reports, marked with a :class:`DrillKind` at the domain level, so the desk's claim, lease,
verdict and reason work on it exactly as on any other incident, while:

- no drill is ever published: the desk never hands a drill to the publisher, the publisher
  refuses one, and the outbox never gives the broadcaster an alert about one;
- no real report ever joins a drill: drill incidents carry no h3 cell (the intake's nearest
  lookup searches cells) and the neighborhood lookup skips them;
- a *training* drill sits in one person's own queue, and their verdict decides it at once;
- a *live* drill sits in the live queue and follows the two-person rule like any incident;
  only coordinators see that it is a drill, until it is decided and everyone who worked it
  is told.

Each finished drill is graded (right answer, time to first claim, time to verdict). A
trainee whose record meets the deployment's bar is proposed to coordinators once; the
promotion itself stays a coordinator's decision through the roster (audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sereno.verify.audit import AuditEvent
from sereno.verify.desk import DeskGuard
from sereno.verify.drills import (
    CertificationBar,
    DrillDebrief,
    DrillReport,
    DrillRun,
    Grade,
    Scenario,
    TrainingRecord,
    grade,
    parse_scenarios,
)
from sereno.verify.errors import RefusalReason
from sereno.verify.incidents import TIER_ORDER, DrillKind, Incident, IncidentStatus, Verdict, VerdictRecord
from sereno.verify.members import Role, Verifier
from sereno.verify.model import Report, ReportDraft, TimeSeen
from sereno.verify.notices import CardNotice, CardReason, Recipient, covering, holding, recipients
from sereno.verify.places import Gazetteer
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sereno.verify.refcodes import new_ref_code
from sereno.verify.triage import tier_for

#: What synthetic reports carry instead of a reporter's pseudonym (nobody's pseudonym).
DRILL_REPORTER = "drill"


def grade_run(run: DrillRun, scenario: Scenario) -> Grade:
    """A finished run scored against its scenario (claim time counts from the start)."""
    assert run.verdict is not None and run.finished_at is not None
    claimed = run.first_claimed_at or run.finished_at
    return grade(scenario, run.verdict, claimed - run.started_at, run.finished_at - run.started_at)


@dataclass(frozen=True, slots=True)
class DrillStarted:
    """A live drill just put in the queue: its incident, and the card for the verifiers on
    duty covering it, as a real incident's (nearest first)."""

    incident: Incident
    cards: tuple[CardNotice, ...]


@dataclass(frozen=True, slots=True)
class LiveDrill:
    """A live drill as coordinators see it: the run, its scenario and its incident now."""

    run: DrillRun
    scenario: Scenario
    incident: Incident


def synthetic_incident(scenario: Scenario, kind: DrillKind, language: str, now: datetime) -> tuple[Incident, list[Report]]:
    """The incident and reports a scenario becomes: texts in `language` (else English),
    times counted back from `now`, the tier the intake's triage would give. No h3 cell, so
    no real report can ever be clustered into it."""
    incident_id = str(uuid.uuid4())
    reports = [_report(r, incident_id, language, now) for r in scenario.reports]
    first = min(reports, key=lambda r: r.created_at)
    tier = min((r.tier for r in reports), key=TIER_ORDER.index)
    located = next((r for r in reports if r.point is not None), None)
    activity = next((r.activity for r in reports if r.activity is not None), None)
    incident = Incident(
        id=incident_id,
        status=IncidentStatus.OPEN,
        tier=tier,
        activity=activity,
        neighborhood_id=next((r.neighborhood_id for r in reports if r.neighborhood_id), None),
        point=located.point if located else None,
        cell=None,
        first_seen_at=first.created_at,
        last_seen_at=max(r.created_at for r in reports),
        report_count=len(reports),
        drill=kind,
    )
    return incident, reports


def _report(drill: DrillReport, incident_id: str, language: str, now: datetime) -> Report:
    text_language = language if language in drill.text else "en"
    draft = ReportDraft(
        draft_id=str(uuid.uuid4()),
        activity=drill.activity,
        time_seen=TimeSeen.NOW,
        agents=drill.agents,
        vehicles=drill.vehicles,
        uniform=drill.uniform,
        details=drill.text[text_language],
        point=drill.point,
        neighborhood_id=drill.neighborhood_id,
    )
    return Report(
        id=str(uuid.uuid4()),
        ref_code=new_ref_code(),
        draft_id=draft.draft_id,
        reporter=DRILL_REPORTER,
        language=text_language,
        tier=tier_for(draft),
        created_at=now - timedelta(minutes=drill.minutes_ago),
        activity=draft.activity,
        time_seen=draft.time_seen,
        agents=draft.agents,
        vehicles=draft.vehicles,
        uniform=draft.uniform,
        details=draft.details,
        point=draft.point,
        neighborhood_id=draft.neighborhood_id,
        incident_id=incident_id,
    )


class TrainingService(DeskGuard):
    """Scenarios, practice and live drills, records and certification proposals; every
    action and refusal is audited."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        bar: CertificationBar | None = None,
        pseudonymize: Callable[[int], str] | None = None,
        *,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        """`gazetteer`: the neighborhoods, to order the verifiers sent a live drill nearest
        first (without it, in roster order)."""
        self._uow = uow
        self._clock = clock
        self.bar = bar or CertificationBar()
        self._pseudonymize = pseudonymize
        self._gazetteer = gazetteer

    async def scenarios(self, user_id: int) -> list[Scenario]:
        """Every stored scenario (coordinators)."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.COORDINATOR, "drills.list", "scenarios")
            return await uow.drills.all()

    async def import_scenarios(self, user_id: int | None, document: object) -> tuple[int, int]:
        """Add or replace the scenarios of a loaded YAML/JSON document (coordinators, or the
        command line when `user_id` is None); returns (new, replaced). A malformed document
        raises `DrillFileError` naming the first problem, and nothing is stored."""
        now = self._clock.now()
        async with self._uow() as uow:
            if user_id is not None:
                await self._member(uow, user_id, Role.COORDINATOR, "drills.import", "scenarios")
            known = {nb.id for nb in await uow.neighborhoods.all()}
            scenarios = parse_scenarios(document, known or None)
            new = [await uow.drills.save(scenario, now) for scenario in scenarios]
            await self._audit(uow, user_id, "drills.import", "scenarios", {"ids": [s.id for s in scenarios]})
            await uow.commit()
        return sum(new), len(new) - sum(new)

    async def practice(self, user_id: int, language: str) -> Incident:
        """The person's training drill: the open one if they have one, else a new one from
        the scenario they have done least (never done first, in the order stored)."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.TRAINEE, "drills.practice", "training")
            runs = await uow.drills.runs(DrillKind.TRAINING, user_id)
            open_run = next((r for r in runs if not r.finished), None)
            if open_run is not None:
                incident = await uow.incidents.get(open_run.incident_id)
                assert incident is not None
                return incident
            scenarios = await uow.drills.all()
            if not scenarios:
                await self._refuse(uow, user_id, "drills.practice", "training", RefusalReason.NO_SCENARIOS)
            done = {s.id: sum(r.scenario_id == s.id for r in runs) for s in scenarios}
            scenario = min(scenarios, key=lambda s: done[s.id])
            incident = await self._start(uow, scenario, DrillKind.TRAINING, user_id, language, now)
            await self._audit(uow, user_id, "drills.practice", incident.id, {"scenario": scenario.id})
            await uow.commit()
        return incident

    async def inject_live(self, user_id: int, scenario_id: str, language: str) -> DrillStarted:
        """Put a scenario in the live queue as if it were real (coordinators), its texts in
        `language`: its card goes to the verifiers on duty covering it who read it."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.COORDINATOR, "drills.live", scenario_id[:64])
            scenario = await uow.drills.get(scenario_id)
            if scenario is None:
                await self._refuse(uow, user_id, "drills.live", scenario_id[:64], RefusalReason.UNKNOWN_INCIDENT)
            assert scenario is not None
            incident = await self._start(uow, scenario, DrillKind.LIVE, user_id, language, now)
            await self._audit(uow, user_id, "drills.live", incident.id, {"scenario": scenario.id})
            to = covering(await uow.verifiers.all(), incident, language, self._gazetteer)
            await uow.commit()
        return DrillStarted(incident, (CardNotice(incident, CardReason.NEW, to),))

    async def live_drills(self, user_id: int) -> list[LiveDrill]:
        """Live drills, newest first, with their incidents as they stand (coordinators)."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.COORDINATOR, "drills.live_list", "live")
            scenarios = {s.id: s for s in await uow.drills.all()}
            found = []
            for run in await uow.drills.runs(DrillKind.LIVE, None):
                incident = await uow.incidents.get(run.incident_id)
                if incident is not None and run.scenario_id in scenarios:
                    found.append(LiveDrill(run, scenarios[run.scenario_id], incident))
        return sorted(found, key=lambda d: d.run.started_at, reverse=True)

    async def record(self, user_id: int) -> TrainingRecord:
        """One's own training record (trainees and up)."""
        async with self._uow() as uow:
            person = await self._member(uow, user_id, Role.TRAINEE, "drills.record", "self")
            return (await self._records(uow, [person]))[0]

    async def records(self, user_id: int) -> list[TrainingRecord]:
        """The training record of every desk member who has trained, trainees first
        (coordinators)."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.COORDINATOR, "drills.records", "records")
            people = [p for p in await uow.verifiers.all() if p.role is not Role.REVOKED]
            records = [r for r in await self._records(uow, people) if r.drills]
        return sorted(records, key=lambda r: (r.person.role, r.person.name.casefold()))

    async def on_decided(
        self, uow: UnitOfWork, incident: Incident, verdict: Verdict, verdicts: tuple[VerdictRecord, ...], now: datetime
    ) -> DrillDebrief | None:
        """Finish the drill behind a decided incident, in the desk's transaction: grade it
        and, for a trainee who now meets the bar for the first time, propose them."""
        run = await uow.drills.run_for_incident(incident.id)
        scenario = await uow.drills.get(run.scenario_id) if run else None
        if run is None or scenario is None:
            return None
        run = replace(run, verdict=verdict, finished_at=now, first_claimed_at=incident.first_claimed_at or now)
        await uow.drills.finish(run)
        record, proposed = None, False
        person = await uow.verifiers.get(run.person) if run.kind is DrillKind.TRAINING else None
        if person is not None:
            [record] = await self._records(uow, [person])
            proposed = person.role is Role.TRAINEE and record.meets_bar and await uow.drills.propose(person.user_id, now)
            if proposed:
                await uow.audit.add(
                    AuditEvent(
                        now,
                        "system",
                        "drills.proposed",
                        f"verifier:{person.user_id}",
                        {"drills": record.drills, "correct": record.correct},
                    )
                )
        participants = tuple(dict.fromkeys(v.verifier_id for v in verdicts))
        debrief = DrillDebrief(run, scenario, grade_run(run, scenario), verdicts, participants, record, proposed)
        return await self._addressed(uow, debrief, person)

    async def end_live(self, user_id: int, incident_id: str) -> DrillDebrief:
        """End a live drill the desk has not decided (coordinators): it leaves the queue,
        and whoever gave a verdict or holds it is to be told it was a drill."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.COORDINATOR, "drills.end", incident_id[:36])
            run = await uow.drills.run_for_incident(incident_id)
            incident = await uow.incidents.get(incident_id)
            scenario = await uow.drills.get(run.scenario_id) if run else None
            if run is None or run.kind is not DrillKind.LIVE or incident is None or scenario is None:
                await self._refuse(uow, user_id, "drills.end", incident_id[:36], RefusalReason.UNKNOWN_INCIDENT)
            assert run is not None and incident is not None and scenario is not None
            if not await uow.incidents.withdraw(incident_id):
                await self._refuse(uow, user_id, "drills.end", incident_id, RefusalReason.DECIDED)
            run = replace(run, finished_at=now, first_claimed_at=incident.first_claimed_at)
            await uow.drills.finish(run)
            verdicts = await uow.verdicts.for_incident(incident_id)
            holders = [incident.claimed_by] if incident.claimed_by is not None else []
            await self._audit(uow, user_id, "drills.end", incident_id, {"verdicts": len(verdicts)})
            participants = tuple(dict.fromkeys([*(v.verifier_id for v in verdicts), *holders]))
            debrief = await self._addressed(uow, DrillDebrief(run, scenario, None, verdicts, participants), None)
            await uow.commit()
        return debrief

    @staticmethod
    async def _addressed(uow: UnitOfWork, debrief: DrillDebrief, trainee: Verifier | None) -> DrillDebrief:
        """The debrief with its recipients (see :class:`DrillDebrief`): `trainee` is the
        person who practised a training drill."""
        if debrief.run.kind is DrillKind.TRAINING:
            if trainee is None:
                return debrief
            people = await uow.verifiers.all() if debrief.proposed else []
            return replace(debrief, trainee=Recipient.of(trainee), proposal_to=holding(people, Role.COORDINATOR))
        people = await uow.verifiers.all()
        by_id = {person.user_id: person for person in people}
        worked = [by_id[p] for p in debrief.participants if p in by_id and not by_id[p].can(Role.COORDINATOR)]
        return replace(debrief, revealed_to=recipients(worked), report_to=holding(people, Role.COORDINATOR))

    async def _records(self, uow: UnitOfWork, people: list[Verifier]) -> list[TrainingRecord]:
        scenarios = {s.id: s for s in await uow.drills.all()}
        runs = await uow.drills.runs(DrillKind.TRAINING, None)
        records = []
        for person in people:
            grades = tuple(
                grade_run(r, scenarios[r.scenario_id])
                for r in runs
                if r.person == person.user_id and r.verdict is not None and r.scenario_id in scenarios
            )
            records.append(TrainingRecord(person, grades, self.bar.met_by(grades)))
        return records

    async def _start(
        self, uow: UnitOfWork, scenario: Scenario, kind: DrillKind, person: int, language: str, now: datetime
    ) -> Incident:
        incident, reports = synthetic_incident(scenario, kind, language, now)
        await uow.incidents.add(incident)
        for report in reports:
            await uow.reports.add(report)
        await uow.drills.add_run(DrillRun(str(uuid.uuid4()), scenario.id, incident.id, kind, person, now))
        return incident
