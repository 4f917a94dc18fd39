"""The verification desk in Telegram: joining, duty, the queue, claims, verdicts and the
roster (whom a verdict tells, and how, is the notifier's: `sereno.bot.notifier`). Every
command and button is checked by the roster and desk services on the server (callback data
is only a hint of intent)."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from sereno.bot import desk_render, messaging, surge_render
from sereno.bot.callbacks import AnswerButton, DeskAction, DeskButton, RoleButton
from sereno.bot.context import translator_for, user_data
from sereno.bot.i18n import SUPPORTED_LANGUAGES, Translator
from sereno.bot.notifier import Notifier, incident_card
from sereno.bot.services import Services
from sereno.verify.desk import Outcome, VerdictResult
from sereno.verify.incidents import DrillKind, Incident, Verdict
from sereno.verify.members import Role
from sereno.verify.text import CleanText, clean_text

log = logging.getLogger(__name__)

PENDING_VERDICT = "desk_verdict"  # [incident id, verdict] waiting for the reason
ANSWERING = "answering"  # follow-up id whose answer the reporter is typing


class DeskHandlers:
    """Callbacks of the desk; `handlers(application)` lists them. What a verdict calls for
    goes out through `notifier`."""

    def __init__(self, services: Services, notifier: Notifier) -> None:
        self.s = services
        self.notifier = notifier

    def t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.s.settings.default_language)

    async def say(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, markup: messaging.Markup | None = None
    ) -> None:
        if update.callback_query:
            await update.callback_query.answer()
        assert update.effective_chat is not None
        await messaging.send(context.bot, update.effective_chat.id, text, markup)

    # ── joining and one's own settings ────────────────────────────────────────────
    async def join(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/join CODE"""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        if not context.args:
            await self.say(update, context, t("Send /join followed by your invite code, for example /join K7M2-QX9P."))
            return
        person = await self.s.roster.redeem(" ".join(context.args), user.id, user.first_name)
        await self.say(
            update,
            context,
            t(
                "Welcome to the desk as {role}. Set the languages you read with /languages (for example "
                "/languages en es), your areas with /areas, then go on duty with /duty on.",
                role=t(desk_render.ROLE_LABELS[person.role]),
            ),
        )

    async def duty(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/duty on|off"""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        arg = (context.args or [""])[0].lower()
        if arg not in ("on", "off"):
            await self.say(update, context, t("Send /duty on or /duty off."))
            return
        person = await self.s.roster.update(user.id, on_duty=arg == "on")
        await self.say(
            update,
            context,
            t("You are on duty: new incidents in your areas will reach you here.") if person.on_duty else t("You are off duty."),
        )

    async def languages(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/languages en es"""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        chosen = tuple(dict.fromkeys(a.lower() for a in context.args or [] if a.lower() in SUPPORTED_LANGUAGES))
        if not chosen:
            await self.say(
                update,
                context,
                t("Send /languages with the languages you read, from: {codes}.", codes=" ".join(SUPPORTED_LANGUAGES)),
            )
            return
        await self.s.roster.update(user.id, languages=chosen)
        await self.say(update, context, t("Languages: {codes}.", codes=" ".join(chosen)))

    async def areas(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/areas ID… (no argument: list the neighborhoods; `all` covers everywhere)."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        gazetteer = self.s.places.gazetteer
        wanted = [a.lower() for a in context.args or []]
        known = [a for a in wanted if gazetteer.get(a) is not None]
        if not wanted or (wanted != ["all"] and len(known) != len(wanted)):
            listing = "\n".join(f"{nb.id} — {nb.name}" for nb in gazetteer.neighborhoods)
            await self.say(update, context, t("Send /areas with neighborhood ids, or /areas all:") + "\n" + listing)
            return
        await self.s.roster.update(user.id, neighborhoods=() if wanted == ["all"] else tuple(known))
        await self.say(update, context, t("Areas: {areas}.", areas=", ".join(known) if known else t("all")))

    # ── coordinators ──────────────────────────────────────────────────────────────
    async def invite(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/invite [trainee|verifier|coordinator|admin]"""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        role = Role.parse((context.args or ["verifier"])[0]) or Role.REVOKED
        invite = await self.s.roster.invite(user.id, role)
        local = invite.expires_at.astimezone(self.s.settings.tz).strftime("%Y-%m-%d %H:%M")
        await self.say(
            update,
            context,
            t(
                "Invite code for a {role}: {code}\nIt works once, until {until}. The person sends me /join {code} "
                "in a private chat.",
                role=t(desk_render.ROLE_LABELS[role]),
                code=invite.code,
                until=local,
            ),
        )

    async def roster(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/roster: members with role buttons (coordinators and admins)."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        await self.s.roster.require(user.id, Role.COORDINATOR, "roster")
        for person in await self.s.roster.members():
            if person.user_id != user.id:
                await self.say(update, context, desk_render.roster_line(t, person), desk_render.roster_keyboard(t, person))

    async def on_role(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A role button (:class:`RoleButton`)."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None
        t = self.t(update, context)
        button = RoleButton.parse(query.data)
        if button is None:
            await query.answer(t("This button is no longer active."))
            return
        person = await self.s.roster.set_role(update.effective_user.id, button.user_id, button.role)
        await query.answer()
        assert query.message is not None
        await messaging.edit(
            context.bot,
            query.message.chat.id,
            query.message.message_id,
            desk_render.roster_line(t, person),
            desk_render.roster_keyboard(t, person),
        )

    # ── queue, claims, verdicts ───────────────────────────────────────────────────
    async def queue(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/queue: open incidents, most urgent first, each with Claim; then how many wait
        for batch review (/batch)."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        queue = await self.s.desk.queues(user.id)
        incidents = queue.usual
        if not incidents and not queue.batch:
            await self.say(update, context, t("The queue is empty."))
            return
        if incidents:
            await self.say(update, context, t("Open incidents: {count}", count=len(incidents)))
        for incident in incidents[:10]:
            await self.say(update, context, *await self.card(t, user.id, incident.id))
        if queue.batch:
            await self.say(update, context, surge_render.batch_line(t, len(queue.batch)))

    async def card(self, t: Translator, user_id: int, incident_id: str, *, note: str = "") -> tuple[str, messaging.Markup]:
        """The card of an incident as `user_id` may see it (under `note` if given), one
        message long, with its buttons: the verdicts while they hold it, else Claim."""
        return await incident_card(self.s, t, user_id, incident_id, note=note)

    async def on_desk_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button under a card (:class:`DeskButton`): claim, release, photos, read all
        reports, merge, keep separate, a verdict — checked by the desk."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None and query.message is not None
        t = self.t(update, context)
        user_id = update.effective_user.id
        button = DeskButton.parse(query.data)
        if button is None:
            await query.answer(t("This button is no longer active."))
            return
        action, incident_id, value = button.action, button.incident_id, button.verdict
        chat_id, message_id = query.message.chat.id, query.message.message_id
        if action is DeskAction.CLAIM:
            await self.s.desk.claim(user_id, incident_id)
            await query.answer(t("You hold this incident now."))
            await messaging.edit(context.bot, chat_id, message_id, *await self.card(t, user_id, incident_id))
        elif action is DeskAction.RELEASE:
            await self.s.desk.release(user_id, incident_id)
            await query.answer(t("Released: it is back in the queue."))
            await messaging.edit(context.bot, chat_id, message_id, *await self.card(t, user_id, incident_id))
        elif action is DeskAction.PHOTOS:
            photos = await self.s.desk.photos(user_id, incident_id)
            await query.answer(None if photos else t("This incident has no photos."))
            for photo in photos:
                await context.bot.send_photo(chat_id, photo.content)
        elif action is DeskAction.REPORTS:
            view = await self.s.desk.view(user_id, incident_id, action="reports")
            await query.answer()
            await messaging.send_blocks(context.bot, chat_id, desk_render.full_text(t, view, self.s.settings.tz))
        elif action is DeskAction.MERGE:
            target = await self.s.desk.merge(user_id, incident_id)
            await query.answer(t("Merged."))
            await messaging.edit(context.bot, chat_id, message_id, *await self.card(t, user_id, target.id))
        elif action is DeskAction.OPEN:
            card = await self.card(t, user_id, incident_id)
            await query.answer()
            await messaging.send(context.bot, chat_id, *card)
        elif action is DeskAction.SEPARATE:
            await self.s.desk.keep_separate(user_id, incident_id)
            await query.answer(t("Kept separate."))
            await messaging.edit(context.bot, chat_id, message_id, *await self.card(t, user_id, incident_id))
        else:  # DeskAction.VERDICT, which always comes with its verdict
            assert value is not None
            await self.s.desk.require_holder(user_id, incident_id)
            user_data(context)[PENDING_VERDICT] = [incident_id, value.value]
            await query.answer()
            prompt = (
                t("Type the question for the reporter(s). It is sent as you write it, so keep it short and never ask for names.")
                if value is Verdict.NEEDS_INFO
                else t("Send a short reason for “{verdict}”.", verdict=t(desk_render.VERDICT_LABELS[value]))
            )
            await messaging.send(context.bot, query.message.chat.id, prompt)

    async def on_reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The reason (or question) for the verdict chosen by button."""
        t = self.t(update, context)
        user = update.effective_user
        msg = update.effective_message
        assert user is not None and msg is not None
        incident_id, value = user_data(context).pop(PENDING_VERDICT)
        cleaned = clean_text(msg.text, 500)
        if not isinstance(cleaned, CleanText):
            user_data(context)[PENDING_VERDICT] = [incident_id, value]
            await self.say(update, context, t("Please write the reason in words."))
            return
        result = await self.s.desk.decide(user.id, incident_id, Verdict(value), cleaned.text)
        drill = result.drill
        if drill is not None and drill.run.kind is DrillKind.TRAINING:  # the feedback is the answer
            await self.notifier.verdict(context.bot, result)
            return
        if result.outcome is Outcome.DECIDED and result.incident.drill is None:
            self.s.broadcast_queued()
            self.observe_decided(result.incident)
        await self.say(update, context, self.verdict_summary(t, result))
        await self.notifier.verdict(context.bot, result)

    def observe_decided(self, incident: Incident) -> None:
        """Count the verdict and how long the desk took (metrics)."""
        metrics = self.s.metrics
        assert incident.verdict is not None and incident.decided_at is not None
        log.info("incident %s decided: %s", incident.id, incident.verdict.value)
        metrics.incidents.labels(incident.verdict.value).inc()
        metrics.time_to_verdict.observe((incident.decided_at - incident.first_seen_at).total_seconds())
        if incident.first_claimed_at is not None:
            metrics.time_to_claim.observe((incident.first_claimed_at - incident.first_seen_at).total_seconds())

    def verdict_summary(self, t: Translator, result: VerdictResult) -> str:
        if result.outcome is Outcome.DECIDED:
            assert result.incident.verdict is not None
            return t(
                "Decided: {verdict}. The reporters are being told.",
                verdict=t(desk_render.VERDICT_LABELS[result.incident.verdict]),
            )
        if result.outcome is Outcome.ESCALATED:
            return t("Verifiers disagree: the incident goes to the coordinators.")
        if result.outcome is Outcome.NEEDS_INFO:
            return t("Question sent to {count} reporter(s). The incident is back in the queue.", count=len(result.tell))
        return t("Recorded. A second verifier must agree before anything is published.")

    # ── reporters answering follow-ups ────────────────────────────────────────────
    async def on_answer_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An Answer button (:class:`AnswerButton`): the next text is the answer (checked
        against the reporter)."""
        query = update.callback_query
        assert query is not None
        t = self.t(update, context)
        button = AnswerButton.parse(query.data)
        if button is None:
            await query.answer(t("This button is no longer active."))
            return
        user_data(context)[ANSWERING] = button.follow_up_id
        await query.answer()
        assert query.message is not None
        await messaging.send(
            context.bot, query.message.chat.id, t("Type your answer. Please leave out names, faces and license plates.")
        )

    async def on_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = self.t(update, context)
        user = update.effective_user
        msg = update.effective_message
        assert user is not None and msg is not None
        follow_up_id = user_data(context).pop(ANSWERING)
        cleaned = clean_text(msg.text, 1000)
        if not isinstance(cleaned, CleanText):
            user_data(context)[ANSWERING] = follow_up_id
            await self.say(update, context, t("Please answer in words."))
            return
        answered = await self.s.intake.answer_follow_up(follow_up_id, user.id, cleaned.text)
        await self.say(
            update,
            context,
            t("Thank you. Your answer was passed on to the verifiers.")
            if answered
            else t("That question is closed or was already answered."),
        )

    def handlers(self, application: Application) -> list[BaseHandler]:
        """Handlers to add before the menu's catch-alls."""
        private = filters.ChatType.PRIVATE
        return [
            CommandHandler("join", self.join, filters=private),
            CommandHandler("duty", self.duty, filters=private),
            CommandHandler("languages", self.languages, filters=private),
            CommandHandler("areas", self.areas, filters=private),
            CommandHandler("invite", self.invite, filters=private),
            CommandHandler("roster", self.roster, filters=private),
            CommandHandler("queue", self.queue, filters=private),
            CallbackQueryHandler(self.on_desk_button, pattern=DeskButton.pattern),
            CallbackQueryHandler(self.on_role, pattern=RoleButton.pattern),
            CallbackQueryHandler(self.on_answer_button, pattern=AnswerButton.pattern),
            MessageHandler(filters.TEXT & ~filters.COMMAND & Awaiting(application, PENDING_VERDICT), self.on_reason),
            MessageHandler(filters.TEXT & ~filters.COMMAND & Awaiting(application, ANSWERING), self.on_answer),
        ]


class Awaiting(filters.MessageFilter):
    """Matches messages from a person for whom `key` is set in their bot data (a typed
    answer the bot asked for) — with a `step`, only while that value is a dict whose
    "step" is `step` (a form of several typed answers)."""

    def __init__(self, application: Application, key: str, step: str | None = None) -> None:
        super().__init__(name=f"Awaiting({key}, {step})" if step else f"Awaiting({key})")
        self._application = application
        self._key = key
        self._step = step

    def filter(self, message: Message) -> bool:
        user = message.from_user
        data = self._application.user_data.get(user.id, {}) if user is not None else {}
        if self._key not in data:
            return False
        value = data[self._key]
        return self._step is None or (isinstance(value, dict) and value.get("step") == self._step)
