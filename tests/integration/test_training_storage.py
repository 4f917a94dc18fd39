"""Training and live drills on the desk, in the database (SQLite and PostgreSQL): drills
work like incidents but never reach the outbox, a real report never joins one, grading,
records, certification proposals and the stats."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.admin import replace_neighborhoods
from sereno.storage.images import PillowImageSanitizer
from sereno.verify.alerts import Alert, AlertKind, AlertPolicy, MessageKind, Priority, TargetKind
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.drills import CertificationBar, DrillFileError
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import DrillKind, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, ReportDraft
from sereno.verify.places import parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.publishing import DrillNotPublished
from sereno.verify.stats import StatsService
from sereno.verify.training import TrainingService
from tests.conftest import DEMO_REGION
from tests.integration.test_outbox_storage import ANA, BEN, COORD, World

STARTER = Path(__file__).parents[2] / "sereno" / "data" / "drills.yaml"
TRAINEE = 20


class Training(World):
    """The outbox world plus the training service, a trainee and the starter scenarios."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, AlertPolicy())
        self.training = TrainingService(self.uow, self.clock, CertificationBar(2, 0.5, timedelta(minutes=10)))
        self.desk = DeskService(
            self.uow, self.clock, on_decided=self.publisher.on_decided, on_drill_decided=self.training.on_decided
        )

    async def practice_and_decide(self, right: bool = True) -> tuple[str, Outcome]:
        incident = await self.training.practice(TRAINEE, "es")
        self.clock.advance(timedelta(seconds=30))
        await self.desk.claim(TRAINEE, incident.id)
        self.clock.advance(timedelta(minutes=2))
        async with self.uow() as uow:
            run = await uow.drills.run_for_incident(incident.id)
            assert run is not None
            answer = (await uow.drills.get(run.scenario_id)).answer  # type: ignore[union-attr]
        verdict = answer if right else next(v for v in (Verdict.CONFIRMED, Verdict.DEBUNKED) if v is not answer)
        result = await self.desk.decide(TRAINEE, incident.id, verdict, "looked at the vests")
        assert result.drill is not None
        self.last = result.drill
        return incident.id, result.outcome


@pytest.fixture
async def training(engine: AsyncEngine, database_url: str) -> Training:
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    world = Training(engine)
    await world.staff()
    await world.roster.redeem((await world.roster.invite(None, Role.TRAINEE)).code, TRAINEE, "Tomas")
    await world.training.import_scenarios(COORD, yaml.safe_load(STARTER.read_text()))
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    return world


async def outbox_and_alerts(world: World) -> tuple[int, int]:
    async with world.uow() as uow:
        return await uow.outbox.backlog(), len(await uow.alerts.active())


async def test_a_practice_drill_is_claimed_decided_by_one_verdict_and_graded_without_reaching_the_outbox(
    training: Training,
) -> None:
    incident_id, outcome = await training.practice_and_decide()
    debrief = training.last
    assert outcome is Outcome.DECIDED and debrief.run.kind is DrillKind.TRAINING
    assert debrief.grade.correct and debrief.grade.time_to_claim == timedelta(seconds=30)
    assert debrief.grade.time_to_verdict == timedelta(minutes=2, seconds=30)
    assert await outbox_and_alerts(training) == (0, 0)
    async with training.uow() as uow:
        reports = await uow.reports.for_incident(incident_id)
    assert reports and all(r.language == "es" for r in reports)  # the trainee's language


async def test_a_practice_drill_is_its_owners_alone_and_never_in_the_live_queue(training: Training) -> None:
    incident = await training.training.practice(TRAINEE, "en")
    assert incident.drill is DrillKind.TRAINING
    assert await training.training.practice(TRAINEE, "en") == incident  # the open one is resumed
    assert incident.id not in [i.id for i in await training.desk.queue(ANA)]
    for action in (training.desk.claim(ANA, incident.id), training.desk.view(ANA, incident.id)):
        with pytest.raises(Refusal) as refused:
            await action
        assert refused.value.reason is RefusalReason.UNKNOWN_INCIDENT
    await training.desk.claim(TRAINEE, incident.id)
    with pytest.raises(Refusal) as refused:
        await training.desk.decide(TRAINEE, incident.id, Verdict.NEEDS_INFO, "who saw it?")
    assert refused.value.reason is RefusalReason.DRILL_QUESTION
    training.clock.advance(timedelta(hours=1))
    await training.desk.release(TRAINEE, incident.id)
    assert await training.desk.unclaimed_pings() == []  # nobody is paged about practice


async def test_wrong_answers_are_graded_wrong_and_the_record_counts_them(training: Training) -> None:
    await training.practice_and_decide()
    await training.practice_and_decide(right=False)
    assert not training.last.grade.correct
    record = await training.training.record(TRAINEE)
    assert (record.drills, record.correct, record.accuracy) == (2, 1, 0.5)
    assert record.median_verdict == timedelta(minutes=2, seconds=30)


async def test_a_trainee_meeting_the_bar_is_proposed_once_and_promotion_stays_a_coordinators_decision(training: Training) -> None:
    await training.practice_and_decide()
    assert training.last.proposal is None and training.last.proposal_to == ()  # one drill: below the bar of two
    assert training.last.trainee is not None and training.last.trainee.user_id == TRAINEE
    await training.practice_and_decide()
    proposal = training.last.proposal
    assert proposal is not None and proposal.meets_bar and proposal.person.user_id == TRAINEE
    assert [r.user_id for r in training.last.proposal_to] == [COORD]  # coordinators decide, verifiers are not asked
    assert training.last.revealed_to == training.last.report_to == ()
    await training.practice_and_decide()
    assert training.last.proposal is None and training.last.proposal_to == ()  # proposed once
    assert (await training.roster.get(TRAINEE)).role is Role.TRAINEE  # type: ignore[union-attr]
    [record] = [r for r in await training.training.records(COORD) if r.person.user_id == TRAINEE]
    assert record.drills == 3 and record.meets_bar
    with pytest.raises(Refusal):
        await training.training.records(ANA)  # verifiers do not see others' records


async def test_a_live_drill_looks_real_to_verifiers_follows_the_two_person_rule_and_never_publishes(training: Training) -> None:
    [scenario] = [s for s in await training.training.scenarios(COORD) if s.answer is Verdict.CONFIRMED][:1]
    incident = (await training.training.inject_live(COORD, scenario.id, "en")).incident
    assert incident.id in [i.id for i in await training.desk.queue(ANA)]
    assert (await training.desk.view(ANA, incident.id)).incident.drill is None  # verifiers cannot tell
    assert (await training.desk.view(COORD, incident.id)).incident.drill is DrillKind.LIVE
    await training.desk.claim(ANA, incident.id)
    first = await training.desk.decide(ANA, incident.id, Verdict.CONFIRMED, "seen")
    assert first.outcome is Outcome.RECORDED and first.drill is None
    await training.desk.claim(BEN, incident.id)
    second = await training.desk.decide(BEN, incident.id, Verdict.CONFIRMED, "seen too")
    assert second.outcome is Outcome.DECIDED and second.drill is not None
    assert second.drill.grade.correct and set(second.drill.participants) == {ANA, BEN}
    # the two verifiers are told it was a drill; the coordinator gets its report
    assert {r.user_id for r in second.drill.revealed_to} == {ANA, BEN}
    assert [r.user_id for r in second.drill.report_to] == [COORD]
    assert second.drill.trainee is None and second.drill.proposal_to == ()
    assert await outbox_and_alerts(training) == (0, 0)
    [live] = await training.training.live_drills(COORD)
    assert live.run.finished and live.incident.verdict is Verdict.CONFIRMED


async def test_a_real_report_beside_a_live_drill_opens_its_own_incident(training: Training) -> None:
    scenario = next(s for s in await training.training.scenarios(COORD) if s.reports[0].point is not None)
    drill = (await training.training.inject_live(COORD, scenario.id, "en")).incident
    point = scenario.reports[0].point
    assert point is not None
    intake = IntakeService(
        training.uow, training.clock, Pseudonymizer(b"k" * 32), IntakePolicy(max_reports=100), images=PillowImageSanitizer()
    )
    where = training.gazetteer.locate(point.lat, point.lon)
    submitted = await intake.submit(
        ReportDraft("f" * 32, activity=scenario.reports[0].activity, point=point, neighborhood_id=where.id if where else None),
        500,
        500,
        "en",
    )
    assert submitted.incident is not None and submitted.incident.id != drill.id
    unplaced = await intake.submit(
        ReportDraft("e" * 32, activity=Activity.PRESENCE, neighborhood_id=drill.neighborhood_id), 501, 501, "en"
    )
    assert unplaced.incident is not None and unplaced.incident.id != drill.id


async def test_nothing_can_publish_a_drill_and_the_broadcaster_is_never_given_one(training: Training) -> None:
    incident = (await training.training.inject_live(COORD, (await training.training.scenarios(COORD))[0].id, "en")).incident
    async with training.uow() as uow:
        with pytest.raises(DrillNotPublished):
            await training.publisher.on_decided(uow, incident, Verdict.CONFIRMED, 2, training.clock.now())
        # even an alert written past the publisher (a bug, a hand edit) is not given to the broadcaster
        alert = Alert(
            id="forged",
            incident_id=incident.id,
            kind=AlertKind.ALERT,
            neighborhood_id="harbor-view",
            areas=("harbor-view",),
            activity=Activity.ARREST,
            tier=incident.tier,
            verifiers=2,
            reports=1,
            verified_at=training.clock.now(),
            expires_at=training.clock.now() + timedelta(hours=4),
        )
        await uow.alerts.add(alert)
        await uow.outbox.fan_out(
            alert.id, alert.areas, TargetKind.CHANNEL, MessageKind.POST, 0, Priority.URGENT, training.clock.now()
        )
        await uow.commit()
    claimed = await training.outbox.claim(10)
    assert claimed and await training.outbox.alerts([m.alert_id for m in claimed]) == {}


async def test_drills_are_left_out_of_the_desk_statistics(training: Training) -> None:
    real = await training.incident()
    await training.practice_and_decide()
    await training.training.inject_live(COORD, (await training.training.scenarios(COORD))[0].id, "en")
    figures = await StatsService(training.uow, training.clock).stats(COORD)
    assert (figures.total.incidents, figures.total.reports) == (1, 1)
    assert [a.neighborhood_id for a in figures.areas] == ["harbor-view"], real


async def test_scenario_files_are_imported_by_coordinators_only_and_malformed_ones_store_nothing(training: Training) -> None:
    before = len(await training.training.scenarios(COORD))
    with pytest.raises(DrillFileError, match=r"scenarios\[0\]\.answer"):
        await training.training.import_scenarios(
            COORD,
            {
                "scenarios": [
                    {
                        "id": "new-one",
                        "title": {"en": "x", "es": "x"},
                        "answer": "maybe",
                        "explanation": {"en": "x", "es": "x"},
                        "reports": [{"activity": "arrest", "text": {"en": "x", "es": "x"}}],
                    }
                ]
            },
        )
    with pytest.raises(Refusal):
        await training.training.import_scenarios(ANA, yaml.safe_load(STARTER.read_text()))
    assert len(await training.training.scenarios(COORD)) == before
    assert await training.training.import_scenarios(COORD, yaml.safe_load(STARTER.read_text())) == (0, before)


async def test_a_coordinator_ends_an_undecided_live_drill_and_whoever_worked_it_is_to_be_told(training: Training) -> None:
    scenario = next(s for s in await training.training.scenarios(COORD) if s.answer is Verdict.CONFIRMED)
    incident = (await training.training.inject_live(COORD, scenario.id, "en")).incident
    await training.desk.claim(ANA, incident.id)
    await training.desk.decide(ANA, incident.id, Verdict.CONFIRMED, "seen")  # waits for a second verifier
    await training.desk.claim(BEN, incident.id)
    with pytest.raises(Refusal):
        await training.training.end_live(ANA, incident.id)  # coordinators only
    debrief = await training.training.end_live(COORD, incident.id)
    assert debrief.grade is None and debrief.participants == (ANA, BEN) and debrief.run.finished
    assert [r.user_id for r in debrief.revealed_to] == [ANA, BEN] and [r.user_id for r in debrief.report_to] == [COORD]
    assert incident.id not in [i.id for i in await training.desk.queue(ANA)]
    with pytest.raises(Refusal) as refused:
        await training.desk.decide(BEN, incident.id, Verdict.CONFIRMED, "seen too")
    assert refused.value.reason is RefusalReason.DECIDED
    with pytest.raises(Refusal) as refused:
        await training.training.end_live(COORD, incident.id)
    assert refused.value.reason is RefusalReason.DECIDED
    practice = await training.training.practice(TRAINEE, "en")
    with pytest.raises(Refusal) as refused:
        await training.training.end_live(COORD, practice.id)  # only live drills are ended this way
    assert refused.value.reason is RefusalReason.UNKNOWN_INCIDENT
    assert await outbox_and_alerts(training) == (0, 0)
