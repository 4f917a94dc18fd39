"""What the public reads: verified alerts, their updates, and rumor corrections.

Calm and factual. Places are neighborhood names only — never a point, address, name, face
or plate. Every alert carries one know-your-rights line and the neighborhood's hotline
(from configuration; when none is configured the text says so and shows no number).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sereno.bot.i18n import N_, Translator
from sereno.bot.render import ACTIVITY_LABELS, KNOW_YOUR_RIGHTS_LINE, hotline_text
from sereno.verify.alerts import Alert, AlertKind, AlertState, MessageKind, UpdateKind
from sereno.verify.places import Gazetteer
from sereno.verify.resources import Resources

SEPARATOR = "\n\n— — —\n\n"
UPDATE_LINES = {
    UpdateKind.STILL_ACTIVE: N_("🔄 Update {time}: verifiers say the activity is still going on. Stay alert."),
    UpdateKind.ALL_CLEAR: N_("✅ All clear {time}: verifiers report the activity has ended."),
}


class AlertRenderer:
    """Renders alert messages per language for one deployment."""

    def __init__(self, gazetteer: Gazetteer, resources: Resources, tz: ZoneInfo) -> None:
        self._gazetteer = gazetteer
        self._resources = resources
        self._tz = tz

    @staticmethod
    def combined(texts: list[str], limit: int = 4096) -> str:
        """Several languages' versions as one post, in order, leaving out the last ones
        when together they would exceed Telegram's limit."""
        kept = texts[:1]
        for text in texts[1:]:
            candidate = SEPARATOR.join([*kept, text])
            if len(candidate) > limit:
                break
            kept.append(text)
        return SEPARATOR.join(kept)

    def _time(self, t: Translator, at: datetime) -> str:
        return t.time(at, self._tz)

    def _place(self, t: Translator, neighborhood_id: str | None) -> str:
        neighborhood = self._gazetteer.get(neighborhood_id)
        return neighborhood.name if neighborhood is not None else t("the area")

    def _hotline(self, t: Translator, neighborhood_id: str | None) -> str:
        hotline = self._resources.hotline_for(neighborhood_id)
        return hotline_text(t, hotline.number if hotline else "", hotline.name if hotline else "")

    def message(self, t: Translator, alert: Alert, kind: MessageKind, now: datetime) -> str:
        """The text of an outbox message: a post (as first sent, or a channel's edited post
        for lifecycle kinds), or a subscriber's update/all-clear reply."""
        if kind is MessageKind.POST:
            return self.post(t, alert)
        return self.post(t, alert, status=self.status(t, alert, kind, now))

    def reply(self, t: Translator, alert: Alert, kind: MessageKind, now: datetime) -> str:
        """A subscriber's update or all-clear, sent as a reply to the alert they received."""
        place = self._place(t, alert.neighborhood_id)
        return "\n".join([t("{place}:", place=place), self.status(t, alert, kind, now), self._hotline(t, alert.neighborhood_id)])

    def status(self, t: Translator, alert: Alert, kind: MessageKind, now: datetime) -> str:
        """The line a lifecycle change adds."""
        if kind is MessageKind.EXPIRE or alert.state is AlertState.EXPIRED:
            return t("⌛ This alert expired at {time} and is no longer current.", time=self._time(t, now))
        update = UpdateKind.ALL_CLEAR if kind is MessageKind.CLEAR else (alert.last_update or UpdateKind.STILL_ACTIVE)
        return t(UPDATE_LINES[update], time=self._time(t, alert.updated_at or now))

    def post(self, t: Translator, alert: Alert, status: str | None = None) -> str:
        """The alert or correction as posted (with `status` appended when it changed)."""
        lines = self._correction(t, alert) if alert.kind is AlertKind.CORRECTION else self._alert(t, alert)
        if status:
            lines = [status, "", *lines]
        return "\n".join(lines)

    def _verified_by(self, t: Translator, alert: Alert) -> str:
        if alert.verifiers <= 1:
            return t("by a trained verifier")
        return t("by {count} trained verifiers", count=alert.verifiers)

    def _alert(self, t: Translator, alert: Alert) -> list[str]:
        place = self._place(t, alert.neighborhood_id)
        what = t(ACTIVITY_LABELS[alert.activity]) if alert.activity else t("Immigration enforcement activity")
        lines = [
            t("⚠️ Verified alert: {place}", place=place),
            t("What: {what}", what=what),
            t("Verified at {time} {by}.", time=self._time(t, alert.verified_at), by=self._verified_by(t, alert)),
        ]
        others = [self._place(t, n) for n in alert.areas if n != alert.neighborhood_id]
        if others:
            lines.append(t("Also shared with nearby: {places}", places=", ".join(others)))
        lines += [
            "",
            t("What to do: stay calm. Avoid the area if you can. Share only verified information."),
            t(KNOW_YOUR_RIGHTS_LINE),
            self._hotline(t, alert.neighborhood_id),
        ]
        return lines

    def _correction(self, t: Translator, alert: Alert) -> list[str]:
        place = self._place(t, alert.neighborhood_id)
        return [
            t("ℹ️ Rumor check: {place}", place=place),
            t(
                "Reports of immigration enforcement in {place} were checked {by} and were not confirmed (checked at {time}).",
                place=place,
                by=self._verified_by(t, alert),
                time=self._time(t, alert.verified_at),
            ),
            "",
            t("Please do not forward the rumor. Share only alerts verified by this network."),
            t("If you see something, report it to this bot."),
            self._hotline(t, alert.neighborhood_id),
        ]
