"""A unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from sereno.storage.alert_repositories import (
    SqlAlertRepository,
    SqlChannelRepository,
    SqlOutboxRepository,
    SqlSubscriberRepository,
)
from sereno.storage.dispatch_repository import (
    SqlDispatchNoticeRepository,
    SqlDispatchRepository,
    SqlFieldVerifierRepository,
    SqlOnSiteReportRepository,
    SqlSurgeRepository,
    SqlTrustRepository,
)
from sereno.storage.drill_repository import SqlDrillRepository
from sereno.storage.repositories import (
    SqlAuditRepository,
    SqlContactRepository,
    SqlFollowUpRepository,
    SqlIncidentRepository,
    SqlInviteRepository,
    SqlMediaRepository,
    SqlMergeRepository,
    SqlNeighborhoodRepository,
    SqlOwedOutcomeRepository,
    SqlReportRepository,
    SqlVerdictRepository,
    SqlVerifierRepository,
)
from sereno.storage.sealing import ContactSeal
from sereno.storage.stats_repository import SqlStatsRepository
from sereno.verify.errors import Conflict, Unavailable


def _unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached (refused, reset, dropped), as
    opposed to a fault in the statement or the data."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc.orig, OSError)
    return isinstance(exc, OSError)  # asyncpg raises these bare while (re)connecting


class SqlUnitOfWork:
    """Implements `sereno.verify.ports.UnitOfWork`; leaving the block without `commit()` rolls back.
    A database that cannot be reached, or a connection lost mid-way, raises
    :class:`sereno.verify.errors.Unavailable` (the transaction is gone with the connection)."""

    reports: SqlReportRepository
    contacts: SqlContactRepository
    owed: SqlOwedOutcomeRepository
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
    field_verifiers: SqlFieldVerifierRepository
    dispatches: SqlDispatchRepository
    on_site_reports: SqlOnSiteReportRepository
    dispatch_notices: SqlDispatchNoticeRepository
    trust: SqlTrustRepository
    surges: SqlSurgeRepository

    def __init__(self, engine: AsyncEngine, seal: ContactSeal | None = None) -> None:
        self._engine = engine
        self._seal = seal
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None

    async def __aenter__(self) -> Self:
        try:
            self._conn = conn = await self._engine.connect()
        except Exception as exc:
            if _unreachable(exc):
                raise Unavailable("the database cannot be reached") from exc
            raise
        try:
            self._tx = await conn.begin()
        except BaseException as exc:
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()
            if _unreachable(exc):
                raise Unavailable("the database cannot be reached") from exc
            raise
        self.reports = SqlReportRepository(conn)
        self.contacts = SqlContactRepository(conn, self._seal)
        self.owed = SqlOwedOutcomeRepository(conn, self._seal)
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
        self.field_verifiers = SqlFieldVerifierRepository(conn)
        self.dispatches = SqlDispatchRepository(conn)
        self.on_site_reports = SqlOnSiteReportRepository(conn)
        self.dispatch_notices = SqlDispatchNoticeRepository(conn)
        self.trust = SqlTrustRepository(conn)
        self.surges = SqlSurgeRepository(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None and self._tx is not None
        lost = isinstance(exc, Unavailable) or _unreachable(exc)
        try:
            if self._tx.is_active:
                await self._tx.rollback()
        except Exception:
            if not lost:
                raise
        finally:
            with contextlib.suppress(Exception) if lost else contextlib.nullcontext():
                await self._conn.close()
            self._conn = self._tx = None
        if lost and not isinstance(exc, Unavailable):
            raise Unavailable("the connection to the database was lost") from exc

    async def commit(self) -> None:
        assert self._tx is not None
        try:
            await self._tx.commit()
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None
        except Exception as exc:
            if _unreachable(exc):
                raise Unavailable("the connection to the database was lost while committing") from exc
            raise

    async def rollback(self) -> None:
        assert self._conn is not None and self._tx is not None
        await self._tx.rollback()
        self._tx = await self._conn.begin()


#: Tables holding what reporters and verifiers typed, or who they are (VACUUMed after a purge).
TYPED_TABLES = (
    "report",
    "report_contact",
    "follow_up",
    "verdict",
    "incident",
    "media",
    "owed_outcome",
    "bot_state",
    "on_site_report",
    "field_verifier",
)


def _vacuum_sqlite(conn: Connection) -> None:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None, "a checked-out connection holds its DBAPI connection"
    cursor = dbapi.cursor()  # outside SQLAlchemy's transaction: VACUUM needs none
    try:
        for statement in ("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
            cursor.execute(statement)
    finally:
        cursor.close()


class SqlUnitOfWorkFactory:
    """Makes a :class:`SqlUnitOfWork` per use case (implements `UnitOfWorkFactory`).
    Reporter contacts are sealed with a key derived from `hmac_key`; without it, keeping
    or reading one raises :class:`sereno.storage.sealing.SealingKeyMissing` (deleting them,
    as the retention purge does, needs no key)."""

    def __init__(self, engine: AsyncEngine, hmac_key: bytes | None = None) -> None:
        self._engine = engine
        self._seal = ContactSeal(hmac_key) if hmac_key else None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, self._seal)

    async def reclaim(self) -> None:
        """SQLite: rebuild the file (VACUUM) between two `wal_checkpoint(TRUNCATE)`s, so
        neither the main file nor the `-wal` file keeps deleted text (a checkpoint that a
        reader blocks leaves the WAL for SQLite's next one). PostgreSQL: VACUUM the tables
        that hold what people typed, so the space of deleted rows is reused (the old bytes
        go as it is overwritten; `VACUUM FULL` rewrites at once, under an exclusive lock)."""
        async with self._engine.connect() as conn:
            if self._engine.dialect.name == "sqlite":
                await conn.run_sync(_vacuum_sqlite)
            else:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql(f"VACUUM {', '.join(TYPED_TABLES)}")
