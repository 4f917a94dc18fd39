from datetime import timedelta

from tests.fakes import MemoryUnitOfWorkFactory
from verify.clock import ManualClock
from verify.intake import IntakePolicy, IntakeService
from verify.model import ReportDraft
from verify.pseudonyms import Pseudonymizer
from verify.retention import Purged, RetentionService

KEY = b"unit-test-key-0123456789abcdef"


async def test_purge_drops_old_reports_expired_contacts_and_abandoned_photos() -> None:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock()
    intake = IntakeService(uow, clock, Pseudonymizer(KEY), IntakePolicy(contact_ttl=timedelta(days=3)))
    retention = RetentionService(uow, clock, timedelta(days=30))
    old = ReportDraft("old", photos=1)
    await intake.keep_photo("old", b"jpeg", "image/jpeg", (1, 1))
    await intake.submit(old, 1, 1, "en")
    await intake.keep_photo("abandoned", b"jpeg", "image/jpeg", (1, 1))
    clock.advance(timedelta(days=4))
    await intake.submit(ReportDraft("recent"), 2, 2, "en")
    assert await retention.purge() == Purged(reports=0, contacts=1, photos=1)
    clock.advance(timedelta(days=27))
    assert await retention.purge() == Purged(reports=1, contacts=1, photos=0)  # "recent" contact expired too
    assert [r.draft_id for r in uow.store.reports.values()] == ["recent"]
    assert uow.store.media == {} and uow.store.contacts == {}
