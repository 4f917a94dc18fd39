"""A unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.repositories import (
    SqlContactRepository,
    SqlMediaRepository,
    SqlNeighborhoodRepository,
    SqlReportRepository,
)
from verify.errors import Conflict


class SqlUnitOfWork:
    """Implements `verify.ports.UnitOfWork`; leaving the block without `commit()` rolls back."""

    reports: SqlReportRepository
    contacts: SqlContactRepository
    media: SqlMediaRepository
    neighborhoods: SqlNeighborhoodRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = session = self._sessions()
        self.reports = SqlReportRepository(session)
        self.contacts = SqlContactRepository(session)
        self.media = SqlMediaRepository(session)
        self.neighborhoods = SqlNeighborhoodRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        assert self._session is not None
        try:
            await self._session.commit()
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None


class SqlUnitOfWorkFactory:
    """Makes a :class:`SqlUnitOfWork` per use case (implements `UnitOfWorkFactory`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)
