"""What the desk shows: incident cards, verdict buttons, roster lines, reporter outcomes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sereno.bot import messaging
from sereno.bot.callbacks import AnswerButton, Callback, DeskAction, DeskButton, RoleButton, Token
from sereno.bot.i18n import N_, Translator
from sereno.bot.messaging import Markup
from sereno.bot.render import ACTIVITY_LABELS, AGENT_LABELS, UNIFORM_LABELS, VEHICLE_LABELS
from sereno.verify.desk import IncidentView
from sereno.verify.incidents import DrillKind, FollowUp, ReporterToTell, Verdict, VerdictRecord
from sereno.verify.members import Role, Verifier
from sereno.verify.model import Report, Tier
from sereno.verify.places import Gazetteer
from sereno.verify.surge import SurgeSource, SurgeStatus
from sereno.verify.trust import TrustHint

TIER_LABELS = {
    Tier.URGENT: N_("🔴 URGENT"),
    Tier.HIGH: N_("🟠 HIGH"),
    Tier.ROUTINE: N_("🟡 ROUTINE"),
}
VERDICT_LABELS = {
    Verdict.CONFIRMED: N_("Confirmed"),
    Verdict.DEBUNKED: N_("Debunked"),
    Verdict.UNVERIFIABLE: N_("Unable to verify"),
    Verdict.NEEDS_INFO: N_("Needs more info"),
}
DRILL_MARKS = {
    DrillKind.TRAINING: N_("🎓 PRACTICE DRILL — not real; nothing is published."),
    DrillKind.LIVE: N_("🎯 LIVE DRILL — only coordinators see this mark; nothing is published."),
}
ROLE_LABELS = {
    Role.REVOKED: N_("revoked"),
    Role.TRAINEE: N_("trainee"),
    Role.VERIFIER: N_("verifier"),
    Role.COORDINATOR: N_("coordinator"),
    Role.ADMIN: N_("admin"),
}
OUTCOME_FOR_REPORTER = {
    Verdict.CONFIRMED: N_(
        "Update on your report {code}: trained verifiers confirmed it. Thank you — your report helps keep the community informed."
    ),
    Verdict.DEBUNKED: N_(
        "Update on your report {code}: trained verifiers checked it and found it was not immigration "
        "enforcement. Thank you for reporting; checking first stops false alarms."
    ),
    Verdict.UNVERIFIABLE: N_(
        "Update on your report {code}: trained verifiers could not confirm it either way. Thank you for "
        "reporting; please report again if you see more."
    ),
}


TRUST_LABELS = {
    TrustHint.NEW: N_("new"),
    TrustHint.CONFIRMED_BEFORE: N_("confirmed before"),
    TrustHint.DEBUNKED_BEFORE: N_("debunked before"),
}
SURGE_LINES = {
    SurgeSource.MANUAL: N_("⚡ SURGE (set by a coordinator): reports from new reporters are grouped for batch review."),
    SurgeSource.AUTOMATIC: N_(
        "⚡ SURGE: {recent} reports in this neighborhood in the last hour (normally about {normal}); reports "
        "from new reporters are grouped for batch review."
    ),
}


def surge_line(t: Translator, status: SurgeStatus | None) -> str:
    """The card's surge mark ("" outside surge)."""
    if status is None or not status.on or status.source is None:
        return ""
    return t(SURGE_LINES[status.source], recent=status.recent, normal=round(status.normal_per_hour, 1))


def for_reporter(t: Translator, reporter: ReporterToTell) -> tuple[str, Markup | None]:
    """What a reporter is owed, in their language: a verifier's follow-up question with an
    Answer button, or the outcome of their report."""
    if reporter.follow_up_id is not None:
        text = t("A verifier has a question about your report {code}:", code=reporter.ref_code)
        markup = {"inline_keyboard": [[_button(t("Answer"), AnswerButton(Token(reporter.follow_up_id)))]]}
        return f"{text}\n\n{reporter.question}", markup
    assert reporter.verdict is not None
    return t(OUTCOME_FOR_REPORTER[reporter.verdict], code=reporter.ref_code), None


def _ago(t: Translator, then: datetime, now: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    return t("{minutes} min ago", minutes=minutes) if minutes < 120 else t("{hours} h ago", hours=minutes // 60)


#: What a card shows at most, so that it always fits one message (with the ping's note
#: above it, in every catalog, whatever people typed): each value below is cut to so many
#: UTF-16 units (ending in "…"), the first reports and the latest questions and verdicts
#: are shown and the rest counted ("+N more"); the Read all button sends everything.
PLACE_UNITS = 80
DETAILS_UNITS = 160
REPORT_LINES = 5
QUESTION_UNITS = 120
ANSWER_UNITS = 200
FOLLOW_UP_LINES = 2
REASON_UNITS = 160
VERDICT_LINES = 4

Cut = Callable[[str, int], str]


class Card(NamedTuple):
    """A card's text, and whether it leaves anything out (then it offers Read all)."""

    text: str
    abridged: bool


class _Clipper:
    """Cuts values to the card's bounds, remembering whether it cut anything."""

    def __init__(self) -> None:
        self.cut = False

    def __call__(self, text: str, limit: int) -> str:
        clipped = messaging.clip(text, limit)
        self.cut |= clipped != text
        return clipped


def _whole(text: str, limit: int) -> str:
    return text


def _report_line(t: Translator, report: Report, tz: ZoneInfo, cut: Cut, hint: TrustHint | None = None) -> str:
    facts = [
        t(AGENT_LABELS[report.agents]) + " " + t("agents") if report.agents else "",
        t(VEHICLE_LABELS[report.vehicles]) + " " + t("vehicles") if report.vehicles else "",
        t(UNIFORM_LABELS[report.uniform]) if report.uniform else "",
    ]
    text = " · ".join(f for f in facts if f)
    detail = f" “{cut(report.details, DETAILS_UNITS)}”" if report.details else ""
    detail += f" 📷{len(report.media_ids)}" if report.media_ids else ""
    local = t.time(report.created_at, tz)
    trust = f" ({t(TRUST_LABELS[hint])})" if hint is not None else ""
    return f"— {report.ref_code} [{report.language}]{trust} {local}: {text}{detail}".rstrip()


def _follow_up_line(t: Translator, follow_up: FollowUp, cut: Cut) -> str:
    answer = cut(follow_up.answer, ANSWER_UNITS) if follow_up.answer else t("(no answer yet)")
    return t("Asked: {question} → {answer}", question=cut(follow_up.question, QUESTION_UNITS), answer=answer)


def _verdict_line(t: Translator, verdict: VerdictRecord, cut: Cut) -> str:
    marker = "" if verdict.counts else " " + t("(trainee, does not count)")
    return (
        t("Verdict: {verdict} — {reason}", verdict=t(VERDICT_LABELS[verdict.verdict]), reason=cut(verdict.reason, REASON_UNITS))
        + marker
    )


def card(
    t: Translator,
    view: IncidentView,
    gazetteer: Gazetteer,
    now: datetime,
    tz: ZoneInfo,
    note: str = "",
    *,
    hints: Mapping[str, TrustHint] | None = None,
    extra: Sequence[str] = (),
) -> Card:
    """An incident as verifiers see it, under `note` if given: tier, what, where, when,
    counts, the first reports each in its own language (marked, with its reporter's trust
    hint from `hints` by report id), the latest follow-up answers and verdicts, a suggested
    merge, and the `extra` lines (surge, dispatch) — always within one message (see
    REPORT_LINES and the other bounds; past them, the text is cut at the limit)."""
    incident, reports, verdicts, follow_ups = view.incident, view.reports, view.verdicts, view.follow_ups
    cut = _Clipper()
    nb = gazetteer.get(incident.neighborhood_id)
    what = t(ACTIVITY_LABELS[incident.activity]) if incident.activity else t("Unclear activity")
    lines = [note, ""] if note else []
    lines += [t(DRILL_MARKS[incident.drill])] if incident.drill else []  # set only for those who may know
    lines += [
        f"{t(TIER_LABELS[incident.tier])} · {what}",
        t("Where: {place}", place=cut(nb.name, PLACE_UNITS) if nb else t("outside the covered area / not given")),
        t(
            "First reported {ago}, last {last}",
            ago=_ago(t, incident.first_seen_at, now),
            last=_ago(t, incident.last_seen_at, now),
        ),
        t("Reports: {count}", count=incident.report_count),
    ]
    if incident.point is not None:
        lines.append(t("Pin: {lat:.5f}, {lon:.5f}", lat=incident.point.lat, lon=incident.point.lon))
    hints = hints or {}
    lines += [_report_line(t, report, tz, cut, hints.get(report.id)) for report in reports[:REPORT_LINES]]
    if (more := len(reports) - REPORT_LINES) > 0:
        lines.append(t.n("+{count} more report", "+{count} more reports", more))
    if (earlier := len(follow_ups) - FOLLOW_UP_LINES) > 0:
        lines.append(t.n("+{count} earlier question", "+{count} earlier questions", earlier))
    lines += [_follow_up_line(t, follow_up, cut) for follow_up in follow_ups[-FOLLOW_UP_LINES:]]
    if (earlier := len(verdicts) - VERDICT_LINES) > 0:
        lines.append(t.n("+{count} earlier verdict", "+{count} earlier verdicts", earlier))
    lines += [_verdict_line(t, verdict, cut) for verdict in verdicts[-VERDICT_LINES:]]
    if incident.escalated:
        lines.append(t("⚠️ Verifiers disagree: a coordinator decides."))
    if view.suggestion is not None:
        if view.suggestion.distance_m is None:
            lines.append(t("Possibly the same event as another open incident in this neighborhood."))
        else:
            lines.append(
                t(
                    "Possibly the same event as another open incident {distance} m away.",
                    distance=int(round(view.suggestion.distance_m, -1)),
                )
            )
    lines += [cut(line, DETAILS_UNITS * 4) for line in extra if line]
    if incident.claimed_by is not None and incident.lease_until is not None:
        until = t.time(incident.lease_until, tz)
        lines.append(t("Claimed until {time}", time=until))
    text = cut("\n".join(lines), messaging.MAX_TEXT)
    omitted = len(reports) > REPORT_LINES or len(follow_ups) > FOLLOW_UP_LINES or len(verdicts) > VERDICT_LINES
    return Card(text, cut.cut or omitted)


def full_text(t: Translator, view: IncidentView, tz: ZoneInfo) -> list[str]:
    """Everything the card may shorten, whole, as blocks (one a report, question or
    verdict) to pack into messages: every report, every question and answer, every verdict
    and its reason."""
    return [
        t("Reports of this incident in full ({count}):", count=len(view.reports)),
        *(_report_line(t, report, tz, _whole) for report in view.reports),
        *(_follow_up_line(t, follow_up, _whole) for follow_up in view.follow_ups),
        *(_verdict_line(t, verdict, _whole) for verdict in view.verdicts),
    ]


def _button(text: str, data: Callback) -> dict[str, object]:
    return {"text": text, "callback_data": data.pack()}


def _desk(action: DeskAction, view: IncidentView, verdict: Verdict | None = None) -> DeskButton:
    return DeskButton(action, Token(view.incident.id), verdict)


def _more_rows(t: Translator, view: IncidentView, shown: Card) -> list[list[dict[str, object]]]:
    """A Read all reports button under a card that leaves something out."""
    return [[_button(t("📄 Read all reports"), _desk(DeskAction.REPORTS, view))]] if shown.abridged else []


def photos_button(t: Translator, view: IncidentView, more: int = 0) -> list[dict[str, object]]:
    """A "Photos (n)" button when the incident's reports carry photos, or there are `more`
    (an on-site report's); none otherwise."""
    count = sum(len(r.media_ids) for r in view.reports) + more
    return [_button(t("📷 Photos ({count})", count=count), _desk(DeskAction.PHOTOS, view))] if count else []


def claim_keyboard(
    t: Translator, view: IncidentView, shown: Card, extra: Sequence[dict[str, object]] = (), more_photos: int = 0
) -> Markup:
    """The Claim button of a card for a viewer who may claim it (and Photos), Read all
    reports when the card is abridged, and Merge / Keep separate when a merge is suggested
    (for a viewer who may claim: merging is a verifier's decision too), and the `extra`
    buttons (Send someone) on a row of their own."""
    claim = [_button(t("Claim"), _desk(DeskAction.CLAIM, view))] if view.claimable else []
    rows = [row for row in ([*claim, *photos_button(t, view, more_photos)], *_more_rows(t, view, shown), list(extra)) if row]
    if view.suggestion is not None and view.claimable:
        rows.append(
            [_button(t("Merge"), _desk(DeskAction.MERGE, view)), _button(t("Keep separate"), _desk(DeskAction.SEPARATE, view))]
        )
    return {"inline_keyboard": rows}


def verdict_keyboard(
    t: Translator, view: IncidentView, shown: Card, extra: Sequence[dict[str, object]] = (), more_photos: int = 0
) -> Markup:
    """Verdicts, Release (and Photos, and Read all reports when the card is abridged), for
    the lease holder, and the `extra` buttons (Send someone)."""

    def choice(mark: str, verdict: Verdict) -> dict[str, object]:
        return _button(f"{mark} " + t(VERDICT_LABELS[verdict]), _desk(DeskAction.VERDICT, view, verdict))

    rows = [
        [choice("✅", Verdict.CONFIRMED), choice("❌", Verdict.DEBUNKED)],
        [choice("❔", Verdict.UNVERIFIABLE), choice("💬", Verdict.NEEDS_INFO)],
        [_button(t("Release"), _desk(DeskAction.RELEASE, view)), *photos_button(t, view, more_photos)],
        *_more_rows(t, view, shown),
    ]
    if extra:
        rows.append(list(extra))
    return {"inline_keyboard": rows}


def roster_line(t: Translator, person: Verifier) -> str:
    """One member, for /roster."""
    duty = t("on duty") if person.on_duty else t("off duty")
    return f"{person.name} · {t(ROLE_LABELS[person.role])} · {duty} · {', '.join(person.languages)}"


def role_button(t: Translator, user_id: int, role: Role) -> dict[str, object]:
    """ "Make <role>" for a desk member (the roster checks who presses it)."""
    return _button(t("Make {role}", role=t(ROLE_LABELS[role])), RoleButton(user_id, role))


def roster_keyboard(t: Translator, person: Verifier) -> Markup:
    """Role buttons for one member: promote one step, demote one step, revoke."""
    buttons = []
    if person.role < Role.COORDINATOR:
        higher = Role(max(Role.TRAINEE, person.role) + 1)
        buttons.append(role_button(t, person.user_id, higher))
    if person.role > Role.TRAINEE:
        lower = Role(person.role - 1)
        buttons.append(role_button(t, person.user_id, lower))
    if person.role is not Role.REVOKED:
        buttons.append(_button(t("Revoke"), RoleButton(person.user_id, Role.REVOKED)))
    return {"inline_keyboard": [buttons]} if buttons else {"inline_keyboard": []}
