"""Retention: raw reports, reporter contacts, photos, and what people typed about an
incident are kept no longer than needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sereno.verify.clustering import coarse_point
from sereno.verify.ports import Clock, UnitOfWorkFactory

#: Photos of drafts that were never submitted are dropped after this long.
UNSUBMITTED_PHOTO_TTL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows one purge removed."""

    reports: int
    contacts: int
    photos: int
    #: verdicts whose typed reason was blanked
    reasons: int = 0
    #: incidents whose exact pin was coarsened to the public precision
    pins: int = 0
    #: field verifiers' on-site reports whose typed text was blanked
    on_site: int = 0


class RetentionService:
    """Deletes reports older than the retention window (their contacts, photos and
    follow-up questions and answers with them), contacts past their expiry, and photos of
    drafts never submitted; blanks the reasons verifiers typed in verdicts older than the
    window (and the text of field verifiers' on-site reports), and moves the point of every
    incident first reported before it to the centre of its ~500 m cell (the first reporter's
    exact pin is not kept). After a purge that removed any of that, the database is asked
    to overwrite the space it freed."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, window: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self.window = window

    async def purge(self, dry_run: bool = False) -> Purged:
        """Run one purge, in one transaction; with `dry_run` the same transaction is rolled
        back, so the counts are exactly what a purge now would remove."""
        now = self._clock.now()
        cutoff = now - self.window
        async with self._uow() as uow:
            contacts = await uow.contacts.delete_expired(now)
            photos = await uow.media.delete_unsubmitted_before(now - UNSUBMITTED_PHOTO_TTL)
            reports = await uow.reports.delete_before(cutoff)
            reasons = await uow.verdicts.redact_before(cutoff)
            on_site = await uow.on_site_reports.redact_before(cutoff)
            pins = 0
            for incident_id, point in await uow.incidents.points_first_seen_before(cutoff):
                if (coarse := coarse_point(point)) != point:
                    await uow.incidents.move(incident_id, coarse)
                    pins += 1
            if dry_run:
                await uow.rollback()
            else:
                await uow.commit()
        if not dry_run and (reports or reasons or pins or on_site):
            await self._uow.reclaim()
        return Purged(reports, contacts, photos, reasons, pins, on_site)
