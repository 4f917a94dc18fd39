"""Reading alerts for exports and public feeds.

Partners' exports (`sereno export`) go through :meth:`ExportService.export`, which is
audited. The public feeds read :meth:`ExportService.active_records`, :meth:`~ExportService.cap_records`
and :meth:`~ExportService.record`, and render with `sereno.verify.exports.to_atom` / `to_cap` /
`cap_document`, e.g. in a web handler::

    records = await exports.active_records()
    body = to_atom(records, FeedSource.for_region(settings.region_name, settings.tz), clock.now(),
                   self_url="https://example.org/feeds/alerts.atom")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sereno.verify.alerts import Alert, AlertState
from sereno.verify.audit import AuditEvent
from sereno.verify.exports import ExportFormat, ExportRecord, FeedSource, render
from sereno.verify.places import Gazetteer
from sereno.verify.ports import Clock, UnitOfWorkFactory


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Exported:
    """A rendered export and how many alerts it holds."""

    text: str
    count: int


class ExportService:
    """Alerts and corrections as PII-free :class:`ExportRecord`s, placed by the gazetteer."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gazetteer: Gazetteer) -> None:
        self._uow = uow
        self._clock = clock
        self._gazetteer = gazetteer

    def _check(self, since: datetime | None, until: datetime | None, neighborhood_id: str | None) -> None:
        if neighborhood_id is not None and self._gazetteer.get(neighborhood_id) is None:
            known = ", ".join(sorted(nb.id for nb in self._gazetteer.neighborhoods))
            raise ExportError(
                f"unknown neighborhood {neighborhood_id!r}: "
                + (f"use one of {known}" if known else "no neighborhoods are loaded")
            )
        if since is not None and until is not None and since >= until:
            raise ExportError(f"the window is empty: its start ({since.isoformat()}) is not before its end ({until.isoformat()})")

    def _records(self, alerts: list[Alert]) -> list[ExportRecord]:
        return [ExportRecord.from_alert(a, self._gazetteer.get(a.neighborhood_id)) for a in alerts]

    async def records(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        neighborhood_id: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[ExportRecord]:
        """Alerts and corrections verified at or after `since` and before `until` (None: no
        bound), about `neighborhood_id` when given, newest first. Raises
        :class:`ExportError` for an unknown neighborhood or an empty window."""
        self._check(since, until, neighborhood_id)
        async with self._uow() as uow:
            alerts = await uow.alerts.verified_between(since, until, neighborhood_id, limit=limit)
        return self._records(alerts)

    async def active_records(self, neighborhood_id: str | None = None, *, limit: int | None = None) -> list[ExportRecord]:
        """Alerts and corrections that are current — active and not past their expiry (the
        expiry job may not have run yet) — newest first: what the public feeds show. Not
        audited (the feeds are public)."""
        self._check(None, None, neighborhood_id)
        now = self._clock.now()
        async with self._uow() as uow:
            alerts = await uow.alerts.verified_between(None, None, neighborhood_id, active_only=True)
        return self._records([a for a in alerts if _current(a, now)][:limit])

    async def cap_records(self, window: timedelta, *, limit: int | None = None) -> list[ExportRecord]:
        """What the CAP index lists, newest first: the current alerts and corrections (as
        :meth:`active_records`) and the all-clears (CAP `Cancel` messages) of alerts verified
        in the last `window`, so that CAP consumers learn that an alert ended. Not audited."""
        now = self._clock.now()
        async with self._uow() as uow:
            recent = await uow.alerts.verified_between(now - window, None)
            older = await uow.alerts.verified_between(None, now - window, active_only=True)
        listed = [a for a in recent if a.state is AlertState.CLEARED or _current(a, now)]
        return self._records([*listed, *(a for a in older if _current(a, now))][:limit])

    async def record(self, alert_id: str) -> ExportRecord | None:
        """The alert or correction with this id in whatever state it is now (None when there
        is none): what a CAP consumer reads at the alert's own address. Not audited."""
        async with self._uow() as uow:
            alert = await uow.alerts.get(alert_id)
        return self._records([alert])[0] if alert is not None else None

    async def export(
        self,
        fmt: ExportFormat,
        source: FeedSource,
        since: datetime | None = None,
        until: datetime | None = None,
        neighborhood_id: str | None = None,
        *,
        actor: str = "cli",
    ) -> Exported:
        """:meth:`records` rendered in `fmt`, with an `export` audit event (who, which
        format, the filters and how many alerts) committed before the text is returned."""
        self._check(since, until, neighborhood_id)
        now = self._clock.now()
        async with self._uow() as uow:
            alerts = await uow.alerts.verified_between(since, until, neighborhood_id)
            await uow.audit.add(
                AuditEvent(
                    now,
                    actor,
                    "export",
                    fmt.value,
                    {
                        "records": len(alerts),
                        "since": since.isoformat() if since else None,
                        "until": until.isoformat() if until else None,
                        "neighborhood": neighborhood_id,
                    },
                )
            )
            await uow.commit()
        records = self._records(alerts)
        return Exported(render(fmt, records, source, now), len(records))


def _current(alert: Alert, now: datetime) -> bool:
    """Active and not past its expiry (the expiry job may not have run yet)."""
    return alert.state is AlertState.ACTIVE and alert.expires_at > now
