"""Surge mode: holding up under a flood of (possibly false) tips, as pure decisions.

A neighborhood is in surge when a coordinator says so (`/surge on`), or automatically when
its reports in the last hour exceed `SurgePolicy.multiple` times its normal rate. The
normal rate is the mean hourly count over the 7 days before that hour (so the flood does
not raise its own bar), never below `SurgePolicy.floor_per_hour` (a quiet neighborhood is
not "surging" on its third report). The trailing hour smooths it: a surge ends within an
hour of the flood ending. A coordinator's `/surge off` holds it off for
`SurgePolicy.off_hold`, then the automatic rule applies again.

In surge, clustering stays as it is and the card says "surge"; and:
- reports of new pseudonyms (no past outcome) are grouped for batch review, unless the
  incident is corroborated by several reporters or a reporter confirmed before;
- the rate limit per reporter tightens (never loosens);
- coordinators get one summary per 5 minutes instead of a ping per incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sereno.verify.trust import TrustHint

#: The neighborhood id of an override that applies everywhere.
EVERYWHERE: Final = "*"


@dataclass(frozen=True, slots=True)
class ReportLimit:
    """At most `max_reports` per reporter within `window`."""

    max_reports: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class SurgePolicy:
    """Surge thresholds and what changes in surge, configurable per deployment."""

    multiple: float = 4.0
    floor_per_hour: float = 3.0
    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(days=7)
    off_hold: timedelta = timedelta(hours=2)
    limit: ReportLimit = field(default_factory=lambda: ReportLimit(2, timedelta(minutes=10)))
    summary_every: timedelta = timedelta(minutes=5)
    #: An incident with this many distinct reporters is reviewed as usual, new or not.
    corroboration: int = 3
    #: How long one process reuses the counts it read (the normal rate moves slowly).
    snapshot_ttl: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class SurgeOverride:
    """A coordinator's `/surge on` or `/surge off` for a neighborhood (or EVERYWHERE);
    `until` None: until changed."""

    neighborhood_id: str
    on: bool
    by: int | None
    at: datetime
    until: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.until is None or self.until > now


class SurgeSource(StrEnum):
    """Who decided the surge state."""

    MANUAL = "manual"
    AUTOMATIC = "automatic"


@dataclass(frozen=True, slots=True)
class SurgeStatus:
    """A neighborhood's surge state: `recent` reports in the last window, its normal rate
    and the hourly rate above which it is automatically in surge; `source` None when the
    automatic rule found no surge."""

    neighborhood_id: str
    on: bool
    source: SurgeSource | None
    recent: int
    normal_per_hour: float
    threshold_per_hour: float


def normal_per_hour(baseline_count: int, policy: SurgePolicy) -> float:
    """The normal hourly rate from the count over `policy.baseline`, at least the floor."""
    hours = policy.baseline.total_seconds() / 3600
    return max(policy.floor_per_hour, baseline_count / hours)


def surge_status(
    neighborhood_id: str, overrides: Sequence[SurgeOverride], recent: int, baseline_count: int, now: datetime, policy: SurgePolicy
) -> SurgeStatus:
    """The neighborhood's state: its own active override, else one for EVERYWHERE, else
    the automatic rule (`recent` in the last window above `multiple` × normal, per hour)."""
    normal = normal_per_hour(baseline_count, policy)
    own = [o for o in overrides if o.neighborhood_id == neighborhood_id and o.active(now)]
    region = [o for o in overrides if o.neighborhood_id == EVERYWHERE and o.active(now)]
    override = next(iter(own or region), None)
    threshold = policy.multiple * normal
    if override is not None:
        return SurgeStatus(neighborhood_id, override.on, SurgeSource.MANUAL, recent, normal, threshold)
    automatic = recent / (policy.window.total_seconds() / 3600) > threshold
    return SurgeStatus(neighborhood_id, automatic, SurgeSource.AUTOMATIC if automatic else None, recent, normal, threshold)


def report_limit(status: SurgeStatus | None, usual: ReportLimit, policy: SurgePolicy) -> ReportLimit:
    """The per-reporter limit to apply: in surge the tighter of the usual and the surge one
    (fewer reports, over at least as long a window)."""
    if status is None or not status.on:
        return usual
    return ReportLimit(min(usual.max_reports, policy.limit.max_reports), max(usual.window, policy.limit.window))


class Review(StrEnum):
    """How an incident reaches verifiers."""

    QUEUE = "queue"  # as usual: its card goes to on-duty verifiers, in the queue by tier
    BATCH = "batch"  # grouped with others for batch review (no ping; below the queue)


def review(status: SurgeStatus | None, hints: Sequence[TrustHint], policy: SurgePolicy) -> Review:
    """BATCH in surge when the incident's distinct reporters (`hints`, one each) are fewer
    than `policy.corroboration` and none confirmed before; otherwise QUEUE."""
    if status is None or not status.on:
        return Review.QUEUE
    if len(hints) >= policy.corroboration or TrustHint.CONFIRMED_BEFORE in hints:
        return Review.QUEUE
    return Review.BATCH


class CoordinatorNotice(StrEnum):
    """How coordinators hear of a new incident."""

    PING = "ping"  # a message per incident, as usual
    SUMMARY = "summary"  # in surge: in the next summary


def coordinator_notice(status: SurgeStatus | None) -> CoordinatorNotice:
    """A ping per incident, except in surge (then one summary per `summary_every`)."""
    return CoordinatorNotice.SUMMARY if status is not None and status.on else CoordinatorNotice.PING


def summary_due(last_sent: datetime | None, now: datetime, policy: SurgePolicy) -> bool:
    """Whether a surge summary may go now (never within `summary_every` of the last)."""
    return last_sent is None or now - last_sent >= policy.summary_every


@dataclass(frozen=True, slots=True)
class Triage:
    """What surge makes of the open incidents: those held for batch review, and how
    corroborated the others are (`weight`: distinct reporters of an incident in a surging
    neighborhood, never below `floor`; every other incident weighs `floor`). The usual
    queue is ordered by weight first, so in a flood the incidents many people report rise
    above those whose few reporters claim the most urgent tier."""

    batched: frozenset[str] = frozenset()
    weight: Mapping[str, int] = field(default_factory=dict)
    floor: int = 0
