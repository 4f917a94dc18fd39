"""One notifier: renders and sends what the domain says to tell whom.

The services decide the recipients (`sereno.verify.notices`: the cards a submission, a
verdict, a live drill or an unclaimed incident calls for; the reporters a verdict owes an
outcome or a question; the people a drill's debrief is for). The notifier writes each
notice in its recipient's language and sends it, for the handlers, the scheduled jobs and
the demo alike. A recipient who cannot be reached is logged and skipped: the others are
still told.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from sereno.bot import desk_render, dispatch_render, drill_render, messaging
from sereno.bot.i18n import Translator, translator
from sereno.bot.services import Services
from sereno.verify.audience import ChannelLink
from sereno.verify.desk import VerdictResult
from sereno.verify.dispatch import DispatchNotice, NoticeKind
from sereno.verify.drills import DrillDebrief
from sereno.verify.errors import Refusal
from sereno.verify.incidents import DrillKind, ReporterToTell
from sereno.verify.intake import Submitted
from sereno.verify.members import Role
from sereno.verify.notices import CardNotice, CardReason, holding
from sereno.verify.training import DrillStarted

log = logging.getLogger(__name__)


async def incident_card(
    services: Services, t: Translator, user_id: int, incident_id: str, *, note: str = ""
) -> tuple[str, messaging.Markup]:
    """The card of an incident as `user_id` may see it (under `note` if given), one
    message long, with its buttons: the verdicts while they hold its lease, else Claim."""
    view = await services.desk.view(user_id, incident_id)
    tz, now = services.settings.tz, services.clock.now()
    incident = view.incident
    holds = incident.claimed_by == user_id and incident.lease_until is not None and incident.lease_until > now
    extra = [desk_render.surge_line(t, await services.surge.status(view.incident.neighborhood_id))]
    buttons, on_site_photos = [], 0
    if view.incident.drill is None:  # nobody is sent to a drill
        dispatched = await services.dispatch.card(user_id, incident_id)
        extra += dispatch_render.card_lines(t, dispatched, tz)
        buttons = [dispatch_render.send_button(t, incident_id)] if dispatched.may_send else []
        on_site_photos = sum(1 for r in dispatched.reports if r.photo_id)
    hints = await services.trust.hints(view.reports)
    shown = desk_render.card(t, view, services.places.gazetteer, now, tz, note, hints=hints, extra=extra)
    keyboard = desk_render.verdict_keyboard if holds else desk_render.claim_keyboard
    return shown.text, keyboard(t, view, shown, buttons, on_site_photos)


class Notifier:
    """Sends the notices of the services' results through the `bot` each call is given."""

    def __init__(self, services: Services) -> None:
        self.s = services

    # ── results ───────────────────────────────────────────────────────────────────
    async def submitted(self, bot: Bot, submitted: Submitted) -> int:
        """The cards a new report calls for; returns how many desk members were reached."""
        return await self.cards(bot, submitted.cards)

    async def verdict(self, bot: Bot, result: VerdictResult) -> None:
        """What a verdict calls for: the reporters' outcome or question, a drill's debrief,
        and the card to coordinators when verifiers disagree."""
        await self.reporters(bot, result.tell)
        if result.drill is not None:
            await self.debrief(bot, result.drill)
        await self.cards(bot, result.cards)

    async def drill_started(self, bot: Bot, started: DrillStarted) -> int:
        """A live drill's card to the verifiers on duty; returns how many were reached."""
        return await self.cards(bot, started.cards)

    # ── incident cards ────────────────────────────────────────────────────────────
    async def cards(self, bot: Bot, notices: Iterable[CardNotice]) -> int:
        """Send each notice's card to its recipients, in their order (an unclaimed one under
        a note of how long it has waited); returns how many cards were sent."""
        sent = 0
        for notice in notices:
            for person in notice.to:
                t = translator(person.language)
                note = ""
                if notice.reason is CardReason.UNCLAIMED:
                    minutes = int((self.s.clock.now() - notice.incident.first_seen_at).total_seconds() // 60)
                    note = t("⏰ Nobody has claimed this for {minutes} min.", minutes=minutes)
                try:
                    card = await incident_card(self.s, t, person.user_id, notice.incident.id, note=note)
                    await messaging.send(bot, person.user_id, *card)
                    sent += 1
                except (TelegramError, Refusal):
                    log.info("could not send a desk member an incident's card (%s)", notice.reason.value, exc_info=True)
        return sent

    # ── reporters ─────────────────────────────────────────────────────────────────
    async def reporters(self, bot: Bot, reporters: Sequence[ReporterToTell]) -> None:
        """Send each reporter what they are owed (an outcome or a follow-up question), in
        their language, then settle it with the desk (`DeskService.told`: a reporter told the
        outcome is forgotten). A reporter who cannot be reached (blocked the bot, chat gone)
        is settled too; a send that fails otherwise stays owed, for the sweep to retry."""
        settled = []
        for reporter in reporters:
            text, markup = desk_render.for_reporter(translator(reporter.language), reporter)
            try:
                await messaging.send(bot, reporter.chat_id, text, markup)
            except (Forbidden, BadRequest):
                log.info("a reporter cannot be reached", exc_info=True)
            except TelegramError:
                log.info("could not reach a reporter; it will be tried again", exc_info=True)
                continue
            settled.append(reporter)
        if settled:
            await self.s.desk.told(settled)

    async def owed(self, bot: Bot) -> int:
        """Tell reporters what they are still owed past the grace period (the process that
        decided died, or the send failed); returns how many messages were claimed."""
        owed = await self.s.desk.claim_owed()
        await self.reporters(bot, owed)
        return len(owed)

    # ── drills ────────────────────────────────────────────────────────────────────
    async def debrief(self, bot: Bot, debrief: DrillDebrief) -> None:
        """A practice drill: feedback to the trainee, and the proposal to coordinators when
        they now meet the bar. A live drill: those who worked it are told it was a drill,
        and coordinators get its times and verdict."""
        if debrief.run.kind is DrillKind.TRAINING:
            if debrief.trainee is not None:
                t = translator(debrief.trainee.language)
                await self._send(bot, debrief.trainee.user_id, *drill_render.feedback(t, debrief))
            if debrief.proposal is not None:
                for person in debrief.proposal_to:
                    await self._send(bot, person.user_id, *drill_render.proposal(translator(person.language), debrief.proposal))
            return
        for person in debrief.revealed_to:
            await self._send(bot, person.user_id, drill_render.revealed(translator(person.language), debrief))
        for person in debrief.report_to:
            await self._send(bot, person.user_id, drill_render.live_report(translator(person.language), debrief))

    # ── dispatch ──────────────────────────────────────────────────────────────────
    async def dispatch(self, bot: Bot, notices: Sequence[DispatchNotice]) -> int:
        """Send dispatch notices, each in its recipient's language: the ask with its safety
        briefing and ETA buttons, the check-ins with the field buttons, the words to the
        dispatcher and coordinators. Each one sent, or that can never be (the person blocked
        the bot, the dispatch ended), is settled with the service; one that failed otherwise
        stays owed and comes back from `DispatchService.run_due`. Returns how many were sent."""
        if not notices:
            return 0
        dispatch = self.s.dispatch
        incidents = await dispatch.incidents(n.incident_id for n in notices)
        gazetteer, tz = self.s.places.gazetteer, self.s.settings.tz
        settled: list[str] = []
        sent = 0
        for notice in notices:
            person = await self.s.roster.get(notice.recipient)
            t = translator(person.language if person else self.s.settings.default_language)
            try:
                if notice.kind in (NoticeKind.OFFER, NoticeKind.CHECK_IN, NoticeKind.REMINDER):
                    assignment = await dispatch.assignment(notice.dispatch_id, notice.recipient)
                    if notice.kind is NoticeKind.OFFER:
                        text, markup = dispatch_render.offer(t, notice.dispatch_id, assignment.incident, gazetteer, tz)
                    else:
                        reminder = notice.kind is NoticeKind.REMINDER
                        text, markup = dispatch_render.check_in(
                            t, notice.dispatch_id, reminder=reminder, reported=assignment.reported
                        )
                    await messaging.send(bot, notice.recipient, text, markup)
                else:
                    await messaging.send(bot, notice.recipient, dispatch_render.notice_text(t, notice, incidents, gazetteer, tz))
                sent += 1
            except Refusal:
                log.info("a dispatch notice is no longer due (%s)", notice.kind.value)
            except (Forbidden, BadRequest):
                log.info("a desk member cannot be reached for a dispatch notice", exc_info=True)
            except TelegramError:
                log.info("could not send a dispatch notice; it will be tried again", exc_info=True)
                continue
            settled.append(notice.id)
        if settled:
            await dispatch.notified(settled)
        return sent

    # ── the desk's housekeeping ───────────────────────────────────────────────────
    async def claims_expired(self, bot: Bot, holders: Iterable[int]) -> None:
        """Tell each former holder that their claim ran out."""
        for holder in holders:
            person = await self.s.roster.get(holder)
            t = translator(person.language if person else "en")
            await self._send(
                bot, holder, t("Your claim on an incident ran out, so it went back to the queue. Send /queue to see it.")
            )

    async def channels_broken(self, bot: Bot, links: Sequence[ChannelLink]) -> None:
        """Tell every admin about the channels the bot can no longer post in."""
        admins = holding(await self.s.roster.members(), Role.ADMIN)
        for link in links:
            place = nb.name if (nb := self.s.places.gazetteer.get(link.neighborhood_id)) else link.neighborhood_id
            for person in admins:
                t = translator(person.language)
                await self._send(
                    bot,
                    person.user_id,
                    t(
                        "⚠️ I can no longer post alerts in {title} ({place}): {problem}. Fix it, then link it again "
                        "with /linkchannel.",
                        title=link.title,
                        place=place,
                        problem=link.problem or "",
                    ),
                )

    @staticmethod
    async def _send(bot: Bot, chat_id: int, text: str, markup: messaging.Markup | None = None) -> None:
        try:
            await messaging.send(bot, chat_id, text, markup)
        except TelegramError:
            log.info("could not reach a desk member", exc_info=True)
