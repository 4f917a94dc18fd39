"""The desk card fits one Telegram message (4,096 UTF-16 units) whatever the reports,
follow-up answers and verdict reasons hold, in every language; what it leaves out is
offered whole by Read all reports, in messages that fit too."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sereno.bot import desk_render
from sereno.bot.i18n import SUPPORTED_LANGUAGES, translator
from sereno.bot.messaging import ELLIPSIS, MAX_TEXT, clip, pack, units
from sereno.verify.desk import IncidentView
from sereno.verify.incidents import DrillKind, FollowUp, Incident, IncidentStatus, MergeSuggestion, Verdict, VerdictRecord
from sereno.verify.model import Activity, AgentCount, GeoPoint, Report, Tier, Uniform, VehicleCount
from sereno.verify.places import Gazetteer, Neighborhood
from sereno.verify.text import MAX_DETAILS_CHARS

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
TZ = ZoneInfo("America/Los_Angeles")
ID = "1" * 36
#: Longest typed question or verdict reason, and longest follow-up answer (sereno/bot/desk.py).
MAX_REASON, MAX_ANSWER = 500, 1000
#: Text as long as Telegram can count it: every character two UTF-16 units.
WIDE = "🚐"


def view(
    details: list[str],
    questions: list[tuple[str, str | None]],
    reasons: list[tuple[str, bool]],
    place: str = "Old Mill",
    drill: DrillKind | None = None,
    escalated: bool = False,
    suggestion: bool = False,
) -> tuple[IncidentView, Gazetteer]:
    """An incident with a report per detail, a follow-up per question (and answer) and a
    verdict per reason (and whether it counts), claimed by someone."""
    incident = Incident(
        ID,
        IncidentStatus.OPEN,
        Tier.URGENT,
        Activity.ARREST,
        "nb",
        GeoPoint(34.05, -118.25),
        None,
        NOW - timedelta(hours=3),
        NOW,
        len(details),
        claimed_by=7,
        lease_until=NOW + timedelta(minutes=5),
        escalated=escalated,
        drill=drill,
    )
    reports = [
        Report(
            f"r{n}",
            f"SR-{n:04d}",
            f"d{n}",
            "p",
            "ar",
            Tier.URGENT,
            NOW,
            agents=AgentCount.UNSURE,
            vehicles=VehicleCount.UNSURE,
            uniform=Uniform.PLAIN_CLOTHES,
            details=text,
            media_ids=("m",) * n,
        )
        for n, text in enumerate(details)
    ]
    follow_ups = [FollowUp(f"f{n}", "r0", question, 7, NOW, answer) for n, (question, answer) in enumerate(questions)]
    verdicts = tuple(VerdictRecord(ID, n, Verdict.DEBUNKED, reason, NOW, counts) for n, (reason, counts) in enumerate(reasons))
    merge = MergeSuggestion(ID, "2" * 36, 1234.0) if suggestion else None
    return IncidentView(incident, reports, verdicts, follow_ups, merge), Gazetteer([Neighborhood("nb", place)])


def read_all(language: str, shown: IncidentView) -> list[str]:
    return pack(desk_render.full_text(translator(language), shown, TZ))


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_fullest_card_fits_one_message_in_every_language_and_keeps_its_last_line(language: str) -> None:
    """Every value at the most a person can type, twice as long as Telegram counts: the
    bounds alone keep the card within the limit (its last line is not cut)."""
    t = translator(language)
    longest = WIDE * MAX_DETAILS_CHARS
    shown, gazetteer = view(
        [longest] * 12,
        [("🚓" * MAX_REASON, "👮" * MAX_ANSWER)] * 8,
        [("🚨" * MAX_REASON, False)] * 9,
        place=WIDE * 200,
        drill=DrillKind.LIVE,
        escalated=True,
        suggestion=True,
    )
    note = t("⏰ Nobody has claimed this for {minutes} min.", minutes=1440)
    card = desk_render.card(t, shown, gazetteer, NOW, TZ, note)
    assert units(card.text) <= MAX_TEXT and card.abridged
    assert card.text.endswith(t("Claimed until {time}", time=t.time(shown.incident.lease_until, TZ)))
    assert t.n("+{count} more report", "+{count} more reports", 7) in card.text
    pages = read_all(language, shown)
    assert len(pages) > 1 and all(units(page) <= MAX_TEXT for page in pages)
    assert "\n".join(pages).count(longest) == 12


def test_a_short_card_is_whole_and_offers_no_read_all() -> None:
    t = translator("en")
    shown, gazetteer = view(["Two vans"], [("ICE or POLICE?", "POLICE")], [("a traffic stop", True)])
    card = desk_render.card(t, shown, gazetteer, NOW, TZ)
    assert ELLIPSIS not in card.text and not card.abridged
    assert "“Two vans”" in card.text and "Asked: ICE or POLICE? → POLICE" in card.text
    buttons = [b["text"] for row in desk_render.claim_keyboard(t, shown, card)["inline_keyboard"] for b in row]
    assert "📄 Read all reports" not in buttons


def test_an_abridged_card_offers_read_all_to_claimers_and_holders() -> None:
    t = translator("en")
    shown, gazetteer = view(["x" * 161], [], [])
    card = desk_render.card(t, shown, gazetteer, NOW, TZ)
    assert card.abridged and f"{'x' * 159}{ELLIPSIS}”" in card.text
    for keyboard in (desk_render.claim_keyboard, desk_render.verdict_keyboard):
        rows = keyboard(t, shown, card)["inline_keyboard"]
        assert {"text": "📄 Read all reports", "callback_data": f"d:reports:{ID}"} in rows[-1]


#: What a person may type, as the intake keeps it (no surrounding blank space).
typed = st.text(st.characters(exclude_categories=("Cs",)), min_size=1).map(str.strip).filter(bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    language=st.sampled_from(SUPPORTED_LANGUAGES),
    details=st.lists(
        st.one_of(typed.map(lambda s: s[:MAX_DETAILS_CHARS].strip()), st.integers(0, MAX_DETAILS_CHARS).map(lambda n: WIDE * n)),
        max_size=15,
    ),
    questions=st.lists(
        st.tuples(st.integers(1, MAX_REASON).map(lambda n: "q" * n), st.none() | typed.map(lambda s: s[:MAX_ANSWER])), max_size=10
    ),
    reasons=st.lists(st.tuples(typed.map(lambda s: s[:MAX_REASON]), st.booleans()), max_size=10),
    place=typed.map(lambda s: s[:200]),
)
def test_any_card_fits_one_message_and_read_all_gives_every_word(
    language: str, details: list[str], questions: list[tuple[str, str | None]], reasons: list[tuple[str, bool]], place: str
) -> None:
    t = translator(language)
    shown, gazetteer = view(details, questions, reasons, place=place)
    card = desk_render.card(t, shown, gazetteer, NOW, TZ, t("⏰ Nobody has claimed this for {minutes} min.", minutes=99))
    assert units(card.text) <= MAX_TEXT
    pages = read_all(language, shown)
    assert all(0 < units(page) <= MAX_TEXT for page in pages)
    everything = "\n".join(pages)
    assert all(text in everything for text in details)
    assert all(reason in everything for reason, _ in reasons)


@given(st.text(), st.integers(1, 50))
def test_clip_cuts_within_the_limit_and_never_splits_a_character(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert units(clipped) <= limit
    assert clipped == text or (clipped.endswith(ELLIPSIS) and text.startswith(clipped[:-1]))
    clipped.encode("utf-8")  # no lone surrogate left by a cut


@given(st.lists(st.text(st.characters(exclude_categories=("Cs",)))), st.integers(2, 60))
def test_pack_fits_each_message_and_keeps_the_text_in_order(blocks: list[str], limit: int) -> None:
    pages = pack(blocks, limit)
    assert all(0 < units(page) <= limit for page in pages)
    squeezed = "".join("".join(blocks).split())
    assert "".join("".join(pages).split()) == squeezed


def test_a_card_offers_claim_and_merge_only_to_someone_who_may_claim() -> None:
    t = translator("en")
    shown_view, places = view(["short"], [], [], suggestion=True)
    for claimable, expected in ((True, {"Claim", "Merge", "Keep separate"}), (False, set())):
        seen = replace(shown_view, claimable=claimable)
        shown = desk_render.card(t, seen, places, NOW, TZ)
        keyboard = desk_render.claim_keyboard(t, seen, shown)
        labels = {b["text"] for row in keyboard["inline_keyboard"] for b in row}
        assert labels & {"Claim", "Merge", "Keep separate"} == expected
        assert all(keyboard["inline_keyboard"])  # no empty row
