import pytest

from sereno.verify.model import Activity, AgentCount, ReportDraft, Tier, TimeSeen
from sereno.verify.triage import tier_for


def draft(activity: Activity | None, when: TimeSeen | None = TimeSeen.NOW, agents: AgentCount | None = None) -> ReportDraft:
    return ReportDraft("d", activity=activity, time_seen=when, agents=agents)


@pytest.mark.parametrize("activity", [Activity.ARREST, Activity.COURTHOUSE, Activity.WORKPLACE])
def test_arrest_detention_or_raid_in_progress_is_urgent(activity: Activity) -> None:
    assert tier_for(draft(activity)) is Tier.URGENT
    assert tier_for(draft(activity, TimeSeen.RECENT)) is Tier.URGENT


@pytest.mark.parametrize("activity", [Activity.PRESENCE, Activity.CHECKPOINT, Activity.HOME_VISIT])
def test_agents_present_now_is_high(activity: Activity) -> None:
    assert tier_for(draft(activity)) is Tier.HIGH


def test_earlier_activity_is_routine_even_an_arrest() -> None:
    assert tier_for(draft(Activity.ARREST, TimeSeen.EARLIER_TODAY)) is Tier.ROUTINE


def test_unclear_sightings_and_vehicles_only_are_routine() -> None:
    assert tier_for(draft(Activity.SURVEILLANCE)) is Tier.ROUTINE
    assert tier_for(draft(None)) is Tier.ROUTINE
    assert tier_for(draft(Activity.PRESENCE, agents=AgentCount.NONE_SEEN)) is Tier.ROUTINE


def test_skipped_time_is_treated_as_possibly_ongoing() -> None:
    assert tier_for(draft(Activity.ARREST, when=None)) is Tier.URGENT
