"""Retention: raw reports, reporter contacts and photos are kept no longer than needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from verify.ports import Clock, UnitOfWorkFactory

#: Photos of drafts that were never submitted are dropped after this long.
UNSUBMITTED_PHOTO_TTL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows one purge removed."""

    reports: int
    contacts: int
    photos: int


class RetentionService:
    """Deletes reports older than the retention window (their contacts and photos with
    them), contacts past their expiry, and photos of drafts never submitted."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, window: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self.window = window

    async def purge(self, dry_run: bool = False) -> Purged:
        """Run one purge, in one transaction; with `dry_run` the same transaction is rolled
        back, so the counts are exactly what a purge now would remove."""
        now = self._clock.now()
        async with self._uow() as uow:
            contacts = await uow.contacts.delete_expired(now)
            photos = await uow.media.delete_unsubmitted_before(now - UNSUBMITTED_PHOTO_TTL)
            reports = await uow.reports.delete_before(now - self.window)
            if dry_run:
                await uow.rollback()
            else:
                await uow.commit()
        return Purged(reports, contacts, photos)
