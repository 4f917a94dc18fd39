"""What surge mode shows: coordinators' /surge answers, the summary they get every few
minutes instead of a message per incident, and the /batch digest of the incidents grouped
for batch review. Calm and factual: what surges, why, and how much."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sereno.bot.callbacks import DeskAction, DeskButton, Token
from sereno.bot.desk_render import TIER_LABELS
from sereno.bot.i18n import Translator
from sereno.bot.messaging import Markup
from sereno.bot.render import ACTIVITY_LABELS
from sereno.verify.incidents import Incident
from sereno.verify.places import Gazetteer
from sereno.verify.surge import EVERYWHERE, SurgeOverride, SurgePolicy, SurgeSource, SurgeStatus
from sereno.verify.surge_service import SurgeSummary

#: Incidents listed in one /batch digest (the rest are counted).
BATCH_LINES = 10
#: Number buttons per row under the digest.
BUTTONS_PER_ROW = 5


def area_name(t: Translator, gazetteer: Gazetteer, neighborhood_id: str | None) -> str:
    """A neighborhood's name (its id when unknown; "all neighborhoods" for everywhere)."""
    if neighborhood_id == EVERYWHERE:
        return t("all neighborhoods")
    if neighborhood_id is None:
        return t("no neighborhood")
    nb = gazetteer.get(neighborhood_id)
    return nb.name if nb is not None else neighborhood_id


def _why(t: Translator, status: SurgeStatus) -> str:
    if status.source is SurgeSource.MANUAL:
        return t(
            "set by a coordinator; {recent} reports in the last hour (normally about {normal})",
            recent=status.recent,
            normal=round(status.normal_per_hour, 1),
        )
    return t(
        "automatic: {recent} reports in the last hour, normally about {normal} an hour",
        recent=status.recent,
        normal=round(status.normal_per_hour, 1),
    )


def status_text(t: Translator, statuses: Sequence[SurgeStatus], gazetteer: Gazetteer) -> str:
    """/surge: the neighborhoods in surge now, and why."""
    if not statuses:
        return t("No neighborhood is in surge. /surge on [neighborhood id] turns it on.")
    lines = [t("In surge now:")]
    lines += [f"• {area_name(t, gazetteer, s.neighborhood_id)}: {_why(t, s)}" for s in statuses]
    lines.append(t("/surge off [id] holds it off for a while; /surge auto [id] goes back to the automatic rule."))
    return "\n".join(lines)


def usage(t: Translator) -> str:
    return t(
        "Send /surge to see which neighborhoods are in surge, /surge on [neighborhood id] to turn it on, "
        "/surge off [id] to hold it off, or /surge auto [id] to go back to the automatic rule "
        "(without an id: all neighborhoods)."
    )


def set_text(t: Translator, override: SurgeOverride, policy: SurgePolicy, gazetteer: Gazetteer, tz: ZoneInfo) -> str:
    """The answer to /surge on or /surge off."""
    area = area_name(t, gazetteer, override.neighborhood_id)
    if override.on:
        return t(
            "Surge mode is on for {area} until you change it. Reports from new reporters are grouped for batch "
            "review (/batch), each reporter may send {count} reports per {minutes} minutes, and coordinators get "
            "a summary every {every} minutes instead of a message per incident.",
            area=area,
            count=policy.limit.max_reports,
            minutes=round(policy.limit.window.total_seconds() / 60),
            every=round(policy.summary_every.total_seconds() / 60),
        )
    assert override.until is not None
    return t(
        "Surge mode is off for {area} until {until}, whatever the number of reports; then the automatic rule applies again.",
        area=area,
        until=t.time(override.until, tz),
    )


def auto_text(t: Translator, neighborhood_id: str | None, cleared: bool, policy: SurgePolicy, gazetteer: Gazetteer) -> str:
    """The answer to /surge auto."""
    area = area_name(t, gazetteer, neighborhood_id or EVERYWHERE)
    multiple = format(policy.multiple, "g")
    rule = t("surge when reports in the last hour are more than {multiple} times the normal rate", multiple=multiple)
    if cleared:
        return t("{area} follows the automatic rule again: {rule}.", area=area, rule=rule)
    return t("{area} already followed the automatic rule: {rule}.", area=area, rule=rule)


def summary_text(t: Translator, summary: SurgeSummary, gazetteer: Gazetteer, tz: ZoneInfo) -> str:
    """The coordinators' surge summary: which neighborhoods surge and why, the reports since
    the last summary and the incidents open there (the quiet ones named on one line)."""
    lines = [t("Surge summary, {since}–{until}:", since=t.time(summary.since, tz), until=t.time(summary.until, tz))]
    quiet = []
    for area in summary.areas:
        name = area_name(t, gazetteer, area.status.neighborhood_id)
        if not area.reports and not area.open_incidents:
            quiet.append(name)
            continue
        lines.append(f"• {name} ({_why(t, area.status)})")
        reports = t.n("{count} new report since the last summary", "{count} new reports since the last summary", area.reports)
        open_ = t.n("{count} incident open", "{count} incidents open", area.open_incidents)
        lines.append(f"  {reports}; {open_}.")
    if quiet:
        lines.append(t("Also in surge, with no new reports or open incidents: {areas}.", areas=", ".join(quiet)))
    lines.append(
        t("Reports from new reporters wait for batch review: /batch. Incidents several people report reach the queue as usual.")
    )
    return "\n".join(lines)


def batch_line(t: Translator, count: int) -> str:
    """The line under /queue when incidents wait for batch review."""
    return t.n(
        "{count} incident from new reporters is grouped for batch review: /batch",
        "{count} incidents from new reporters are grouped for batch review: /batch",
        count,
    )


def _age(t: Translator, then: datetime, now: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    return t("{minutes} min ago", minutes=minutes) if minutes < 120 else t("{hours} h ago", hours=minutes // 60)


def batch_digest(t: Translator, incidents: Sequence[Incident], gazetteer: Gazetteer, now: datetime) -> tuple[str, Markup | None]:
    """/batch: one message listing the incidents grouped for batch review, most urgent
    first, one compact line each, with a numbered button per line opening its card."""
    if not incidents:
        return t("No incidents are waiting for batch review."), None
    shown = incidents[:BATCH_LINES]
    lines = [
        t.n(
            "{count} incident from new reporters waits for batch review. Tap its number to open its card:",
            "{count} incidents from new reporters wait for batch review. Tap a number to open its card:",
            len(incidents),
        )
    ]
    for n, incident in enumerate(shown, 1):
        activity = t(ACTIVITY_LABELS[incident.activity]) if incident.activity else t("activity not given")
        parts = [
            t(TIER_LABELS[incident.tier]),
            activity,
            area_name(t, gazetteer, incident.neighborhood_id),
            _age(t, incident.first_seen_at, now),
            t.n("{count} report", "{count} reports", incident.report_count),
        ]
        lines.append(f"{n}. " + " · ".join(parts))
    if len(incidents) > len(shown):
        lines.append(t("+{count} more: decide these first, then send /batch again.", count=len(incidents) - len(shown)))
    buttons = [
        {"text": str(n), "callback_data": DeskButton(DeskAction.OPEN, Token(incident.id)).pack()}
        for n, incident in enumerate(shown, 1)
    ]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return "\n".join(lines), {"inline_keyboard": rows}
