"""Dispatch: who is asked, asks passing on, check-ins and escalation, on-site verdicts,
who may see who went, and timers that come back after a restart (in-memory ports)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.dispatch import (
    CheckInAnswer,
    CheckInStage,
    DispatchNotice,
    DispatchState,
    EndReason,
    Finding,
    NoticeKind,
    Salute,
)
from sereno.verify.dispatch_service import (
    DispatchResult,
    DispatchService,
    OnSiteResult,
)
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import DrillKind, IncidentStatus, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, AgentCount, GeoPoint, ReportDraft, TimeSeen, Uniform
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from tests.conftest import DEMO_REGION
from tests.fakes import MemoryUnitOfWorkFactory

KEY = b"unit-test-key-0123456789abcdef"
ADMIN, COORD, DISP, ANA, BEN, TIM, OFF, NOT_IN = 1, 2, 3, 4, 5, 6, 7, 8
REPORTER = 99
GAZETTEER = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
LAS_PALMAS = GAZETTEER.get("las-palmas")
assert LAS_PALMAS is not None
T = TypeVar("T", DispatchResult, OnSiteResult)


class Sending(DispatchService):
    """Confirms every action's notices as sent (as the bot does after sending them); the
    job's notices are confirmed by `World.due`."""

    async def _sent(self, result: T) -> T:
        await self.notified([n.id for n in result.notices])
        return result

    async def send(self, incident_id: str, by: int) -> DispatchResult:
        return await self._sent(await super().send(incident_id, by))

    async def accept(self, dispatch_id: str, person: int, eta_minutes: int) -> DispatchResult:
        return await self._sent(await super().accept(dispatch_id, person, eta_minutes))

    async def decline(self, dispatch_id: str, person: int) -> DispatchResult:
        return await self._sent(await super().decline(dispatch_id, person))

    async def on_site_report(
        self,
        dispatch_id: str,
        person: int,
        finding: Finding,
        salute: Salute | None = None,
        text: str | None = None,
        photo_id: str | None = None,
    ) -> OnSiteResult:
        return await self._sent(await super().on_site_report(dispatch_id, person, finding, salute, text, photo_id))

    async def check_in(self, dispatch_id: str, person: int, answer: CheckInAnswer) -> DispatchResult:
        return await self._sent(await super().check_in(dispatch_id, person, answer))

    async def close(self, dispatch_id: str, by: int) -> DispatchResult:
        return await self._sent(await super().close(dispatch_id, by))


class World:
    """A desk in Las Palmas: ANA (verifier) lives there, TIM (trainee) next door in Cedar
    Heights, BEN (verifier) in far Eastfield; OFF opted in but is off duty; NOT_IN is on duty
    but never opted in; DISP is the verifier who dispatches."""

    def __init__(self) -> None:
        self.uow, self.clock = MemoryUnitOfWorkFactory(), ManualClock()
        self.pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, self.pseudonymize, IntakePolicy(max_reports=100), images=PillowImageSanitizer()
        )
        self.desk = DeskService(self.uow, self.clock, pseudonymize=self.pseudonymize)
        self.dispatch = self.service()

    def service(self) -> DispatchService:
        """A dispatch service whose actions' notices count as sent, as the bot would say."""
        return Sending(self.uow, self.clock, GAZETTEER, self.desk, pseudonymize=self.pseudonymize)

    async def staff(self) -> None:
        await self.roster.add_admin(ADMIN, "Admin")
        people = (
            (COORD, Role.COORDINATOR, "Cora"),
            (DISP, Role.VERIFIER, "Dee"),
            (ANA, Role.VERIFIER, "Ana"),
            (BEN, Role.VERIFIER, "Ben"),
            (TIM, Role.TRAINEE, "Tim"),
            (OFF, Role.VERIFIER, "Off"),
            (NOT_IN, Role.VERIFIER, "Nia"),
        )
        for user, role, name in people:
            await self.roster.redeem((await self.roster.invite(None, role)).code, user, name)
            if user != OFF:
                await self.roster.update(user, on_duty=True, neighborhoods=("las-palmas",) if user == NOT_IN else ())
        for user, area in (
            (ANA, "las-palmas"),
            (TIM, "cedar-heights"),
            (BEN, "eastfield"),
            (OFF, "las-palmas"),
            (DISP, "las-palmas"),
        ):
            await self.dispatch.opt_in(user, area)

    async def incident(self, n: int = 1, by: int = REPORTER, point: GeoPoint | None = None) -> str:
        assert LAS_PALMAS is not None
        draft = ReportDraft(
            f"d{by}-{n}",
            activity=Activity.PRESENCE,
            time_seen=TimeSeen.NOW,
            point=point or LAS_PALMAS.centroid,
            neighborhood_id="las-palmas",
        )
        submitted = await self.intake.submit(draft, by, by, "en")
        assert submitted.incident is not None
        return submitted.incident.id

    async def due(self) -> list[DispatchNotice]:
        """Run the job and confirm what it returned as sent."""
        notices = await self.dispatch.run_due()
        await self.dispatch.notified([n.id for n in notices])
        return notices

    def actions(self, prefix: str = "dispatch.") -> list[str]:
        return [e.action for e in self.uow.store.audit if e.action.startswith(prefix)]


@pytest.fixture
async def w() -> World:
    world = World()
    await world.staff()
    return world


def kinds(notices: tuple[DispatchNotice, ...] | list[DispatchNotice]) -> list[tuple[NoticeKind, int]]:
    return [(n.kind, n.recipient) for n in notices]


async def test_only_on_duty_field_verifiers_are_asked_nearest_first_and_not_the_dispatcher(w: World) -> None:
    incident = await w.incident()
    assert await w.dispatch.candidates(COORD, incident) == [DISP, ANA, TIM, BEN]  # a coordinator's send
    sent = await w.dispatch.send(incident, by=DISP)
    assert kinds(sent.notices) == [(NoticeKind.OFFER, ANA)]  # OFF is off duty, NOT_IN never opted in
    assert sent.dispatch.state is DispatchState.OFFERED and sent.dispatch.asked == (ANA,)


async def test_a_fresh_shared_location_counts_before_a_neighborhood_and_goes_stale(w: World) -> None:
    assert LAS_PALMAS is not None
    corner = GeoPoint(LAS_PALMAS.centroid.lat + 0.002, LAS_PALMAS.centroid.lon)  # ~220 m from the middle
    incident = await w.incident(point=corner)
    assert (await w.dispatch.candidates(COORD, incident))[-1] == BEN  # Eastfield is far
    shared = await w.dispatch.share_location(BEN, corner)
    assert shared.neighborhood_id == "las-palmas"  # the last shared neighborhood follows the pin
    assert await w.dispatch.candidates(COORD, incident) == [BEN, DISP, ANA, TIM]
    w.clock.advance(w.dispatch.policy.location_ttl)
    await w.due()
    kept = w.uow.store.dispatch.field_verifiers[BEN]
    assert kept.point is None and kept.neighborhood_id == "las-palmas"  # coarsened to the neighborhood
    assert "field.location" in w.actions("field.")
    assert all("lat" not in e.detail and "point" not in e.detail for e in w.uow.store.audit)


async def test_a_decline_passes_to_the_next_and_nobody_left_tells_the_dispatcher(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    passed = await w.dispatch.decline(sent.dispatch.id, ANA)
    assert kinds(passed.notices) == [(NoticeKind.OFFER, TIM)]
    passed = await w.dispatch.decline(sent.dispatch.id, TIM)
    assert kinds(passed.notices) == [(NoticeKind.OFFER, BEN)]
    ended = await w.dispatch.decline(sent.dispatch.id, BEN)
    assert ended.dispatch.state is DispatchState.DECLINED and ended.dispatch.end_reason is EndReason.NOBODY
    assert kinds(ended.notices) == [(NoticeKind.NOBODY, DISP)]
    assert w.actions() == [
        "dispatch.send",
        "dispatch.offer",
        "dispatch.decline",
        "dispatch.offer",
        "dispatch.decline",
        "dispatch.offer",
        "dispatch.decline",
        "dispatch.nobody",
    ]
    with pytest.raises(Refusal) as again:  # everyone was asked about this incident already
        await w.dispatch.send(incident, by=DISP)
    assert again.value.reason is RefusalReason.NO_FIELD_VERIFIER


async def test_an_unanswered_ask_expires_after_two_minutes_and_passes_on(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    w.clock.advance(timedelta(minutes=2) - timedelta(seconds=1))
    assert await w.due() == []
    w.clock.advance(timedelta(seconds=1))
    assert kinds(await w.due()) == [(NoticeKind.OFFER_ENDED, ANA), (NoticeKind.OFFER, TIM)]
    with pytest.raises(Refusal) as late:
        await w.dispatch.accept(sent.dispatch.id, ANA, 10)
    assert late.value.reason is RefusalReason.OFFER_GONE
    assert ("refused.dispatch.accept", {"reason": "offer_gone"}) in [(e.action, e.detail) for e in w.uow.store.audit]
    assert "dispatch.offer.expired" in w.actions()
    w.clock.advance(timedelta(minutes=2))
    assert kinds(await w.due()) == [(NoticeKind.OFFER_ENDED, TIM), (NoticeKind.OFFER, BEN)]
    w.clock.advance(timedelta(minutes=2))
    assert kinds(await w.due()) == [(NoticeKind.OFFER_ENDED, BEN), (NoticeKind.NOBODY, DISP)]
    assert w.uow.store.dispatch.dispatches[sent.dispatch.id][0].state is DispatchState.EXPIRED


async def test_accepting_tells_the_dispatcher_and_sets_the_check_in_at_eta_plus_twenty(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    with pytest.raises(Refusal) as bad:
        await w.dispatch.accept(sent.dispatch.id, ANA, 15)
    assert bad.value.reason is RefusalReason.BAD_ETA
    accepted = await w.dispatch.accept(sent.dispatch.id, ANA, 10)
    assert accepted.dispatch.state is DispatchState.ACCEPTED and accepted.dispatch.person == ANA
    check = accepted.dispatch.check_in
    assert check is not None and check.due_at == w.clock.now() + timedelta(minutes=30)
    [told] = accepted.notices
    assert (told.kind, told.recipient, told.eta_minutes) == (NoticeKind.ON_THE_WAY, DISP, 10)
    assert told.person is None and told.person_name is None  # the dispatcher is a verifier: not who


async def test_a_missed_check_in_reminds_then_escalates_once_and_is_audited(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    w.clock.advance(timedelta(minutes=25))
    assert kinds(await w.due()) == [(NoticeKind.CHECK_IN, ANA)]
    w.clock.advance(timedelta(minutes=5))
    assert kinds(await w.due()) == [(NoticeKind.REMINDER, ANA)]
    w.clock.advance(timedelta(minutes=5))
    escalated = await w.due()
    assert sorted(kinds(escalated)) == [(NoticeKind.ESCALATION, ADMIN), (NoticeKind.ESCALATION, COORD)]
    assert {(n.person, n.person_name, n.neighborhood_id) for n in escalated} == {(ANA, "Ana", "las-palmas")}
    for _ in range(12):  # hours go by: nobody is told again
        w.clock.advance(timedelta(minutes=10))
        assert await w.due() == []
    dispatch = w.uow.store.dispatch.dispatches[sent.dispatch.id][0]
    assert (dispatch.missed_check_ins, dispatch.escalations) == (1, 1)
    assert dispatch.check_in is not None and dispatch.check_in.stage is CheckInStage.ESCALATED
    assert w.actions("dispatch.check_in") == [
        "dispatch.check_in.asked",
        "dispatch.check_in.missed",
        "dispatch.check_in.escalated",
    ]
    escalation = next(e for e in w.uow.store.audit if e.action == "dispatch.check_in.escalated")
    assert escalation.detail == {"told": 2, "neighborhood": "las-palmas"}
    ok = await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.OK)  # late, but fine
    assert sorted(kinds(ok.notices)) == [(NoticeKind.ALL_CLEAR, ADMIN), (NoticeKind.ALL_CLEAR, COORD)]


async def test_an_escalation_not_confirmed_as_sent_comes_back_after_the_grace(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    for minutes in (25, 5):  # asked, reminded
        w.clock.advance(timedelta(minutes=minutes))
        await w.due()
    w.clock.advance(timedelta(minutes=5))
    lost = await w.dispatch.run_due()  # the sender dies before confirming
    assert {n.kind for n in lost} == {NoticeKind.ESCALATION}
    w.clock.advance(w.dispatch.policy.notice_grace)
    assert await w.dispatch.run_due() == []
    w.clock.advance(timedelta(seconds=1))
    again = await w.dispatch.run_due()
    assert sorted(n.id for n in again) == sorted(n.id for n in lost)


async def test_i_need_help_escalates_at_once_and_a_second_press_soon_after_tells_nobody_again(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    helped = await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.HELP)
    assert sorted(kinds(helped.notices)) == [(NoticeKind.HELP, ADMIN), (NoticeKind.HELP, COORD)]
    assert {n.neighborhood_id for n in helped.notices} == {"las-palmas"}
    again = await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.HELP)
    assert again.notices == ()
    assert w.actions("dispatch.check_in.help") == ["dispatch.check_in.help", "dispatch.check_in.help"]
    w.clock.advance(timedelta(hours=2))
    assert await w.due() == []  # no prompts to someone who asked for help
    assert helped.dispatch.escalations == 1


async def test_someone_whose_role_was_taken_away_in_the_field_is_still_heard(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    await w.roster.set_role(COORD, ANA, Role.REVOKED)
    helped = await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.HELP)
    assert {n.kind for n in helped.notices} == {NoticeKind.HELP}
    with pytest.raises(Refusal) as stranger:
        await w.dispatch.check_in(sent.dispatch.id, BEN, CheckInAnswer.SAFE)
    assert stranger.value.reason is RefusalReason.NOT_IN_FIELD


async def test_with_no_coordinator_on_the_roster_the_dispatcher_hears_of_a_missed_check_in(w: World) -> None:
    for coordinator in (ADMIN, COORD):
        w.uow.store.verifiers[coordinator] = replace(w.uow.store.verifiers[coordinator], role=Role.VERIFIER)
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    for minutes in (25, 5):
        w.clock.advance(timedelta(minutes=minutes))
        await w.due()
    w.clock.advance(timedelta(minutes=5))
    [told] = await w.due()
    assert (told.kind, told.recipient, told.person) == (NoticeKind.ESCALATION, DISP, None)


async def test_i_am_ok_reschedules_and_safe_and_gone_ends_keeping_only_the_neighborhood(w: World) -> None:
    incident = await w.incident()
    assert LAS_PALMAS is not None
    await w.dispatch.share_location(ANA, LAS_PALMAS.centroid)
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    w.clock.advance(timedelta(minutes=25))
    await w.due()
    ok = await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.OK)
    assert ok.notices == ()  # nobody had been told anything
    assert ok.dispatch.check_in is not None and ok.dispatch.check_in.due_at == w.clock.now() + timedelta(minutes=20)
    w.clock.advance(timedelta(hours=1, minutes=30))  # past the location's TTL: still in the field, still kept
    assert kinds(await w.due()) == [(NoticeKind.CHECK_IN, ANA)]
    assert w.uow.store.dispatch.field_verifiers[ANA].point is not None
    gone = await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.SAFE)
    assert gone.dispatch.state is DispatchState.CLOSED and gone.dispatch.end_reason is EndReason.SAFE
    kept = w.uow.store.dispatch.field_verifiers[ANA]
    assert kept.point is None and kept.neighborhood_id == "las-palmas"
    w.clock.advance(timedelta(hours=1))
    assert await w.due() == []
    with pytest.raises(Refusal) as ended:
        await w.dispatch.check_in(sent.dispatch.id, ANA, CheckInAnswer.OK)
    assert ended.value.reason is RefusalReason.DISPATCH_ENDED


async def test_a_trainees_on_site_report_is_shown_but_does_not_count(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.decline(sent.dispatch.id, ANA)
    await w.dispatch.accept(sent.dispatch.id, TIM, 10)
    result = await w.dispatch.on_site_report(
        sent.dispatch.id, TIM, Finding.CONFIRMED, Salute(agents=AgentCount.FEW, uniform=Uniform.ICE), "Two SUVs, vests"
    )
    assert result.verdict is None and not result.report.counts and result.report.refusal == "trainee_live"
    assert result.dispatch.state is DispatchState.ON_SITE
    assert w.uow.store.verdicts == []  # nothing toward the two-person rule
    assert [r.text for r in (await w.dispatch.card(DISP, incident)).reports] == ["Two SUVs, vests"]


async def test_a_verifiers_on_site_report_is_one_vote_of_the_two_person_rule(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 10)
    await w.desk.claim(DISP, incident)  # the dispatcher holds the card meanwhile: no matter
    result = await w.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.CONFIRMED, text="agents at the corner")
    assert result.verdict is not None and result.verdict.outcome is Outcome.RECORDED and result.report.counts
    assert kinds(result.notices) == [(NoticeKind.ON_SITE, DISP)]
    with pytest.raises(Refusal) as twice:
        await w.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.CONFIRMED)
    assert twice.value.reason is RefusalReason.ALREADY_REPORTED
    second = await w.desk.decide(DISP, incident, Verdict.CONFIRMED, "photos match")
    assert second.outcome is Outcome.DECIDED and second.incident.status is IncidentStatus.DECIDED
    assert [(v.verifier_id, v.counts) for v in second.verdicts] == [(ANA, True), (DISP, True)]


async def test_nothing_there_is_a_debunk_vote_and_people_who_voted_are_not_asked(w: World) -> None:
    incident = await w.incident()
    await w.desk.claim(ANA, incident)
    await w.desk.decide(ANA, incident, Verdict.DEBUNKED, "utility crew")
    sent = await w.dispatch.send(incident, by=DISP)
    assert sent.dispatch.asked == (TIM,)  # ANA already voted
    await w.dispatch.decline(sent.dispatch.id, TIM)
    await w.dispatch.accept(sent.dispatch.id, BEN, 30)
    result = await w.dispatch.on_site_report(sent.dispatch.id, BEN, Finding.NOTHING_THERE)
    assert result.verdict is not None and result.verdict.outcome is Outcome.DECIDED
    assert result.verdict.incident.verdict is Verdict.DEBUNKED


async def test_coordinators_alone_see_who_was_dispatched(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 20)
    await w.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.UNCERTAIN)
    desk_view = await w.dispatch.card(DISP, incident)
    [shown] = desk_view.dispatches
    assert shown.state is DispatchState.ON_SITE and shown.eta_minutes == 20 and shown.expected_at is not None
    assert (shown.person, shown.person_name, shown.dispatcher, shown.neighborhood_id) == (None, None, None, None)
    assert [(r.person, r.person_name) for r in desk_view.reports] == [(None, None)]
    coordinator_view = await w.dispatch.card(COORD, incident)
    [named] = coordinator_view.dispatches
    assert (named.person, named.person_name, named.dispatcher, named.neighborhood_id) == (ANA, "Ana", DISP, "las-palmas")
    assert [(r.person, r.person_name) for r in coordinator_view.reports] == [(ANA, "Ana")]
    assert [v.person for v in await w.dispatch.open_dispatches(COORD)] == [ANA]
    for outsider in (DISP, ANA, 12345):
        with pytest.raises(Refusal) as refused:
            await w.dispatch.open_dispatches(outsider)
        assert refused.value.reason is RefusalReason.NOT_ALLOWED
    with pytest.raises(Refusal):
        await w.dispatch.candidates(DISP, incident)
    with pytest.raises(Refusal):
        await w.dispatch.card(12345, incident)  # not on the desk at all


async def test_a_coordinators_dispatch_notice_names_the_person_and_a_coordinator_can_close(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=COORD)
    accepted = await w.dispatch.accept(sent.dispatch.id, DISP, 5)
    [told] = accepted.notices
    assert (told.kind, told.recipient, told.person, told.person_name) == (NoticeKind.ON_THE_WAY, COORD, DISP, "Dee")
    with pytest.raises(Refusal) as not_allowed:
        await w.dispatch.close(sent.dispatch.id, by=ANA)
    assert not_allowed.value.reason is RefusalReason.NOT_ALLOWED
    closed = await w.dispatch.close(sent.dispatch.id, by=COORD)
    assert closed.dispatch.state is DispatchState.CLOSED and closed.dispatch.ended_by == COORD
    assert kinds(closed.notices) == [(NoticeKind.CLOSED, DISP)]
    w.clock.advance(timedelta(hours=1))
    assert await w.due() == []


async def test_a_coordinator_closing_an_open_ask_withdraws_it(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    closed = await w.dispatch.close(sent.dispatch.id, by=COORD)
    assert kinds(closed.notices) == [(NoticeKind.OFFER_ENDED, ANA)]
    with pytest.raises(Refusal) as gone:
        await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    assert gone.value.reason is RefusalReason.OFFER_GONE


async def test_sending_is_checked_on_the_server_and_audited(w: World) -> None:
    incident = await w.incident()
    for who in (TIM, 12345):
        with pytest.raises(Refusal) as refused:
            await w.dispatch.send(incident, by=who)
        assert refused.value.reason is RefusalReason.NOT_ALLOWED
    refusals = [(e.actor, e.action) for e in w.uow.store.audit if e.action == "refused.dispatch.send"]
    assert refusals == [
        (f"verifier:{TIM}", "refused.dispatch.send"),
        (f"person:{w.pseudonymize(12345)}", "refused.dispatch.send"),
    ]
    await w.dispatch.send(incident, by=DISP)
    with pytest.raises(Refusal) as pending:  # one open ask per incident
        await w.dispatch.send(incident, by=COORD)
    assert pending.value.reason is RefusalReason.DISPATCH_PENDING
    with pytest.raises(Refusal) as unknown:
        await w.dispatch.send("no-such-incident", by=DISP)
    assert unknown.value.reason is RefusalReason.UNKNOWN_INCIDENT


async def test_a_second_person_may_be_sent_once_the_first_went_but_not_the_busy(w: World) -> None:
    first = await w.incident()
    sent = await w.dispatch.send(first, by=DISP)
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    again = await w.dispatch.send(first, by=DISP)
    assert again.dispatch.asked == (TIM,)  # ANA is in the field, and was asked about this one
    other = await w.intake.submit(
        ReportDraft("far", activity=Activity.ARREST, point=GeoPoint(34.035, -118.21), neighborhood_id="eastfield"),
        REPORTER + 2,
        REPORTER + 2,
        "en",
    )
    assert other.incident is not None
    elsewhere = await w.dispatch.send(other.incident.id, by=DISP)
    assert elsewhere.dispatch.asked == (BEN,)  # ANA is in the field and TIM is being asked


async def test_nobody_is_sent_to_a_drill(w: World) -> None:
    incident = await w.incident()
    store = w.uow.store
    store.incidents[incident] = replace(store.incidents[incident], drill=DrillKind.LIVE)
    with pytest.raises(Refusal) as refused:
        await w.dispatch.send(incident, by=DISP)
    assert refused.value.reason is RefusalReason.DRILL_DISPATCH
    assert store.dispatch.dispatches == {}
    card = await w.dispatch.card(DISP, incident)  # the card looks like a real one's
    assert (card.dispatches, card.reports, card.may_send) == ((), (), True)


async def test_the_timers_come_back_after_a_restart(w: World) -> None:
    incident = await w.incident()
    sent = await w.dispatch.send(incident, by=DISP)
    w.dispatch = w.service()  # a new process over the same storage
    w.clock.advance(timedelta(minutes=2))
    assert kinds(await w.due()) == [(NoticeKind.OFFER_ENDED, ANA), (NoticeKind.OFFER, TIM)]
    await w.dispatch.accept(sent.dispatch.id, TIM, 5)
    w.dispatch = w.service()
    w.clock.advance(timedelta(minutes=25))
    assert kinds(await w.due()) == [(NoticeKind.CHECK_IN, TIM)]
    w.dispatch = w.service()
    w.clock.advance(timedelta(minutes=10))  # the job was down for a while: one step at a time
    assert kinds(await w.due()) == [(NoticeKind.REMINDER, TIM)]
    w.dispatch = w.service()
    w.clock.advance(timedelta(minutes=5))
    assert {n.kind for n in await w.due()} == {NoticeKind.ESCALATION}


async def test_opting_in_needs_the_desk_and_a_known_neighborhood(w: World) -> None:
    with pytest.raises(Refusal) as outsider:
        await w.dispatch.opt_in(12345, "las-palmas")
    assert outsider.value.reason is RefusalReason.NOT_ALLOWED
    with pytest.raises(Refusal) as nowhere:
        await w.dispatch.opt_in(NOT_IN, "atlantis")
    assert nowhere.value.reason is RefusalReason.UNKNOWN_NEIGHBORHOOD
    with pytest.raises(Refusal) as not_in:
        await w.dispatch.share_location(NOT_IN, GeoPoint(34.05, -118.25))
    assert not_in.value.reason is RefusalReason.NOT_FIELD_VERIFIER
    assert await w.dispatch.opt_out(ANA) and not await w.dispatch.opt_out(ANA)
    incident = await w.incident()
    assert ANA not in await w.dispatch.candidates(COORD, incident)


async def test_stats_count_dispatches_times_missed_check_ins_and_escalations(w: World) -> None:
    incident = await w.incident()
    w.clock.advance(timedelta(minutes=4))
    sent = await w.dispatch.send(incident, by=DISP)
    w.clock.advance(timedelta(minutes=1))
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)  # 5 min after the report
    w.clock.advance(timedelta(minutes=7))
    await w.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.CONFIRMED)  # 12 min after
    w.clock.advance(timedelta(minutes=30))
    for _ in range(3):
        await w.due()
        w.clock.advance(timedelta(minutes=5))
    nobody = await w.dispatch.send(incident, by=DISP)  # a second person: nobody left who can go
    for person in (TIM, BEN):
        await w.dispatch.decline(nobody.dispatch.id, person)
    stats = await w.dispatch.stats(COORD)
    assert (stats.dispatches, stats.accepted, stats.nobody) == (2, 1, 1)
    assert (stats.to_accepted.count, stats.to_accepted.median) == (1, 300.0)
    assert (stats.to_on_site.count, stats.to_on_site.median) == (1, 720.0)
    assert (stats.check_ins_missed, stats.escalations) == (1, 1)
    assert await w.dispatch.stats(None) == stats
    with pytest.raises(Refusal):
        await w.dispatch.stats(ANA)
