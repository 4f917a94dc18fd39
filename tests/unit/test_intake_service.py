from datetime import timedelta

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.clustering import Placement
from sereno.verify.errors import Refusal
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.model import Activity, GeoPoint, ReportDraft, Tier, TimeSeen
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.refcodes import ALPHABET
from tests.fakes import MemoryUnitOfWorkFactory
from tests.photos import tiny_jpeg

KEY = b"unit-test-key-0123456789abcdef"


def make_service(policy: IntakePolicy | None = None) -> tuple[IntakeService, MemoryUnitOfWorkFactory, ManualClock]:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock()
    return IntakeService(uow, clock, Pseudonymizer(KEY), policy, images=PillowImageSanitizer()), uow, clock


def a_draft(n: int = 0) -> ReportDraft:
    return ReportDraft(
        f"draft-{n}",
        activity=Activity.ARREST,
        time_seen=TimeSeen.NOW,
        point=GeoPoint(34.05, -118.25, 20.0),
        neighborhood_id="las-palmas",
    )


async def test_submit_stores_a_pseudonymous_report_and_a_separate_contact() -> None:
    service, uow, clock = make_service()
    result = await service.submit(a_draft(), user_id=987654321, chat_id=987654321, language="es")
    report = result.report
    assert not result.duplicate
    assert report.reporter == Pseudonymizer(KEY)(987654321) and "987654321" not in report.reporter
    assert report.tier is Tier.URGENT and report.language == "es"
    assert report.ref_code.startswith("SR-") and set(report.ref_code[3:]) <= set(ALPHABET)
    contact = uow.store.contacts[report.id]
    assert contact.chat_id == 987654321
    assert contact.expires_at == clock.now() + service.policy.contact_ttl


async def test_submitting_the_same_draft_twice_stores_one_report() -> None:
    service, uow, _ = make_service()
    first = await service.submit(a_draft(), 1, 1, "en")
    second = await service.submit(a_draft(), 1, 1, "en")
    assert second.duplicate and second.report.ref_code == first.report.ref_code
    assert len(uow.store.reports) == 1


async def test_sixth_report_in_ten_minutes_is_refused_politely_with_the_wait() -> None:
    service, uow, clock = make_service()
    for n in range(5):
        await service.submit(a_draft(n), 1, 1, "en")
        clock.advance(timedelta(minutes=1))
    with pytest.raises(Refusal) as refused:
        await service.submit(a_draft(99), 1, 1, "en")
    assert refused.value.retry_after == timedelta(minutes=5)
    assert service.wait_before_reporting(1) == timedelta(minutes=5)
    assert len(uow.store.reports) == 5
    # someone else is unaffected
    await service.submit(a_draft(100), 2, 2, "en")
    clock.advance(timedelta(minutes=5))
    assert service.wait_before_reporting(1) is None
    await service.submit(a_draft(99), 1, 1, "en")


async def test_rate_limit_is_configurable() -> None:
    service, _, _ = make_service(IntakePolicy(max_reports=1, window=timedelta(minutes=1)))
    await service.submit(a_draft(1), 1, 1, "en")
    with pytest.raises(Refusal):
        await service.submit(a_draft(2), 1, 1, "en")


async def test_photos_kept_for_a_draft_are_attached_to_its_report() -> None:
    service, uow, _ = make_service()
    draft = a_draft()
    media = await service.keep_photo(draft.draft_id, tiny_jpeg())
    draft.photos = 1
    report = (await service.submit(draft, 1, 1, "en")).report
    assert report.media_ids == (media.id,)
    assert uow.store.media[media.id].report_id == report.id


async def test_reference_codes_are_unique() -> None:
    service, uow, _ = make_service(IntakePolicy(max_reports=10_000))
    for n in range(500):
        await service.submit(a_draft(n), n, n, "en")
    codes = [r.ref_code for r in uow.store.reports.values()]
    assert len(set(codes)) == 500


def test_draft_survives_a_round_trip_through_json_types() -> None:
    draft = a_draft()
    draft.details, draft.photos = "two vans", 2
    assert ReportDraft.from_dict(draft.to_dict()) == draft


def test_draft_from_tampered_data_drops_unknown_values() -> None:
    restored = ReportDraft.from_dict({"draft_id": "x", "activity": "parade", "time_seen": "now"})
    assert restored.activity is None and restored.time_seen is TimeSeen.NOW


def test_pseudonyms_depend_on_the_key_and_hide_the_id() -> None:
    a, b = Pseudonymizer(KEY), Pseudonymizer(KEY + b"x")
    assert a(42) == a(42) != b(42)
    assert "42" not in repr(a) and len(a(42)) == 32


async def test_reports_of_one_event_cluster_into_one_incident() -> None:
    service, uow, clock = make_service(IntakePolicy(max_reports=100))
    first = await service.submit(a_draft(1), 1, 1, "en")
    clock.advance(timedelta(minutes=20))
    near = ReportDraft(
        "near",
        activity=Activity.CHECKPOINT,
        time_seen=TimeSeen.RECENT,
        point=GeoPoint(34.054, -118.25),
        neighborhood_id="las-palmas",
    )
    second = await service.submit(near, 2, 2, "en")
    assert first.placement is Placement.NEW and second.placement is Placement.JOIN
    assert second.report.incident_id == first.report.incident_id
    incident = uow.store.incidents[first.report.incident_id]  # type: ignore[index]
    assert incident.report_count == 2 and incident.tier is Tier.URGENT


async def test_a_report_in_the_fringe_opens_an_incident_with_a_merge_suggestion() -> None:
    service, uow, _ = make_service()
    first = await service.submit(a_draft(1), 1, 1, "en")
    fringe = ReportDraft("fringe", point=GeoPoint(34.0635, -118.25))  # about 1.5 km north
    second = await service.submit(fringe, 2, 2, "en")
    assert second.placement is Placement.SUGGEST and second.incident is not None
    assert second.report.incident_id != first.report.incident_id
    [suggestion] = uow.store.merges
    assert (suggestion.incident_id, suggestion.other_incident_id) == (second.incident.id, first.report.incident_id)
    assert 1400 < (suggestion.distance_m or 0) < 1600


async def test_a_more_urgent_report_escalates_the_incident_it_joins() -> None:
    service, uow, _ = make_service()
    routine = ReportDraft("r", activity=Activity.SURVEILLANCE, point=GeoPoint(34.05, -118.25))
    first = await service.submit(routine, 1, 1, "en")
    assert first.incident is not None and first.incident.tier is Tier.ROUTINE
    urgent = await service.submit(a_draft(2), 2, 2, "en")
    assert urgent.placement is Placement.JOIN and urgent.escalated
    assert urgent.incident is not None and urgent.incident.tier is Tier.URGENT
