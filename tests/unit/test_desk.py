from datetime import timedelta

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskPolicy, DeskService, Outcome
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import IncidentStatus, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft, Tier, TimeSeen
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from tests.fakes import MemoryUnitOfWorkFactory

KEY = b"unit-test-key-0123456789abcdef"
ADMIN, COORD, ANA, BEN, TIM = 1, 2, 3, 4, 5
REPORTER = 99


class Desk:
    def __init__(self) -> None:
        self.uow, self.clock = MemoryUnitOfWorkFactory(), ManualClock()
        self.pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, self.pseudonymize, IntakePolicy(max_reports=100), images=PillowImageSanitizer()
        )
        self.desk = DeskService(self.uow, self.clock)

    async def staff(self) -> None:
        await self.roster.add_admin(ADMIN, "Admin")
        for user, role in ((COORD, Role.COORDINATOR), (ANA, Role.VERIFIER), (BEN, Role.VERIFIER), (TIM, Role.TRAINEE)):
            await self.roster.redeem((await self.roster.invite(None, role)).code, user, str(user))

    async def incident(self, activity: Activity = Activity.PRESENCE, by: int = REPORTER, n: int = 1) -> str:
        draft = ReportDraft(
            f"d{by}-{n}",
            activity=activity,
            time_seen=TimeSeen.NOW,
            point=GeoPoint(34.05 + n, -118.25),
            neighborhood_id="las-palmas",
        )
        submitted = await self.intake.submit(draft, by, by, "en")
        assert submitted.incident is not None
        return submitted.incident.id

    async def verdict(self, user: int, incident: str, verdict: Verdict) -> Outcome:
        await self.desk.claim(user, incident)
        return (await self.desk.decide(user, incident, verdict, "seen on site")).outcome


@pytest.fixture
async def d() -> Desk:
    desk = Desk()
    await desk.staff()
    return desk


async def test_two_verifiers_confirm_and_the_incident_is_decided(d: Desk) -> None:
    incident = await d.incident()
    assert await d.verdict(ANA, incident, Verdict.CONFIRMED) is Outcome.RECORDED
    assert d.uow.store.incidents[incident].claimed_by is None  # back in the queue for a second person
    with pytest.raises(Refusal) as again:
        await d.verdict(ANA, incident, Verdict.CONFIRMED)
    assert again.value.reason is RefusalReason.ALREADY_VOTED
    assert await d.verdict(BEN, incident, Verdict.CONFIRMED) is Outcome.DECIDED
    decided = d.uow.store.incidents[incident]
    assert decided.status is IncidentStatus.DECIDED and decided.verdict is Verdict.CONFIRMED


async def test_a_trainee_cannot_claim_a_live_incident_so_never_blocks_a_verifier(d: Desk) -> None:
    incident = await d.incident()
    with pytest.raises(Refusal) as refused:
        await d.desk.claim(TIM, incident)
    assert refused.value.reason is RefusalReason.TRAINEE_LIVE
    assert d.uow.store.incidents[incident].claimed_by is None
    assert (d.uow.store.audit[-1].action, d.uow.store.audit[-1].detail) == ("refused.claim", {"reason": "trainee_live"})
    assert (await d.desk.claim(ANA, incident)).claimed_by == ANA  # free for a verifier
    assert [i.id for i in await d.desk.queue(TIM)] == [incident]  # trainees still see the live queue


async def test_a_trainees_needs_more_info_never_reaches_a_reporter(d: Desk) -> None:
    incident = await d.incident()
    with pytest.raises(Refusal):
        await d.desk.claim(TIM, incident)
    await d.desk.claim(ANA, incident)
    await d.roster.set_role(COORD, ANA, Role.TRAINEE)  # demoted while holding the lease
    with pytest.raises(Refusal) as refused:
        await d.desk.decide(ANA, incident, Verdict.NEEDS_INFO, "Send your name and address to …")
    assert refused.value.reason is RefusalReason.TRAINEE_LIVE
    assert d.uow.store.follow_ups == {} and d.uow.store.owed == {} and d.uow.store.verdicts == []
    assert d.uow.store.audit[-1].action == "refused.verdict"


async def test_a_coordinator_who_voted_does_not_settle_the_disagreement_alone(d: Desk) -> None:
    incident = await d.incident()  # high tier: not the urgent "coordinator alone" rule
    assert await d.verdict(COORD, incident, Verdict.CONFIRMED) is Outcome.RECORDED
    assert await d.verdict(ANA, incident, Verdict.DEBUNKED) is Outcome.ESCALATED
    with pytest.raises(Refusal) as again:
        await d.desk.claim(COORD, incident)
    assert again.value.reason is RefusalReason.ALREADY_VOTED
    assert d.uow.store.incidents[incident].status is IncidentStatus.OPEN
    assert await d.verdict(ADMIN, incident, Verdict.DEBUNKED) is Outcome.DECIDED  # someone who has not voted
    assert d.uow.store.incidents[incident].verdict is Verdict.DEBUNKED


async def test_a_verdict_sent_again_is_refused_politely_and_stored_once(d: Desk) -> None:
    incident = await d.incident()
    await d.desk.claim(ANA, incident)
    await d.desk.decide(ANA, incident, Verdict.CONFIRMED, "seen")
    with pytest.raises(Refusal) as again:
        await d.desk.decide(ANA, incident, Verdict.CONFIRMED, "seen")
    assert again.value.reason is RefusalReason.ALREADY_VOTED
    assert len(d.uow.store.verdicts) == 1


async def test_disagreement_escalates_and_a_coordinator_settles_it(d: Desk) -> None:
    incident = await d.incident()
    await d.verdict(ANA, incident, Verdict.CONFIRMED)
    assert await d.verdict(BEN, incident, Verdict.DEBUNKED) is Outcome.ESCALATED
    assert d.uow.store.incidents[incident].escalated
    assert await d.verdict(COORD, incident, Verdict.DEBUNKED) is Outcome.DECIDED
    assert d.uow.store.incidents[incident].verdict is Verdict.DEBUNKED


async def test_a_coordinator_may_publish_an_urgent_incident_alone_and_it_is_audited(d: Desk) -> None:
    urgent = await d.incident(Activity.ARREST)
    assert d.uow.store.incidents[urgent].tier is Tier.URGENT
    assert await d.verdict(COORD, urgent, Verdict.CONFIRMED) is Outcome.DECIDED
    routine = await d.incident(Activity.SURVEILLANCE, n=2)
    assert await d.verdict(COORD, routine, Verdict.CONFIRMED) is Outcome.RECORDED
    assert any(
        e.action == "verdict.confirmed" and e.subject == urgent and e.detail["outcome"] == "decided" for e in d.uow.store.audit
    )


async def test_one_person_may_call_an_incident_unverifiable(d: Desk) -> None:
    incident = await d.incident()
    assert await d.verdict(ANA, incident, Verdict.UNVERIFIABLE) is Outcome.DECIDED


async def test_needs_more_info_returns_the_incident_to_the_queue(d: Desk) -> None:
    incident = await d.incident()
    assert await d.verdict(ANA, incident, Verdict.NEEDS_INFO) is Outcome.NEEDS_INFO
    assert d.uow.store.incidents[incident].status is IncidentStatus.OPEN
    assert d.uow.store.incidents[incident].claimed_by is None


async def test_nobody_claims_or_decides_an_incident_holding_their_own_report(d: Desk) -> None:
    incident = await d.incident(by=ANA)
    with pytest.raises(Refusal) as own:
        await d.desk.claim(ANA, incident)
    assert own.value.reason is RefusalReason.OWN_REPORT
    assert d.uow.store.audit[-1].action == "refused.claim"


async def test_a_claim_is_exclusive_until_its_lease_runs_out(d: Desk) -> None:
    incident = await d.incident()
    await d.desk.claim(ANA, incident)
    with pytest.raises(Refusal) as taken:
        await d.desk.claim(BEN, incident)
    assert taken.value.reason is RefusalReason.TAKEN
    with pytest.raises(Refusal) as not_holder:
        await d.desk.decide(BEN, incident, Verdict.CONFIRMED, "forged")
    assert not_holder.value.reason is RefusalReason.NOT_HOLDER
    d.clock.advance(DeskPolicy().lease + timedelta(seconds=1))
    with pytest.raises(Refusal) as expired:
        await d.desk.decide(ANA, incident, Verdict.CONFIRMED, "too late")
    assert expired.value.reason is RefusalReason.LEASE_EXPIRED
    assert await d.desk.expire_leases() == [(incident, ANA)]
    assert (await d.desk.claim(BEN, incident)).claimed_by == BEN


async def test_urgent_leases_are_shorter(d: Desk) -> None:
    urgent = await d.incident(Activity.ARREST)
    claimed = await d.desk.claim(ANA, urgent)
    assert claimed.lease_until == d.clock.now() + timedelta(minutes=5)


async def test_people_off_the_roster_or_revoked_can_do_nothing(d: Desk) -> None:
    incident = await d.incident()
    with pytest.raises(Refusal):
        await d.desk.claim(12345, incident)
    await d.roster.set_role(ADMIN, BEN, Role.REVOKED)
    with pytest.raises(Refusal):
        await d.desk.queue(BEN)
    with pytest.raises(Refusal) as unknown:
        await d.desk.claim(ANA, "no-such-incident")
    assert unknown.value.reason is RefusalReason.UNKNOWN_INCIDENT


async def test_decided_incidents_cannot_be_claimed_again(d: Desk) -> None:
    incident = await d.incident()
    await d.verdict(ANA, incident, Verdict.UNVERIFIABLE)
    with pytest.raises(Refusal) as decided:
        await d.desk.claim(BEN, incident)
    assert decided.value.reason is RefusalReason.DECIDED


async def test_the_queue_lists_urgent_first_then_oldest(d: Desk) -> None:
    routine = await d.incident(Activity.SURVEILLANCE, n=1)
    d.clock.advance(timedelta(minutes=1))
    high = await d.incident(Activity.PRESENCE, n=2)
    d.clock.advance(timedelta(minutes=1))
    urgent = await d.incident(Activity.ARREST, n=3)
    assert [i.id for i in await d.desk.queue(ANA)] == [urgent, high, routine]


async def test_a_decision_names_every_reporter_to_tell_and_then_forgets_them(d: Desk) -> None:
    incident = await d.incident()
    draft = ReportDraft("second", point=GeoPoint(35.0505, -118.25))  # joins the same incident
    await d.intake.submit(draft, REPORTER + 1, REPORTER + 1, "es")
    await d.verdict(ANA, incident, Verdict.CONFIRMED)
    await d.desk.claim(BEN, incident)
    result = await d.desk.decide(BEN, incident, Verdict.CONFIRMED, "seen")
    assert [(t.chat_id, t.language) for t in result.tell] == [(REPORTER, "en"), (REPORTER + 1, "es")]
    await d.desk.told(result.tell)
    assert d.uow.store.contacts == {}


async def test_a_decision_records_what_each_reporter_is_owed_until_they_are_told(d: Desk) -> None:
    incident = await d.incident()
    await d.verdict(ANA, incident, Verdict.DEBUNKED)
    await d.desk.claim(BEN, incident)
    result = await d.desk.decide(BEN, incident, Verdict.DEBUNKED, "a utility crew")
    [owed] = result.tell
    assert owed.verdict is Verdict.DEBUNKED and owed.follow_up_id is None
    assert list(d.uow.store.owed) == [owed.key]  # written in the verdict's own transaction
    assert await d.desk.claim_owed() == []  # the verdict's caller is telling it: not before the grace
    await d.desk.told(result.tell)
    assert d.uow.store.owed == {} and d.uow.store.contacts == {}
    d.clock.advance(timedelta(minutes=5))
    assert await d.desk.claim_owed() == []


async def test_an_outcome_never_told_is_claimed_after_the_grace_by_one_sweep_at_a_time(d: Desk) -> None:
    incident = await d.incident()
    d.clock.advance(timedelta(seconds=1))
    await d.intake.submit(ReportDraft("second", point=GeoPoint(35.0505, -118.25)), REPORTER + 1, REPORTER + 1, "es")
    await d.verdict(ANA, incident, Verdict.CONFIRMED)
    await d.verdict(BEN, incident, Verdict.CONFIRMED)  # decided; the process died before telling anyone
    d.clock.advance(d.desk.policy.tell_grace - timedelta(seconds=1))
    assert await d.desk.claim_owed() == []
    d.clock.advance(timedelta(seconds=2))
    claimed = await d.desk.claim_owed()
    assert [(o.chat_id, o.language, o.verdict) for o in claimed] == [
        (REPORTER, "en", Verdict.CONFIRMED),
        (REPORTER + 1, "es", Verdict.CONFIRMED),
    ]
    assert await d.desk.claim_owed() == []  # claimed: a second sweep does not take them too
    d.clock.advance(d.desk.policy.tell_grace + timedelta(seconds=1))
    [retried] = await d.desk.claim_owed(limit=1)  # the claimer failed too: taken over again, oldest first
    assert retried.chat_id == REPORTER
    await d.desk.told([retried])
    assert list(d.uow.store.contacts) == [claimed[1].report_id]


async def test_a_question_never_sent_is_claimed_with_its_words_and_the_contact_is_kept(d: Desk) -> None:
    incident = await d.incident()
    await d.desk.claim(ANA, incident)
    await d.desk.decide(ANA, incident, Verdict.NEEDS_INFO, "Were the vests marked ICE or POLICE?")
    d.clock.advance(timedelta(minutes=2))
    [ask] = await d.desk.claim_owed()
    assert ask.follow_up_id is not None and ask.key == ask.follow_up_id
    assert (ask.question, ask.verdict) == ("Were the vests marked ICE or POLICE?", None)
    await d.desk.told([ask])
    assert d.uow.store.owed == {} and list(d.uow.store.contacts) == [ask.report_id]  # still owed the outcome


async def test_nothing_is_owed_once_the_contact_has_expired(d: Desk) -> None:
    incident = await d.incident()
    await d.verdict(ANA, incident, Verdict.UNVERIFIABLE)
    d.clock.advance(timedelta(hours=73))
    async with d.uow() as uow:
        assert await uow.contacts.delete_expired(d.clock.now()) == 1
        await uow.commit()
    assert await d.desk.claim_owed() == []


async def test_needs_more_info_asks_the_reporter_and_only_they_can_answer(d: Desk) -> None:
    incident = await d.incident()
    await d.desk.claim(ANA, incident)
    result = await d.desk.decide(ANA, incident, Verdict.NEEDS_INFO, "Were the vests marked ICE or POLICE?")
    [ask] = result.tell
    assert ask.chat_id == REPORTER and ask.follow_up_id is not None
    assert await d.intake.answer_follow_up(ask.follow_up_id, ANA, "forged") is None
    answered = await d.intake.answer_follow_up(ask.follow_up_id, REPORTER, "POLICE, and a tow truck")
    assert answered is not None and answered.answer == "POLICE, and a tow truck"
    assert await d.intake.answer_follow_up(ask.follow_up_id, REPORTER, "again") is None
    [shown] = await d.desk.follow_ups(BEN, incident)
    assert (shown.question, shown.answer) == ("Were the vests marked ICE or POLICE?", "POLICE, and a tow truck")


async def test_on_duty_verifiers_covering_the_area_and_language_are_notified(d: Desk) -> None:
    await d.roster.update(ANA, on_duty=True, languages=("en",), neighborhoods=())
    await d.roster.update(BEN, on_duty=True, languages=("es",))
    await d.roster.update(COORD, on_duty=True, languages=("en", "es"), neighborhoods=("old-mill",))
    await d.roster.update(TIM, on_duty=True)
    for n, (language, told) in enumerate((("en", [ANA]), ("es", [BEN]))):
        draft = ReportDraft(
            f"d-{language}", activity=Activity.PRESENCE, point=GeoPoint(34.05 + n, -118.25), neighborhood_id="las-palmas"
        )  # a degree apart: two incidents
        [card] = (await d.intake.submit(draft, REPORTER, REPORTER, language)).cards
        assert [r.user_id for r in card.to] == told


async def test_a_suggested_duplicate_can_be_merged_or_kept_separate(d: Desk) -> None:
    first = await d.incident()
    near = await d.intake.submit(ReportDraft("fringe", point=GeoPoint(35.0635, -118.25)), REPORTER + 1, REPORTER + 1, "en")
    assert near.incident is not None
    view = await d.desk.view(ANA, near.incident.id)
    assert view.suggestion is not None and view.suggestion.other_incident_id == first
    with pytest.raises(Refusal):
        await d.desk.merge(TIM, near.incident.id)  # trainees do not merge
    merged = await d.desk.merge(ANA, near.incident.id)
    assert merged.id == first and merged.report_count == 2
    assert d.uow.store.incidents[near.incident.id].status is IncidentStatus.MERGED
    with pytest.raises(Refusal):
        await d.desk.keep_separate(ANA, near.incident.id)
    other = await d.intake.submit(ReportDraft("fringe2", point=GeoPoint(35.0365, -118.25)), REPORTER + 2, REPORTER + 2, "en")
    assert other.incident is not None
    await d.desk.keep_separate(BEN, other.incident.id)
    assert (await d.desk.view(BEN, other.incident.id)).suggestion is None
    assert d.uow.store.audit[-1].action == "keep_separate"


async def test_unclaimed_incidents_ping_everyone_on_duty_then_coordinators_once_each(d: Desk) -> None:
    incident = await d.incident()  # high tier: 5 min, then 10 min
    await d.roster.update(ANA, on_duty=True, neighborhoods=("old-mill",))
    assert await d.desk.unclaimed_pings() == []
    d.clock.advance(timedelta(minutes=5))
    [ping] = await d.desk.unclaimed_pings()
    assert ping.incident.id == incident and [p.user_id for p in ping.to] == [ANA]  # on duty, whatever the area
    assert await d.desk.unclaimed_pings() == []
    d.clock.advance(timedelta(minutes=5))
    [ping] = await d.desk.unclaimed_pings()
    assert {p.user_id for p in ping.to} == {ADMIN, COORD}
    await d.desk.claim(BEN, await d.incident(n=2))
    d.clock.advance(timedelta(hours=1))
    assert [p.incident.id for p in await d.desk.unclaimed_pings()] == []  # the claimed one is not pinged


async def test_only_the_holder_releases_a_claim_and_it_is_audited(d: Desk) -> None:
    incident = await d.incident()
    await d.desk.claim(ANA, incident)
    with pytest.raises(Refusal) as not_holder:
        await d.desk.release(BEN, incident)
    assert not_holder.value.reason is RefusalReason.NOT_HOLDER
    await d.desk.release(ANA, incident)
    assert d.uow.store.incidents[incident].claimed_by is None
    assert [e.action for e in d.uow.store.audit[-3:]] == ["claim", "refused.release", "release"]
    assert (await d.desk.claim(BEN, incident)).claimed_by == BEN
