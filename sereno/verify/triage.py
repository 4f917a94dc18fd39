"""Triage: which tier a report starts in (the tiers: ARCHITECTURE.md, "Domain facts")."""

from __future__ import annotations

from sereno.verify.model import Activity, AgentCount, ReportDraft, Tier, TimeSeen

_URGENT_ACTIVITIES = frozenset({Activity.ARREST, Activity.COURTHOUSE, Activity.WORKPLACE})
_HIGH_ACTIVITIES = frozenset({Activity.HOME_VISIT, Activity.PRESENCE, Activity.CHECKPOINT})


def tier_for(draft: ReportDraft) -> Tier:
    """Urgent for an arrest, detention or raid in progress; high for agents present now;
    routine for earlier activity, unclear sightings and vehicles only.

    A skipped time is treated as possibly ongoing: a verifier should look at it soon rather
    than late. A report saying no agents were seen (vehicles only) is routine.
    """
    if draft.time_seen is TimeSeen.EARLIER_TODAY or draft.activity is None:
        return Tier.ROUTINE
    if draft.agents is AgentCount.NONE_SEEN and draft.activity is not Activity.ARREST:
        return Tier.ROUTINE
    if draft.activity in _URGENT_ACTIVITIES:
        return Tier.URGENT
    if draft.activity in _HIGH_ACTIVITIES:
        return Tier.HIGH
    return Tier.ROUTINE
