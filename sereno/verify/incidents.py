"""Incidents: what verifiers decide on. One incident gathers the reports of one event; each
desk member gives it one verdict, and its reporters are owed its outcome or a question."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sereno.verify.model import Activity, GeoPoint, Tier

TIER_ORDER = (Tier.URGENT, Tier.HIGH, Tier.ROUTINE)


def more_urgent(a: Tier, b: Tier) -> Tier:
    """The more urgent of two tiers."""
    return a if TIER_ORDER.index(a) <= TIER_ORDER.index(b) else b


class IncidentStatus(StrEnum):
    """Where an incident stands on the desk."""

    OPEN = "open"  # waiting in the queue (possibly claimed)
    DECIDED = "decided"  # has a final verdict
    MERGED = "merged"  # folded into another incident
    WITHDRAWN = "withdrawn"  # a live drill a coordinator ended before the desk decided it


class Verdict(StrEnum):
    """What a verifier concludes."""

    CONFIRMED = "confirmed"
    DEBUNKED = "debunked"
    UNVERIFIABLE = "unverifiable"
    NEEDS_INFO = "needs_info"


class DrillKind(StrEnum):
    """A synthetic incident made from a drill scenario. Neither kind is ever published."""

    TRAINING = "training"  # in one person's training queue, graded at once
    LIVE = "live"  # in the live queue as if real; only coordinators are told it is a drill


@dataclass(frozen=True, slots=True)
class Incident:
    """An event reported once or more. `point` is the first located report's pin (raw, for
    clustering and verifiers only; public text never carries it)."""

    id: str
    status: IncidentStatus
    tier: Tier
    activity: Activity | None
    neighborhood_id: str | None
    point: GeoPoint | None
    cell: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    report_count: int
    claimed_by: int | None = None
    lease_until: datetime | None = None
    verdict: Verdict | None = None
    decided_at: datetime | None = None
    escalated: bool = False  # verifiers disagreed: a coordinator decides
    pinged: int = 0  # 1: everyone on duty was pinged about it, 2: coordinators too
    first_claimed_at: datetime | None = None
    drill: DrillKind | None = None


@dataclass(frozen=True, slots=True)
class MergeSuggestion:
    """A report's new incident may be the same event as another one (the verifier decides)."""

    incident_id: str
    other_incident_id: str
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """One person's verdict on an incident; `counts` is false for trainees."""

    incident_id: str
    verifier_id: int
    verdict: Verdict
    reason: str
    at: datetime
    counts: bool


@dataclass(frozen=True, slots=True)
class ReporterToTell:
    """A message owed to a reporter about an incident: its `verdict`, or a verifier's
    follow-up `question` (`follow_up_id` set). The chat id comes from the short-lived
    contact table; what is owed is recorded with the verdict, so it survives a crash."""

    report_id: str
    ref_code: str
    chat_id: int
    language: str
    follow_up_id: str | None = None
    verdict: Verdict | None = None
    question: str = ""

    @property
    def key(self) -> str:
        """Names what is owed: the follow-up's id for a question, else the report's id (a
        report has one outcome)."""
        return self.follow_up_id or self.report_id


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A verifier's question to a reporter, and the answer once given."""

    id: str
    report_id: str
    question: str
    asked_by: int
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None


def agreeing(verdicts: tuple[VerdictRecord, ...], verdict: Verdict) -> int:
    """How many distinct verifiers (trainees not counted) gave `verdict`."""
    return len({v.verifier_id for v in verdicts if v.counts and v.verdict is verdict})
