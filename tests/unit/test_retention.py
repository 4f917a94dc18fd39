from datetime import timedelta

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.clustering import cell_of, distance_m
from sereno.verify.desk import DeskPolicy, DeskService
from sereno.verify.incidents import Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import GeoPoint, ReportDraft, Tier
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.retention import Purged, RetentionService
from sereno.verify.roster import RosterService
from tests.fakes import MemoryUnitOfWorkFactory
from tests.photos import tiny_jpeg

KEY = b"unit-test-key-0123456789abcdef"


async def test_purge_drops_old_reports_expired_contacts_and_abandoned_photos() -> None:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock()
    intake = IntakeService(
        uow, clock, Pseudonymizer(KEY), IntakePolicy(contact_ttl=timedelta(days=3)), images=PillowImageSanitizer()
    )
    retention = RetentionService(uow, clock, timedelta(days=30))
    old = ReportDraft("old", photos=1)
    await intake.keep_photo("old", tiny_jpeg())
    await intake.submit(old, 1, 1, "en")
    await intake.keep_photo("abandoned", tiny_jpeg())
    clock.advance(timedelta(days=4))
    await intake.submit(ReportDraft("recent"), 2, 2, "en")
    assert await retention.purge() == Purged(reports=0, contacts=1, photos=1)
    clock.advance(timedelta(days=27))
    assert await retention.purge() == Purged(reports=1, contacts=1, photos=0)  # "recent" contact expired too
    assert [r.draft_id for r in uow.store.reports.values()] == ["recent"]
    assert uow.store.media == {} and uow.store.contacts == {}


async def test_purge_blanks_old_verdict_reasons_coarsens_old_pins_and_reclaims_the_space() -> None:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock()
    intake = IntakeService(uow, clock, Pseudonymizer(KEY), IntakePolicy(), images=PillowImageSanitizer())
    desk = DeskService(uow, clock, DeskPolicy(quorum={Tier.URGENT: 1, Tier.HIGH: 1, Tier.ROUTINE: 1}))
    roster = RosterService(uow, clock, Pseudonymizer(KEY))
    await roster.redeem((await roster.invite(None, Role.VERIFIER)).code, 10, "Ana")
    exact = GeoPoint(34.056512, -118.257734)
    old = (await intake.submit(ReportDraft("old", point=exact), 1, 1, "en")).incident
    assert old is not None
    await desk.claim(10, old.id)
    await desk.decide(10, old.id, Verdict.CONFIRMED, "saw the blue van on Calle Ocho")
    retention = RetentionService(uow, clock, timedelta(days=30))
    clock.advance(timedelta(days=29))
    assert await retention.purge() == Purged(reports=0, contacts=1, photos=0)
    assert uow.store.reclaimed == 0  # only an expired contact: nothing typed went
    clock.advance(timedelta(days=2))
    recent = (await intake.submit(ReportDraft("recent", point=GeoPoint(34.1, -118.3)), 2, 2, "en")).incident
    assert recent is not None
    assert await retention.purge(dry_run=True) == Purged(reports=1, contacts=0, photos=0, reasons=1, pins=1)
    assert uow.store.incidents[old.id].point == exact and uow.store.reclaimed == 0  # a dry run changes nothing
    assert await retention.purge() == Purged(reports=1, contacts=0, photos=0, reasons=1, pins=1)
    [verdict] = uow.store.verdicts
    assert verdict.reason == "" and verdict.verdict is Verdict.CONFIRMED
    coarse = uow.store.incidents[old.id].point
    assert coarse is not None and distance_m(coarse, exact) > 10 and cell_of(coarse) == cell_of(exact)
    assert uow.store.incidents[recent.id].point == GeoPoint(34.1, -118.3)  # its report is within the window
    assert uow.store.reclaimed == 1
    assert await retention.purge() == Purged(reports=0, contacts=0, photos=0)  # already coarse: nothing to do
