"""Training on the in-memory unit of work: practice and live drills through the desk,
grading, records, certification at the deployment's bar, and the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sereno.verify.desk import Outcome
from sereno.verify.drills import CertificationBar, DrillDebrief, DrillFileError
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import DrillKind, IncidentStatus, Verdict
from sereno.verify.members import Role
from tests.unit.memory_world import ANA, BEN, COORD, TRAINEE, MemoryWorld

TEXT = {"en": "Agents by the market", "es": "Agentes junto al mercado"}


def scenario(scenario_id: str, answer: str = "confirmed") -> dict[str, object]:
    return {
        "id": scenario_id,
        "title": TEXT,
        "answer": answer,
        "explanation": TEXT,
        "reports": [{"activity": "presence", "text": TEXT, "neighborhood": "harbor-view", "minutes_ago": 5}],
    }


async def drills(bar: CertificationBar | None = None, *ids: str) -> MemoryWorld:
    """A world whose coordinator imported scenarios `ids` (confirmed ones), and a channel
    and a subscriber that a published drill would reach."""
    world = await MemoryWorld.create(bar=bar)
    assert await world.training.import_scenarios(COORD, {"scenarios": [scenario(i) for i in ids or ("alpha",)]}) == (
        len(ids or ("alpha",)),
        0,
    )
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    return world


async def practise(world: MemoryWorld, right: bool = True, after: timedelta = timedelta(minutes=2)) -> DrillDebrief:
    """The trainee's practice drill, claimed 30 s after it starts and decided `after` it
    started (within the 10-minute lease); its debrief."""
    incident = await world.training.practice(TRAINEE, "en")
    world.clock.advance(timedelta(seconds=30))
    await world.desk.claim(TRAINEE, incident.id)
    world.clock.advance(after - timedelta(seconds=30))
    result = await world.desk.decide(TRAINEE, incident.id, Verdict.CONFIRMED if right else Verdict.DEBUNKED, "vests")
    assert result.outcome is Outcome.DECIDED and result.drill is not None
    return result.drill


def nothing_published(world: MemoryWorld) -> bool:
    return world.uow.store.alerts == {} and world.uow.store.outbox == {}


async def test_a_drill_run_is_certified_at_the_bar() -> None:
    world = await drills(CertificationBar(2, 0.5, timedelta(minutes=10)))
    first = await practise(world, right=True, after=timedelta(minutes=10))
    assert first.proposal is None and first.proposal_to == ()  # one drill: below two
    assert first.trainee is not None and first.trainee.user_id == TRAINEE  # the feedback is theirs
    second = await practise(world, right=False, after=timedelta(minutes=10))  # half right, at the limit
    proposal = second.proposal
    assert proposal is not None and proposal.meets_bar and (proposal.drills, proposal.correct) == (2, 1)
    assert [r.user_id for r in second.proposal_to] == [COORD]  # coordinators decide; no verifier is asked
    assert second.revealed_to == second.report_to == ()
    assert [e.subject for e in world.uow.store.audit if e.action == "drills.proposed"] == [f"verifier:{TRAINEE}"]
    third = await practise(world)
    assert third.proposal is None and third.record is not None and third.record.meets_bar  # proposed once
    assert (await world.roster.get(TRAINEE)).role is Role.TRAINEE  # type: ignore[union-attr]  # a coordinator promotes


async def test_a_record_below_the_bar_in_accuracy_or_speed_is_not_proposed() -> None:
    world = await drills(CertificationBar(2, 0.9, timedelta(minutes=5)))
    await practise(world, right=True, after=timedelta(minutes=2))
    slow = await practise(world, right=True, after=timedelta(minutes=9))  # median verdict time: 5.5 minutes
    assert slow.proposal is None and slow.record is not None and not slow.record.meets_bar
    assert (await practise(world, right=False, after=timedelta(minutes=1))).proposal is None  # 2 right of 3
    record = await world.training.record(TRAINEE)
    assert (record.drills, record.correct, record.median_verdict) == (3, 2, timedelta(minutes=2))
    assert world.uow.store.proposals == {}


async def test_practice_returns_the_open_drill_and_then_the_least_practised_scenario() -> None:
    world = await drills(None, "alpha", "bravo")
    first = await world.training.practice(TRAINEE, "en")
    assert (await world.training.practice(TRAINEE, "es")).id == first.id  # still open: the same drill
    await practise(world)
    run_scenarios = [r.scenario_id for r in world.uow.store.drill_runs.values()]
    await practise(world)
    await practise(world)
    assert [r.scenario_id for r in world.uow.store.drill_runs.values()] == [*run_scenarios, "bravo", "alpha"]
    assert run_scenarios == ["alpha"]


async def test_practice_without_scenarios_is_refused() -> None:
    world = await MemoryWorld.create()
    with pytest.raises(Refusal) as refused:
        await world.training.practice(TRAINEE, "en")
    assert refused.value.reason is RefusalReason.NO_SCENARIOS
    assert world.uow.store.audit[-1].action == "refused.drills.practice"


async def test_a_training_drill_is_its_owners_alone_decided_by_one_verdict_and_never_published() -> None:
    world = await drills()
    incident = await world.training.practice(TRAINEE, "en")
    assert incident.drill is DrillKind.TRAINING and incident.cell is None
    assert incident.id not in [i.id for i in await world.desk.queue(ANA)]
    for person in (ANA, COORD):
        with pytest.raises(Refusal) as refused:
            await world.desk.claim(person, incident.id)
        assert refused.value.reason is RefusalReason.UNKNOWN_INCIDENT  # it does not exist for anyone else
    await world.desk.claim(TRAINEE, incident.id)
    with pytest.raises(Refusal) as question:
        await world.desk.decide(TRAINEE, incident.id, Verdict.NEEDS_INFO, "who saw it?")
    assert question.value.reason is RefusalReason.DRILL_QUESTION
    result = await world.desk.decide(TRAINEE, incident.id, Verdict.DEBUNKED, "police")
    assert result.outcome is Outcome.DECIDED and result.tell == ()
    assert result.drill is not None and result.drill.grade is not None and not result.drill.grade.correct
    assert result.drill.run.finished and result.drill.run.verdict is Verdict.DEBUNKED
    assert nothing_published(world)


async def test_a_live_drill_looks_real_to_verifiers_needs_two_of_them_and_is_never_published() -> None:
    world = await drills()
    with pytest.raises(Refusal) as refused:
        await world.training.inject_live(ANA, "alpha", "en")
    assert refused.value.reason is RefusalReason.NOT_ALLOWED
    with pytest.raises(Refusal):
        await world.training.inject_live(COORD, "no-such-scenario", "en")
    await world.roster.update(ANA, on_duty=True)
    await world.roster.update(TRAINEE, on_duty=True)
    started = await world.training.inject_live(COORD, "alpha", "en")
    incident = started.incident
    [card] = started.cards
    assert card.incident == incident and [r.user_id for r in card.to] == [ANA]  # on duty; no trainee, nobody off duty
    assert incident.id in [i.id for i in await world.desk.queue(ANA)]
    assert (await world.desk.view(ANA, incident.id)).incident.drill is None  # looks real
    assert (await world.desk.view(COORD, incident.id)).incident.drill is DrillKind.LIVE
    await world.desk.claim(ANA, incident.id)
    first = await world.desk.decide(ANA, incident.id, Verdict.CONFIRMED, "seen")
    assert first.outcome is Outcome.RECORDED and first.drill is None
    await world.desk.claim(BEN, incident.id)
    second = await world.desk.decide(BEN, incident.id, Verdict.CONFIRMED, "seen too")
    assert second.outcome is Outcome.DECIDED and second.drill is not None
    assert second.drill.participants == (ANA, BEN) and second.drill.grade is not None and second.drill.grade.correct
    assert second.drill.record is None  # a live drill is nobody's training record
    # who worked it is told it was a drill; the coordinators get its report
    assert [r.user_id for r in second.drill.revealed_to] == [ANA, BEN]
    assert [r.user_id for r in second.drill.report_to] == [COORD]
    assert second.drill.trainee is None and second.drill.proposal_to == ()
    assert nothing_published(world)
    [live] = await world.training.live_drills(COORD)
    assert live.run.finished and live.incident.status is IncidentStatus.DECIDED


async def test_a_coordinator_ends_an_undecided_live_drill_and_whoever_worked_it_is_to_be_told() -> None:
    world = await drills()
    incident = (await world.training.inject_live(COORD, "alpha", "en")).incident
    await world.desk.claim(ANA, incident.id)
    await world.desk.decide(ANA, incident.id, Verdict.CONFIRMED, "seen")
    await world.desk.claim(BEN, incident.id)
    with pytest.raises(Refusal) as not_allowed:
        await world.training.end_live(ANA, incident.id)
    assert not_allowed.value.reason is RefusalReason.NOT_ALLOWED
    debrief = await world.training.end_live(COORD, incident.id)
    assert debrief.grade is None and debrief.participants == (ANA, BEN) and debrief.run.finished
    assert [r.user_id for r in debrief.revealed_to] == [ANA, BEN] and [r.user_id for r in debrief.report_to] == [COORD]
    assert world.uow.store.incidents[incident.id].status is IncidentStatus.WITHDRAWN
    assert incident.id not in [i.id for i in await world.desk.queue(ANA)]
    with pytest.raises(Refusal) as again:
        await world.training.end_live(COORD, incident.id)
    assert again.value.reason is RefusalReason.DECIDED
    practice = await world.training.practice(TRAINEE, "en")
    with pytest.raises(Refusal) as training:
        await world.training.end_live(COORD, practice.id)
    assert training.value.reason is RefusalReason.UNKNOWN_INCIDENT  # only live drills are ended
    assert nothing_published(world)


async def test_scenarios_are_imported_by_coordinators_only_replaced_by_id_and_bad_files_store_nothing() -> None:
    world = await drills(None, "alpha")
    with pytest.raises(Refusal):
        await world.training.import_scenarios(ANA, {"scenarios": [scenario("bravo")]})
    assert await world.training.import_scenarios(None, {"scenarios": [scenario("alpha", "debunked"), scenario("bravo")]}) == (
        1,
        1,
    )
    with pytest.raises(DrillFileError):
        await world.training.import_scenarios(COORD, {"scenarios": [scenario("charlie"), {"id": "Bad Id"}]})
    stored = await world.training.scenarios(COORD)
    assert [(s.id, s.answer) for s in stored] == [("alpha", Verdict.DEBUNKED), ("bravo", Verdict.CONFIRMED)]
    with pytest.raises(DrillFileError):  # a neighborhood the deployment does not have
        await world.training.import_scenarios(
            COORD,
            {
                "scenarios": [
                    {**scenario("delta"), "reports": [{"activity": "presence", "text": TEXT, "neighborhood": "atlantis"}]}
                ]
            },
        )


async def test_coordinators_see_the_records_of_everyone_who_trained_trainees_first() -> None:
    world = await drills()
    await practise(world)
    await world.roster.redeem((await world.roster.invite(None, Role.TRAINEE)).code, 21, "Zoe")  # never trained
    records = await world.training.records(COORD)
    assert [(r.person.user_id, r.drills, r.accuracy) for r in records] == [(TRAINEE, 1, 1.0)]
    with pytest.raises(Refusal):
        await world.training.records(ANA)
    assert (await world.training.record(21)).drills == 0
