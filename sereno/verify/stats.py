"""How the desk is doing: reports, incidents, the verdict mix, how long claims and verdicts
take, alerts and their deliveries — overall and per neighborhood, over a window — and how
field dispatches went (how many, how long until someone was on the way and on site, missed
safety check-ins, escalations).

Times are measured from an incident's first report: to its first claim, to its final
verdict, to a dispatch accepted and to the on-site report. Percentiles use the nearest-rank
method (the p-th percentile is a value that was actually observed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sereno.verify.alerts import Alert, AlertKind, Delivery
from sereno.verify.audit import AuditEvent, refused_actor
from sereno.verify.dispatch import Dispatch, EndReason
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import Incident, Verdict
from sereno.verify.members import Role
from sereno.verify.ports import Clock, UnitOfWorkFactory


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank p-th percentile (0 < p ≤ 100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Durations:
    """Median and 90th percentile in seconds, over `count` incidents."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: list[float]) -> Durations:
        return cls(len(seconds), percentile(seconds, 50), percentile(seconds, 90))


@dataclass(frozen=True, slots=True)
class AreaStats:
    """One neighborhood's figures (`neighborhood_id` None: reports with no place)."""

    neighborhood_id: str | None
    reports: int = 0
    incidents: int = 0
    verdicts: dict[Verdict, int] = field(default_factory=dict)
    open: int = 0
    time_to_first_claim: Durations = Durations(0, None, None)
    time_to_verdict: Durations = Durations(0, None, None)
    alerts: int = 0
    corrections: int = 0
    deliveries: dict[Delivery, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DispatchStats:
    """Dispatch figures over a window (times are from the incident's first report)."""

    since: datetime
    until: datetime
    dispatches: int
    accepted: int
    nobody: int
    to_accepted: Durations
    to_on_site: Durations
    check_ins_missed: int
    escalations: int


def dispatch_stats(rows: Sequence[tuple[Dispatch, datetime]], since: datetime, until: datetime) -> DispatchStats:
    """Figures of dispatches, each with its incident's first report time."""
    accepted = [(d.accepted_at - first).total_seconds() for d, first in rows if d.accepted_at is not None]
    on_site = [(d.on_site_at - first).total_seconds() for d, first in rows if d.on_site_at is not None]
    return DispatchStats(
        since,
        until,
        dispatches=len(rows),
        accepted=len(accepted),
        nobody=sum(d.end_reason is EndReason.NOBODY for d, _ in rows),
        to_accepted=Durations.of(accepted),
        to_on_site=Durations.of(on_site),
        check_ins_missed=sum(d.missed_check_ins for d, _ in rows),
        escalations=sum(d.escalations for d, _ in rows),
    )


@dataclass(frozen=True, slots=True)
class DeskStats:
    """The window's figures: `total` over everything, `areas` per neighborhood, and the
    field dispatches made in the window."""

    since: datetime
    until: datetime
    total: AreaStats
    areas: list[AreaStats]
    dispatch: DispatchStats


def summarize(
    key: str | None, reports: int, incidents: list[Incident], alerts: list[Alert], deliveries: dict[str, dict[Delivery, int]]
) -> AreaStats:
    """Figures for one group of incidents and alerts."""
    decided = [i for i in incidents if i.verdict is not None and i.decided_at is not None]
    claimed = [i for i in incidents if i.first_claimed_at is not None]
    sent: Counter[Delivery] = Counter()
    for alert in alerts:
        sent.update(deliveries.get(alert.id, {}))
    return AreaStats(
        neighborhood_id=key,
        reports=reports,
        incidents=len(incidents),
        verdicts=dict(Counter(i.verdict for i in decided if i.verdict is not None)),
        open=len(incidents) - len(decided),
        time_to_first_claim=Durations.of(
            [(i.first_claimed_at - i.first_seen_at).total_seconds() for i in claimed if i.first_claimed_at is not None]
        ),
        time_to_verdict=Durations.of(
            [(i.decided_at - i.first_seen_at).total_seconds() for i in decided if i.decided_at is not None]
        ),
        alerts=sum(a.kind is AlertKind.ALERT for a in alerts),
        corrections=sum(a.kind is AlertKind.CORRECTION for a in alerts),
        deliveries=dict(sent),
    )


class StatsService:
    """Desk statistics for coordinators (role checked) and the command line."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, pseudonymize: Callable[[int], str] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._pseudonymize = pseudonymize

    async def stats(
        self, user_id: int | None, window: timedelta | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> DeskStats:
        """Figures for incidents first reported (alerts verified, dispatches made) in
        [since, until], by default the last `window` (7 days). `user_id` None: the command
        line."""
        until = until or self._clock.now()
        since = since or until - (window or timedelta(days=7))
        async with self._uow() as uow:
            if user_id is not None:
                person = await uow.verifiers.get(user_id)
                if person is None or not person.can(Role.COORDINATOR):
                    actor = await refused_actor(uow, user_id, self._pseudonymize)
                    await uow.audit.add(
                        AuditEvent(
                            self._clock.now(),
                            actor,
                            "refused.stats",
                            RefusalReason.STATS_NOT_ALLOWED.value,
                            {"needs": Role.COORDINATOR.label},
                        )
                    )
                    await uow.commit()
                    raise Refusal(RefusalReason.STATS_NOT_ALLOWED)
            reports = await uow.stats.reports_by_area(since, until)
            incidents = await uow.stats.incidents_between(since, until)
            alerts = await uow.stats.alerts_between(since, until)
            deliveries = await uow.stats.deliveries([a.id for a in alerts])
            dispatches = await uow.dispatches.between(since, until)
        keys = sorted(
            set(reports) | {i.neighborhood_id for i in incidents} | {a.neighborhood_id for a in alerts},
            key=lambda k: (k is None, k or ""),
        )
        areas = [
            summarize(
                key,
                reports.get(key, 0),
                [i for i in incidents if i.neighborhood_id == key],
                [a for a in alerts if a.neighborhood_id == key],
                deliveries,
            )
            for key in keys
        ]
        total = summarize("*", sum(reports.values()), incidents, alerts, deliveries)
        return DeskStats(since, until, total, areas, dispatch_stats(dispatches, since, until))
