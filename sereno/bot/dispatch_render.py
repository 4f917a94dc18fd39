"""What dispatch says: the ask with its safety briefing, the on-site report's steps, the
check-ins, the notices to the dispatcher and coordinators, and the card's dispatch lines.
Who was dispatched appears only where the service filled it in (coordinators' views)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sereno.bot.callbacks import (
    Callback,
    CheckInButton,
    DispatchAction,
    DispatchButton,
    OfferButton,
    OfferReply,
    OnSiteButton,
    OnSiteField,
    Text,
    Token,
)
from sereno.bot.desk_render import VERDICT_LABELS
from sereno.bot.i18n import N_, Translator
from sereno.bot.messaging import Markup
from sereno.bot.render import ACTIVITY_LABELS, AGENT_LABELS, UNIFORM_LABELS, VEHICLE_LABELS
from sereno.verify.dispatch import (
    ETA_CHOICES,
    CheckInAnswer,
    CheckInStage,
    Direction,
    DispatchNotice,
    DispatchState,
    Equipment,
    Finding,
    NoticeKind,
    Salute,
)
from sereno.verify.dispatch_service import Assignment, DispatchCard, DispatchView, OnSiteView
from sereno.verify.incidents import Incident
from sereno.verify.model import Activity, AgentCount, Uniform, VehicleCount
from sereno.verify.places import Gazetteer

FINDING_LABELS = {
    Finding.CONFIRMED: N_("✅ Confirmed: I can see it"),
    Finding.NOTHING_THERE: N_("🔍 Nothing there: I checked the area"),
    Finding.UNCERTAIN: N_("❔ Uncertain: I can't tell"),
}
FINDING_NAMES = {
    Finding.CONFIRMED: N_("confirmed"),
    Finding.NOTHING_THERE: N_("nothing there"),
    Finding.UNCERTAIN: N_("uncertain"),
}
DIRECTION_LABELS = {
    Direction.NORTH: N_("North"),
    Direction.NORTH_EAST: N_("North-east"),
    Direction.EAST: N_("East"),
    Direction.SOUTH_EAST: N_("South-east"),
    Direction.SOUTH: N_("South"),
    Direction.SOUTH_WEST: N_("South-west"),
    Direction.WEST: N_("West"),
    Direction.NORTH_WEST: N_("North-west"),
    Direction.STATIONARY: N_("Not moving"),
    Direction.UNKNOWN: N_("Not sure"),
}
EQUIPMENT_LABELS = {
    Equipment.UNMARKED_SUV: N_("Unmarked SUV"),
    Equipment.MARKED_VEHICLE: N_("Marked vehicle"),
    Equipment.VAN: N_("Van"),
    Equipment.BUS: N_("Bus"),
    Equipment.OTHER: N_("Other"),
}
CHECK_IN_LABELS = {
    CheckInAnswer.OK: N_("👍 I'm OK"),
    CheckInAnswer.LEAVING: N_("🚶 I'm leaving"),
    CheckInAnswer.HELP: N_("🆘 I need help"),
    CheckInAnswer.SAFE: N_("🏠 I'm safe and gone"),
}
#: The SALUTE steps of a confirmed on-site report, in the order they are asked, with their
#: question and choices.
SALUTE_STEPS: tuple[tuple[OnSiteField, str, dict[str, str]], ...] = (
    (OnSiteField.AGENTS, N_("Size: how many agents?"), {k.value: v for k, v in AGENT_LABELS.items()}),
    (OnSiteField.VEHICLES, N_("How many vehicles?"), {k.value: v for k, v in VEHICLE_LABELS.items()}),
    (OnSiteField.ACTIVITY, N_("Activity: what are they doing?"), {k.value: v for k, v in ACTIVITY_LABELS.items()}),
    (OnSiteField.UNIFORM, N_("Uniform: what markings?"), {k.value: v for k, v in UNIFORM_LABELS.items()}),
    (OnSiteField.EQUIPMENT, N_("Equipment: what vehicles or gear?"), {k.value: v for k, v in EQUIPMENT_LABELS.items()}),
    (OnSiteField.DIRECTION, N_("Direction of travel?"), {k.value: v for k, v in DIRECTION_LABELS.items()}),
)

SAFETY_BRIEFING = N_(
    "Safety first:\n"
    "• Observe only, from a distance. Do not engage with agents or anyone detained.\n"
    "• Park with a clear exit route.\n"
    "• Do not film faces. Never share names or license plates.\n"
    "• If you feel unsafe, leave, then tap “I'm leaving”."
)
LOOK_FOR = N_(
    "What to look for (SALUTE): Size (agents, vehicles) · Activity · Location · Uniform markings · "
    "Time · Equipment (vehicle kinds) · and their direction of travel."
)


def _button(text: str, data: Callback) -> dict[str, object]:
    return {"text": text, "callback_data": data.pack()}


def _where(t: Translator, incident: Incident, gazetteer: Gazetteer) -> str:
    nb = gazetteer.get(incident.neighborhood_id)
    return nb.name if nb is not None else t("outside the covered area / not given")


def _place(t: Translator, notice: DispatchNotice, incidents: dict[str, Incident], gazetteer: Gazetteer) -> str:
    incident = incidents.get(notice.incident_id)
    return _where(t, incident, gazetteer) if incident is not None else t("an incident")


def _area(t: Translator, neighborhood_id: str | None, gazetteer: Gazetteer) -> str:
    nb = gazetteer.get(neighborhood_id) if neighborhood_id else None
    return nb.name if nb is not None else t("not known")


# ── the person asked, and in the field ────────────────────────────────────────────
def offer(t: Translator, dispatch_id: str, incident: Incident, gazetteer: Gazetteer, tz: ZoneInfo) -> tuple[str, Markup]:
    """The ask: where and what, the safety briefing, what to look for; ETA buttons and
    "I can't go"."""
    what = t(ACTIVITY_LABELS[incident.activity]) if incident.activity else t("Unclear activity")
    lines = [
        t("🚶 Can you go and look? A verifier asks for eyes on the ground."),
        t("Where: {place}", place=_where(t, incident, gazetteer)),
    ]
    if incident.point is not None:
        lines.append(t("Pin: {lat:.5f}, {lon:.5f}", lat=incident.point.lat, lon=incident.point.lon))
    lines += [
        t("What was reported: {what}", what=what),
        t("First reported at {time}", time=t.time(incident.first_seen_at, tz)),
        "",
        t(SAFETY_BRIEFING),
        "",
        t(LOOK_FOR),
        "",
        t("If you can go, tap how many minutes you need to get there."),
    ]
    token = Token(dispatch_id)
    etas = [_button(t("{minutes} min", minutes=m), OfferButton(token, OfferReply.GO, m)) for m in ETA_CHOICES]
    return "\n".join(lines), {"inline_keyboard": [etas, [_button(t("I can't go"), OfferButton(token, OfferReply.DECLINE))]]}


def field_keyboard(t: Translator, dispatch_id: str, *, reported: bool) -> Markup:
    """What the person in the field can tap at any time: what they found (until they
    reported), and the check-in answers."""
    token = Token(dispatch_id)
    rows: list[list[dict[str, object]]] = []
    if not reported:
        rows += [
            [_button(t(label), OnSiteButton(token, OnSiteField.FINDING, Text(f.value)))] for f, label in FINDING_LABELS.items()
        ]
    rows += [
        [_button(t(CHECK_IN_LABELS[CheckInAnswer.OK]), CheckInButton(token, CheckInAnswer.OK))],
        [_button(t(CHECK_IN_LABELS[CheckInAnswer.HELP]), CheckInButton(token, CheckInAnswer.HELP))],
        [
            _button(t(CHECK_IN_LABELS[CheckInAnswer.LEAVING]), CheckInButton(token, CheckInAnswer.LEAVING)),
            _button(t(CHECK_IN_LABELS[CheckInAnswer.SAFE]), CheckInButton(token, CheckInAnswer.SAFE)),
        ],
    ]
    return {"inline_keyboard": rows}


def accepted(t: Translator, assignment: Assignment, check_in_at: datetime | None, tz: ZoneInfo) -> tuple[str, Markup]:
    """After "I can go": thanks, when the first check-in comes, and the field buttons."""
    lines = [t("Thank you. Go carefully, and stay at a distance.")]
    if check_in_at is not None:
        lines.append(t("I will check on you at {time}. Tap “I'm OK” at any time.", time=t.time(check_in_at, tz)))
    lines.append(t("When you have looked, tap what you found."))
    return "\n".join(lines), field_keyboard(t, assignment.dispatch_id, reported=assignment.reported)


def check_in(t: Translator, dispatch_id: str, *, reminder: bool, reported: bool) -> tuple[str, Markup]:
    """ "Are you OK?" (or its reminder), with the field buttons."""
    text = (
        t("Reminder: are you OK? Please answer, or coordinators will try to reach you.")
        if reminder
        else t("Safety check-in: are you OK?")
    )
    return text, field_keyboard(t, dispatch_id, reported=reported)


def salute_question(t: Translator, dispatch_id: str, step: OnSiteField) -> tuple[str, Markup]:
    """One SALUTE question of a confirmed report, its choices two to a row, and Skip."""
    [(question, choices)] = [(q, c) for f, q, c in SALUTE_STEPS if f is step]
    token = Token(dispatch_id)
    buttons = [_button(t(label), OnSiteButton(token, step, Text(value))) for value, label in choices.items()]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_button(t("Skip"), OnSiteButton(token, OnSiteField.SKIP, Text(step.value)))])
    return t(question), {"inline_keyboard": rows}


def text_question(t: Translator, dispatch_id: str, finding: Finding) -> tuple[str, Markup]:
    """The short text of the report, or Skip."""
    text = (
        t("In a few words, what do you see? No names, faces or license plates.")
        if finding is Finding.CONFIRMED
        else t("In a few words, what did you check? No names, faces or license plates.")
    )
    return text, {"inline_keyboard": [[_button(t("Skip"), OnSiteButton(Token(dispatch_id), OnSiteField.SKIP, Text("text")))]]}


def photo_question(t: Translator, dispatch_id: str) -> tuple[str, Markup]:
    """An optional photo, or Skip (which sends the report)."""
    text = t(
        "If it is safe, send one photo (no faces, no license plates; hidden location data is removed). Or tap Send without photo."
    )
    skip = OnSiteButton(Token(dispatch_id), OnSiteField.SKIP, Text("photo"))
    return text, {"inline_keyboard": [[_button(t("Send without photo"), skip)]]}


def salute_summary(t: Translator, salute: Salute) -> str:
    """The SALUTE answers given, on one line (empty when none)."""
    parts = [
        t(AGENT_LABELS[salute.agents]) + " " + t("agents") if salute.agents else "",
        t(VEHICLE_LABELS[salute.vehicles]) + " " + t("vehicles") if salute.vehicles else "",
        t(ACTIVITY_LABELS[salute.activity]) if salute.activity else "",
        t(UNIFORM_LABELS[salute.uniform]) if salute.uniform else "",
        " + ".join(t(EQUIPMENT_LABELS[e]) for e in salute.equipment),
        t("heading: {direction}", direction=t(DIRECTION_LABELS[salute.direction])) if salute.direction else "",
    ]
    return " · ".join(p for p in parts if p)


def reported(t: Translator, finding: Finding, counts: bool, refusal: str | None) -> str:
    """What the person is told once their on-site report is in."""
    lines = [t("Thank you. Your on-site report ({finding}) is on the incident's card.", finding=t(FINDING_NAMES[finding]))]
    if refusal is not None or not counts:
        lines.append(t("It is shown to the desk, but does not count as a verdict."))
    lines.append(t("Leave when you are ready, then tap “I'm safe and gone”."))
    return "\n".join(lines)


# ── notices ───────────────────────────────────────────────────────────────────────
def _who(t: Translator, notice: DispatchNotice) -> str:
    return notice.person_name or t("Someone")


def notice_text(t: Translator, notice: DispatchNotice, incidents: dict[str, Incident], gazetteer: Gazetteer, tz: ZoneInfo) -> str:
    """The words of a notice to the dispatcher or to coordinators (for the others, see
    `offer` and `check_in`). A name appears only when the service put it in (coordinators)."""
    place = _place(t, notice, incidents, gazetteer)
    kind = notice.kind
    if kind is NoticeKind.ON_THE_WAY:
        return t(
            "🚶 {who} is on the way to the incident in {place}: about {minutes} min.",
            who=_who(t, notice),
            place=place,
            minutes=notice.eta_minutes or 0,
        )
    if kind is NoticeKind.NOBODY:
        return t("Nobody could go and look at the incident in {place}. You can ask again later from its card.", place=place)
    if kind is NoticeKind.ON_SITE:
        return t("📍 The on-site report for the incident in {place} is in: see its card (/queue).", place=place)
    if kind is NoticeKind.OFFER_ENDED:
        return t("The request to look at the incident in {place} has ended. Thank you; you do not need to go.", place=place)
    if kind is NoticeKind.CLOSED:
        return t("A coordinator ended your visit to the incident in {place}. Thank you. Please leave safely.", place=place)
    area = _area(t, notice.neighborhood_id, gazetteer)
    if kind is NoticeKind.ESCALATION:
        return t(
            "⚠️ {who} did not answer the safety check-in at the incident in {place}. Last shared neighborhood: {area}. "
            "Please try to reach them now. /dispatches",
            who=_who(t, notice),
            place=place,
            area=area,
        )
    if kind is NoticeKind.HELP:
        return t(
            "🆘 {who} asked for help at the incident in {place}. Last shared neighborhood: {area}. Reach them now. /dispatches",
            who=_who(t, notice),
            place=place,
            area=area,
        )
    if kind is NoticeKind.ALL_CLEAR:
        return t("✅ {who} answered the check-in at the incident in {place}.", who=_who(t, notice), place=place)
    raise ValueError(f"{kind} is worded by offer() or check_in()")


# ── the desk ──────────────────────────────────────────────────────────────────────
STATE_LABELS = {
    DispatchState.OFFERED: N_("asking"),
    DispatchState.ACCEPTED: N_("on the way"),
    DispatchState.ON_SITE: N_("on site"),
}
CHECK_IN_STAGE_LABELS = {
    CheckInStage.SCHEDULED: N_("next check-in at {time}"),
    CheckInStage.ASKED: N_("check-in asked"),
    CheckInStage.REMINDED: N_("check-in not answered, reminded"),
    CheckInStage.ESCALATED: N_("⚠️ check-in escalated"),
}


def _view_line(t: Translator, view: DispatchView, tz: ZoneInfo) -> str:
    """One open dispatch: the state and ETA, and for coordinators who and their check-in."""
    who = f"{view.person_name} · " if view.person_name else ""
    if view.state is DispatchState.OFFERED:
        line = t("🚶 Dispatch: asking someone to go ({count} asked so far)", count=view.asked)
        return line if not who else line + f" · {who.rstrip(' ·')}"
    state = t(STATE_LABELS[view.state])
    eta = (
        f" · {t('ETA {time}', time=t.time(view.expected_at, tz))}"
        if view.expected_at and view.state is DispatchState.ACCEPTED
        else ""
    )
    line = f"🚶 {t('Dispatch')}: {who}{state}{eta}"
    if view.check_in is not None:
        stage = t(CHECK_IN_STAGE_LABELS[view.check_in], time=t.time(view.check_in_due, tz) if view.check_in_due else "")
        line += f" · {stage}"
    return line


def _on_site_line(t: Translator, report: OnSiteView) -> str:
    who = f" ({report.person_name})" if report.person_name else ""
    line = t("📍 On-site report{who}: {finding}", who=who, finding=t(FINDING_NAMES[report.finding]))
    facts = salute_summary(t, report.salute)
    line += f" · {facts}" if facts else ""
    line += f" “{report.text}”" if report.text else ""
    line += " 📷" if report.photo_id else ""
    if report.verdict is not None:
        line += " → " + t(VERDICT_LABELS[report.verdict])
    if not report.counts:
        line += " " + t("(does not count)")
    return line


def card_lines(t: Translator, card: DispatchCard, tz: ZoneInfo) -> list[str]:
    """The card's dispatch lines: the open dispatches (someone is on the way, ETA; who,
    for coordinators only) and the on-site reports."""
    return [_view_line(t, v, tz) for v in card.dispatches if v.ended_at is None] + [_on_site_line(t, r) for r in card.reports]


def send_button(t: Translator, incident_id: str) -> dict[str, object]:
    """ "Send someone" under a card."""
    return _button(t("🚶 Send someone"), DispatchButton(DispatchAction.SEND, Token(incident_id)))


def open_dispatch(
    t: Translator, view: DispatchView, incident: Incident | None, gazetteer: Gazetteer, tz: ZoneInfo
) -> tuple[str, Markup]:
    """One open dispatch for /dispatches (coordinators): where, who, since when, the
    check-in, and Close."""
    place = _where(t, incident, gazetteer) if incident is not None else t("an incident")
    lines = [
        t("Incident in {place}", place=place),
        _view_line(t, view, tz),
        t("Since {time}", time=t.time(view.created_at, tz)),
        t("Last shared neighborhood: {area}", area=_area(t, view.neighborhood_id, gazetteer)),
    ]
    if view.missed_check_ins or view.escalations:
        lines.append(
            t(
                "Missed check-ins: {missed} · escalations: {escalations}",
                missed=view.missed_check_ins,
                escalations=view.escalations,
            )
        )
    close = DispatchButton(DispatchAction.CLOSE, Token(view.dispatch_id))
    return "\n".join(lines), {"inline_keyboard": [[_button(t("Close this dispatch"), close)]]}


#: The SALUTE values of a confirmed report, by field (for reading buttons back).
SALUTE_VALUES = {
    OnSiteField.AGENTS: AgentCount,
    OnSiteField.VEHICLES: VehicleCount,
    OnSiteField.ACTIVITY: Activity,
    OnSiteField.UNIFORM: Uniform,
    OnSiteField.EQUIPMENT: Equipment,
    OnSiteField.DIRECTION: Direction,
}
