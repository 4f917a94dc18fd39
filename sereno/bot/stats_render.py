"""Desk statistics as text (for /stats and `sereno admin stats`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sereno.bot.desk_render import VERDICT_LABELS
from sereno.bot.i18n import Translator
from sereno.verify.alerts import Delivery
from sereno.verify.places import Gazetteer
from sereno.verify.stats import AreaStats, DeskStats, DispatchStats, Durations


def duration(t: Translator, seconds: float | None) -> str:
    """`45 s`, `12 min`, `2 h 05 min`; a dash when nothing was measured."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return t("{n} s", n=round(seconds))
    minutes = round(seconds / 60)
    if minutes < 60:
        return t("{n} min", n=minutes)
    return t("{h} h {m:02d} min", h=minutes // 60, m=minutes % 60)


def _durations(t: Translator, label: str, d: Durations) -> str:
    return t(
        "{label}: median {median}, p90 {p90} ({count} incidents)",
        label=label,
        median=duration(t, d.median),
        p90=duration(t, d.p90),
        count=d.count,
    )


def _dispatch_durations(t: Translator, label: str, d: Durations) -> str:
    return t.n(
        "{label}: median {median}, p90 {p90} ({count} dispatch)",
        "{label}: median {median}, p90 {p90} ({count} dispatches)",
        d.count,
        label=label,
        median=duration(t, d.median),
        p90=duration(t, d.p90),
    )


def dispatch_lines(t: Translator, d: DispatchStats) -> list[str]:
    """Field dispatches: how many, how long from the first report until someone was on the
    way and until their on-site report, missed safety check-ins and escalations."""
    if not d.dispatches:
        return [t("No dispatches.")]
    return [
        t(
            "Dispatches: {dispatches} (someone went: {accepted}; nobody available: {nobody}).",
            dispatches=d.dispatches,
            accepted=d.accepted,
            nobody=d.nobody,
        ),
        _dispatch_durations(t, t("Time to a dispatch accepted"), d.to_accepted),
        _dispatch_durations(t, t("Time to the on-site report"), d.to_on_site),
        t(
            "Safety check-ins missed: {missed}. Escalations to coordinators: {escalations}.",
            missed=d.check_ins_missed,
            escalations=d.escalations,
        ),
    ]


def _verdicts(t: Translator, area: AreaStats) -> str:
    if not area.verdicts:
        return t("none yet")
    return ", ".join(f"{t(VERDICT_LABELS[v])} {n}" for v, n in sorted(area.verdicts.items(), key=lambda kv: kv[0]))


def stats_text(t: Translator, stats: DeskStats, gazetteer: Gazetteer, tz: ZoneInfo) -> str:
    """The whole report: totals first, then field dispatches, then one block per neighborhood."""
    total = stats.total
    lines = [
        t(
            "Desk statistics from {since} to {until}",
            since=stats.since.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            until=stats.until.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        ),
        t(
            "Reports: {reports}. Incidents: {incidents} (still open: {open}).",
            reports=total.reports,
            incidents=total.incidents,
            open=total.open,
        ),
        t("Verdicts: {verdicts}", verdicts=_verdicts(t, total)),
        _durations(t, t("Time to first claim"), total.time_to_first_claim),
        _durations(t, t("Time to verdict"), total.time_to_verdict),
        t(
            "Alerts: {alerts}. Corrections: {corrections}. Messages sent: {sent}, failed: {failed}.",
            alerts=total.alerts,
            corrections=total.corrections,
            sent=total.deliveries.get(Delivery.SENT, 0),
            failed=total.deliveries.get(Delivery.FAILED, 0),
        ),
        *dispatch_lines(t, stats.dispatch),
    ]
    for area in stats.areas:
        nb = gazetteer.get(area.neighborhood_id)
        name = nb.name if nb is not None else (area.neighborhood_id or t("No place given"))
        lines += [
            "",
            t(
                "{place}: {reports} reports, {incidents} incidents; verdicts: {verdicts}",
                place=name,
                reports=area.reports,
                incidents=area.incidents,
                verdicts=_verdicts(t, area),
            ),
            t(
                "  first claim: median {claim}; verdict: median {verdict}; alerts: {alerts}",
                claim=duration(t, area.time_to_first_claim.median),
                verdict=duration(t, area.time_to_verdict.median),
                alerts=area.alerts,
            ),
        ]
    return "\n".join(lines)
