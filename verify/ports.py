"""Ports the domain needs from the outside world; `storage/` and `bot/` implement them."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from verify.model import Media, Report, ReportContact
from verify.places import Neighborhood


class Clock(Protocol):
    """The current time, timezone-aware UTC (tests move it)."""

    def now(self) -> datetime: ...


class ReportRepository(Protocol):
    """Submitted reports."""

    async def add(self, report: Report) -> None:
        """Stage a new report (a duplicate draft or reference code fails at commit)."""
        ...

    async def by_draft(self, draft_id: str) -> Report | None:
        """The report already submitted from this draft, if any (makes submit idempotent)."""
        ...

    async def count_since(self, reporter: str, since: datetime) -> int:
        """How many reports this pseudonym submitted after `since`."""
        ...

    async def oldest_since(self, reporter: str, since: datetime) -> datetime | None:
        """When the oldest report of this pseudonym after `since` was made."""
        ...

    async def delete_before(self, cutoff: datetime) -> int:
        """Delete reports made before `cutoff`, with their contacts and photos; returns how many."""
        ...


class ContactRepository(Protocol):
    """Short-lived ways to answer reporters, kept apart from reports."""

    async def add(self, contact: ReportContact) -> None: ...

    async def delete_expired(self, now: datetime) -> int:
        """Delete contacts whose expiry has passed; returns how many."""
        ...


class MediaRepository(Protocol):
    """Photos (already stripped of metadata)."""

    async def add(self, media: Media) -> None: ...

    async def attach(self, draft_id: str, report_id: str) -> tuple[str, ...]:
        """Link the draft's photos to the report; returns their ids."""
        ...

    async def delete_unsubmitted_before(self, cutoff: datetime) -> int:
        """Delete photos of drafts never submitted, kept since before `cutoff`."""
        ...


class NeighborhoodRepository(Protocol):
    """The deployment's neighborhoods."""

    async def replace_all(self, neighborhoods: list[Neighborhood]) -> None: ...

    async def all(self) -> list[Neighborhood]: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; leaving without `commit()` rolls back."""

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def media(self) -> MediaRepository: ...

    @property
    def neighborhoods(self) -> NeighborhoodRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Make the work durable; raises `verify.errors.Conflict` on a uniqueness clash."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use case."""

    def __call__(self) -> UnitOfWork: ...
