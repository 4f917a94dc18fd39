"""A unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from storage.alert_repositories import (
    SqlAlertRepository,
    SqlChannelRepository,
    SqlOutboxRepository,
    SqlSubscriberRepository,
)
from storage.drill_repository import SqlDrillRepository
from storage.repositories import (
    SqlAuditRepository,
    SqlContactRepository,
    SqlFollowUpRepository,
    SqlIncidentRepository,
    SqlInviteRepository,
    SqlMediaRepository,
    SqlMergeRepository,
    SqlNeighborhoodRepository,
    SqlReportRepository,
    SqlVerdictRepository,
    SqlVerifierRepository,
)
from storage.stats_repository import SqlStatsRepository
from verify.errors import Conflict


class SqlUnitOfWork:
    """Implements `verify.ports.UnitOfWork`; leaving the block without `commit()` rolls back."""

    reports: SqlReportRepository
    contacts: SqlContactRepository
    media: SqlMediaRepository
    neighborhoods: SqlNeighborhoodRepository
    incidents: SqlIncidentRepository
    merges: SqlMergeRepository
    verifiers: SqlVerifierRepository
    invites: SqlInviteRepository
    audit: SqlAuditRepository
    verdicts: SqlVerdictRepository
    follow_ups: SqlFollowUpRepository
    alerts: SqlAlertRepository
    outbox: SqlOutboxRepository
    subscribers: SqlSubscriberRepository
    channels: SqlChannelRepository
    stats: SqlStatsRepository
    drills: SqlDrillRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None

    async def __aenter__(self) -> Self:
        self._conn = conn = await self._engine.connect()
        self._tx = await conn.begin()
        self.reports = SqlReportRepository(conn)
        self.contacts = SqlContactRepository(conn)
        self.media = SqlMediaRepository(conn)
        self.neighborhoods = SqlNeighborhoodRepository(conn)
        self.incidents = SqlIncidentRepository(conn)
        self.merges = SqlMergeRepository(conn)
        self.verifiers = SqlVerifierRepository(conn)
        self.invites = SqlInviteRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.verdicts = SqlVerdictRepository(conn)
        self.follow_ups = SqlFollowUpRepository(conn)
        self.alerts = SqlAlertRepository(conn)
        self.outbox = SqlOutboxRepository(conn)
        self.subscribers = SqlSubscriberRepository(conn)
        self.channels = SqlChannelRepository(conn)
        self.stats = SqlStatsRepository(conn)
        self.drills = SqlDrillRepository(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None and self._tx is not None
        try:
            if self._tx.is_active:
                await self._tx.rollback()
        finally:
            await self._conn.close()
            self._conn = self._tx = None

    async def commit(self) -> None:
        assert self._tx is not None
        try:
            await self._tx.commit()
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    async def rollback(self) -> None:
        assert self._conn is not None and self._tx is not None
        await self._tx.rollback()
        self._tx = await self._conn.begin()


class SqlUnitOfWorkFactory:
    """Makes a :class:`SqlUnitOfWork` per use case (implements `UnitOfWorkFactory`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
