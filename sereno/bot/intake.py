"""The reporter's conversation: what, where, when, how many, markings, details, photo,
then a summary to submit, edit or cancel. Every step can be skipped."""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any

from telegram import Bot, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from sereno.bot import messaging, render, rights
from sereno.bot.callbacks import MenuButton, MenuItem, ReportButton, ReportField
from sereno.bot.context import LANG_KEY, language_of, translator_for, user_data
from sereno.bot.i18n import N_, Translator, pick_language, translator
from sereno.bot.menu import Menu
from sereno.bot.messaging import REMOVE_KEYBOARD, Markup
from sereno.bot.persistence import PersonState
from sereno.bot.photos import PhotoProblem, keep_sent_photo
from sereno.bot.refusals import rate_limited_text
from sereno.bot.services import Services
from sereno.verify.errors import Refusal, RefusalReason, Unavailable
from sereno.verify.intake import Submitted
from sereno.verify.model import (
    Activity,
    AgentCount,
    GeoPoint,
    InvalidPoint,
    ReportDraft,
    TimeSeen,
    Uniform,
    VehicleCount,
)
from sereno.verify.places import PlaceKind, PlaceMatch
from sereno.verify.text import MAX_DETAILS_CHARS, MAX_PLACE_CHARS, CleanText, clean_text

log = logging.getLogger(__name__)

DRAFT_KEY, STEP_KEY, EDITING_KEY, PROMPT_KEY, TOUCHED_KEY = "draft", "step", "editing", "prompt", "touched"


class Step(StrEnum):
    """Conversation states, in the order they are asked."""

    ACTIVITY = "activity"
    WHERE = "where"
    WHEN = "when"
    AGENTS = "agents"
    VEHICLES = "vehicles"
    UNIFORM = "uniform"
    DETAILS = "details"
    PHOTO = "photo"
    SUMMARY = "summary"
    EDIT = "edit"


ORDER = (Step.ACTIVITY, Step.WHERE, Step.WHEN, Step.AGENTS, Step.VEHICLES, Step.UNIFORM, Step.DETAILS, Step.PHOTO)

#: Button steps: the enum of their answer, its labels and the draft attribute it fills.
CHOICES: dict[Step, tuple[type[StrEnum], dict[Any, str], str]] = {
    Step.ACTIVITY: (Activity, render.ACTIVITY_LABELS, "activity"),
    Step.WHEN: (TimeSeen, render.TIME_LABELS, "time_seen"),
    Step.AGENTS: (AgentCount, render.AGENT_LABELS, "agents"),
    Step.VEHICLES: (VehicleCount, render.VEHICLE_LABELS, "vehicles"),
    Step.UNIFORM: (Uniform, render.UNIFORM_LABELS, "uniform"),
}

PROMPTS = {
    Step.ACTIVITY: N_("What is happening?"),
    Step.WHERE: N_(
        "Where is it happening? Share your location with the button below, or type cross streets, a landmark or a ZIP code."
    ),
    Step.WHEN: N_("When did you see it?"),
    Step.AGENTS: N_("How many agents did you see?"),
    Step.VEHICLES: N_("How many vehicles?"),
    Step.UNIFORM: N_("What markings did you see on uniforms, vests or vehicles?"),
    Step.DETAILS: N_(
        "Anything else verifiers should know, such as vehicle types or what people were told? "
        "Please leave out names, faces and license plates."
    ),
    Step.PHOTO: N_(
        "If it is safe, you can send a photo. Location data and other hidden details are removed "
        "from it. Please avoid showing faces."
    ),
}
INVALID_LOCATION = N_(
    "That location could not be read. Share your location again, or type cross streets, a landmark or a ZIP code."
)


class IntakeConversation:
    """Builds the ConversationHandler and holds its callbacks."""

    def __init__(
        self, services: Services, menu: Menu, announce: Callable[[Bot, Submitted], Awaitable[object]], people: PersonState
    ) -> None:
        self.s = services
        self.menu = menu
        self._announce = announce
        self._people = people
        self.default_language = services.settings.default_language

    # ── helpers ───────────────────────────────────────────────────────────────────
    def t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.default_language)

    @staticmethod
    def draft(context: ContextTypes.DEFAULT_TYPE) -> ReportDraft | None:
        raw = user_data(context).get(DRAFT_KEY)
        return ReportDraft.from_dict(raw) if isinstance(raw, dict) else None

    def keep(self, context: ContextTypes.DEFAULT_TYPE, draft: ReportDraft) -> None:
        user_data(context)[DRAFT_KEY] = draft.to_dict()
        user_data(context)[TOUCHED_KEY] = self.s.clock.now().timestamp()

    @staticmethod
    def forget(context: ContextTypes.DEFAULT_TYPE) -> None:
        for key in (DRAFT_KEY, STEP_KEY, EDITING_KEY, PROMPT_KEY, TOUCHED_KEY):
            user_data(context).pop(key, None)

    @staticmethod
    def current_step(context: ContextTypes.DEFAULT_TYPE) -> Step:
        try:
            return Step(str(user_data(context).get(STEP_KEY)))
        except ValueError:
            return Step.SUMMARY

    def question(self, t: Translator, step: Step, draft: ReportDraft) -> tuple[str, Markup]:
        """The text and buttons that ask for `step`."""
        if step in CHOICES:
            return t(PROMPTS[step]), render.choice_keyboard(t, step.value)
        if step is Step.WHERE:
            return t(PROMPTS[step]), render.where_keyboard(t)
        if step is Step.DETAILS:
            return t(PROMPTS[step]), render.single_button(t, "Skip", render.skip(Step.DETAILS))
        if step is Step.PHOTO:
            label = N_("Continue") if draft.photos else N_("Skip")
            return t(PROMPTS[step]), render.single_button(t, label, render.skip(Step.PHOTO))
        if step is Step.EDIT:
            return t("Which answer do you want to change?"), render.edit_keyboard(t)
        return render.summary(t, draft, self.s.places.gazetteer), render.summary_keyboard(t)

    async def prompt(self, update: Update, context: ContextTypes.DEFAULT_TYPE, step: Step, prefix: str = "") -> Step:
        """Ask for `step` and remember it as the current step. After a button press the
        question replaces the pressed message (one message per report, no stale keyboards);
        otherwise it is a new message."""
        t = self.t(update, context)
        draft = self.draft(context)
        assert draft is not None
        user_data(context)[STEP_KEY] = step.value
        text, markup = self.question(t, step, draft)
        text = f"{prefix}\n\n{text}" if prefix else text
        query = update.callback_query
        if query is not None and query.message is not None and render.is_inline(markup) and _is_prompt(query, context):
            await messaging.edit(context.bot, query.message.chat.id, query.message.message_id, text, markup)
        else:
            await self.ask(update, context, text, markup)
        return step

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, markup: Markup) -> None:
        """Send a message whose buttons belong to the current draft."""
        chat = update.effective_chat
        assert chat is not None
        user_data(context)[PROMPT_KEY] = await messaging.send(context.bot, chat.id, text, markup)

    @staticmethod
    async def reply(update: Update, text: str, markup: Markup | None = None) -> None:
        chat = update.effective_chat
        assert chat is not None
        await messaging.send(chat.get_bot(), chat.id, text, markup)

    async def advance(self, update: Update, context: ContextTypes.DEFAULT_TYPE, done: Step, prefix: str = "") -> Step:
        """Go to the step after `done` (or back to the summary when editing)."""
        if user_data(context).get(EDITING_KEY) or done is Step.PHOTO:
            user_data(context).pop(EDITING_KEY, None)
            return await self.prompt(update, context, Step.SUMMARY, prefix)
        following = ORDER[ORDER.index(done) + 1]
        query = update.callback_query
        if query is not None and following is Step.WHERE and prefix:
            # the next question needs a reply keyboard: keep the answer on the old message
            shown = query.message
            assert shown is not None
            question = getattr(shown, "text", None) or ""  # a message over 48 h old comes without it
            await messaging.edit(context.bot, shown.chat.id, shown.message_id, f"{question}\n\n{prefix}".strip())
            prefix = ""
        return await self.prompt(update, context, following, prefix)

    # ── entry, exit ───────────────────────────────────────────────────────────────
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
        """/report or the menu button: checks the rate limit, then asks the first question."""
        t = self.t(update, context)
        if update.callback_query:
            await update.callback_query.answer()
        chat = update.effective_chat
        assert chat is not None and update.effective_user is not None
        if chat.type != ChatType.PRIVATE:
            await self.reply(update, t("To keep you safe, I only take reports in a private chat. Message me directly."))
            return ConversationHandler.END
        wait = self.s.intake.wait_before_reporting(update.effective_user.id)
        if wait is not None:
            await self.reply(update, _limited(t, wait, self.s, update.effective_user.id))
            return ConversationHandler.END
        self.forget(context)
        self.keep(context, ReportDraft(draft_id=uuid.uuid4().hex))
        user_data(context).pop(PROMPT_KEY, None)
        intro = t("Let's record what you see. You can skip any question, and send /cancel to stop at any time.")
        return await self.prompt(update, context, Step.ACTIVITY, intro)

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        """/cancel or the Cancel button: drop the draft, nothing is sent."""
        t = self.t(update, context)
        if update.callback_query:
            await update.callback_query.answer()
        self.forget(context)
        await self.reply(update, t("Report cancelled. Nothing was sent."), REMOVE_KEYBOARD)
        await self.reply(update, t("What would you like to do?"), render.main_menu(t))
        return ConversationHandler.END

    async def close_idle(self, application: Any) -> int:
        """Close every draft left untouched for the conversation timeout, telling its author
        that nothing was sent. Returns how many were closed. (Run by a repeating job on the
        stored drafts, whichever replica served them; the conversation itself ends at the
        person's next update, see :meth:`expired`.)"""
        limit = self.s.clock.now().timestamp() - self.s.settings.conversation_timeout_minutes * 60
        closed = 0
        for user_id, data in (await self._people.everyone()).items():
            touched = data.get(TOUCHED_KEY)
            if DRAFT_KEY not in data or not isinstance(touched, (int, float)) or touched > limit:
                continue
            for key in (DRAFT_KEY, STEP_KEY, EDITING_KEY, PROMPT_KEY, TOUCHED_KEY):
                data.pop(key, None)
            await self._people.save_person(user_id, data)
            t = translator(pick_language(data.get(LANG_KEY), None, self.default_language))
            minutes = self.s.settings.conversation_timeout_minutes
            try:
                await messaging.send(
                    application.bot,
                    user_id,
                    t(
                        "Your unfinished report was closed after {minutes} minutes without an answer. "
                        "Nothing was sent. Send /report to start again.",
                        minutes=minutes,
                    ),
                    REMOVE_KEYBOARD,
                )
            except TelegramError:
                log.info("could not tell a reporter their draft was closed", exc_info=True)
            closed += 1
        return closed

    async def expired(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
        """An update for a conversation whose draft was closed: end it, or start afresh
        when the person asks for a new report."""
        msg = update.effective_message
        pressed = MenuButton.parse(update.callback_query.data) if update.callback_query is not None else None
        wants_report = pressed == MenuButton(MenuItem.REPORT) or (
            msg is not None and msg.text is not None and msg.text.split("@")[0].strip() in ("/report", "/start")
        )
        if wants_report:
            return await self.start(update, context)
        t = self.t(update, context)
        if update.callback_query:
            await update.callback_query.answer(t("This button is no longer active."))
        await self.reply(update, t("What would you like to do?"), render.main_menu(t))
        return ConversationHandler.END

    async def remind(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything the current step cannot use: say so and ask again."""
        t = self.t(update, context)
        msg = update.effective_message
        if msg is not None and msg.text and msg.text.startswith("/"):
            note = t("I don't know that command. Your report is still open.")
        elif update.callback_query:
            await update.callback_query.answer(t("That button is from an earlier message."))
            note = t("That button is from an earlier message. Here is where we are:")
        else:
            note = t("I couldn't use that here. Please answer below, or send /cancel to stop.")
        await self.prompt(update, context, self.current_step(context), note)

    # ── buttons ───────────────────────────────────────────────────────────────────
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int | None:
        """A press on a report button: valid only on the current question of the current
        draft, for the field that question asks; anything else is treated as stale."""
        query = update.callback_query
        assert query is not None
        t = self.t(update, context)
        draft = self.draft(context)
        step = self.current_step(context)
        button = ReportButton.parse(query.data)
        if button is None or draft is None or not _is_prompt(query, context):
            await self.remind(update, context)
            return None
        field, value = button.field, button.value
        if field is ReportField.LAWYER:
            await self.menu.lawyer(update, context)
            return None
        if field == step.value and step in CHOICES:
            enum, labels, attr = CHOICES[step]
            try:
                choice = enum(value)
            except ValueError:
                await self.remind(update, context)
                return None
            setattr(draft, attr, choice)
            self.keep(context, draft)
            await query.answer()
            return await self.advance(update, context, step, f"✓ {t(labels[choice])}")
        if field is ReportField.SKIP and value == step.value:
            await query.answer()
            if step is Step.WHERE:
                await self.reply(update, t("No place given. That's OK."), REMOVE_KEYBOARD)
            skipped = t("Skipped")
            return await self.advance(update, context, step, "" if draft.photos else f"✓ {skipped}")
        if field is ReportField.NEIGHBORHOOD and step is Step.WHERE:
            nb = self.s.places.gazetteer.get(value)
            if nb is None:
                await self.remind(update, context)
                return None
            draft.neighborhood_id, draft.outside_region = nb.id, False
            self.keep(context, draft)
            await query.answer()
            await self.reply(update, t("Neighborhood: {name}", name=nb.name), REMOVE_KEYBOARD)
            return await self.advance(update, context, step)
        if field is ReportField.DO and step in (Step.SUMMARY, Step.EDIT):
            if value == "submit" and step is Step.SUMMARY:
                return await self.submit(update, context, draft)
            if value == "cancel":
                return await self.cancel(update, context)
            if value in ("edit", "summary"):
                await query.answer()
                return await self.prompt(update, context, Step.EDIT if value == "edit" else Step.SUMMARY)
        if field is ReportField.EDIT and step is Step.EDIT and value in {s.value for s in ORDER}:
            await query.answer()
            user_data(context)[EDITING_KEY] = True
            return await self.prompt(update, context, Step(value))
        await self.remind(update, context)
        return None

    async def submit(self, update: Update, context: ContextTypes.DEFAULT_TYPE, draft: ReportDraft) -> str | int:
        """Store the report and tell the reporter what happens next."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None and update.effective_chat is not None
        t = self.t(update, context)
        lang = language_of(update, context, self.default_language)
        try:
            result = await self.s.intake.submit(draft, update.effective_user.id, update.effective_chat.id, lang)
        except Unavailable:
            log.warning("the database is unavailable: a report waits for the reporter to submit again")
            await query.answer()
            await self.reply(
                update,
                t(
                    "Sorry, your report could not be saved just now: our system is briefly "
                    "unavailable. It is kept here: please press Submit again in a minute."
                ),
            )
            return Step.SUMMARY
        await query.answer()
        self.forget(context)
        if not result.duplicate:
            self.s.metrics.reports.inc()
            log.info(
                "report %s stored (incident %s, %s, tier %s)",
                result.report.ref_code,
                result.incident.id if result.incident else "-",
                result.placement.value if result.placement else "unplaced",
                result.report.tier.value,
            )
        context.application.create_task(self._announce(context.bot, result), update=update)
        hotline = self.s.resources.hotline_for(draft.neighborhood_id)
        shown = query.message
        assert shown is not None
        await messaging.edit(
            context.bot,
            shown.chat.id,
            shown.message_id,
            "\n".join(
                [
                    t("✅ Report received. Your reference code is {code}.", code=result.report.ref_code),
                    "",
                    t("Trained verifiers are checking it now. You will be told the outcome in this chat."),
                    "",
                    t(render.KNOW_YOUR_RIGHTS_LINE),
                    rights.hotline_line(t, hotline),
                ]
            ),
            render.main_menu(t),
        )
        return ConversationHandler.END

    # ── typed answers ─────────────────────────────────────────────────────────────
    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """A shared pin: resolved to a neighborhood, or accepted as outside the area."""
        msg = update.effective_message
        assert msg is not None and msg.location is not None
        draft = self.draft(context)
        assert draft is not None
        loc = msg.location
        try:
            point = GeoPoint(loc.latitude, loc.longitude, loc.horizontal_accuracy)
        except InvalidPoint:
            t = self.t(update, context)
            await self.reply(update, t(INVALID_LOCATION))
            return None
        match = self.s.places.resolve_point(point)
        draft.place_text = None
        return await self.placed(update, context, draft, match)

    async def placed(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, draft: ReportDraft, match: PlaceMatch, note: str = ""
    ) -> str | None:
        """Record a resolved place and move on, or ask the reporter to pick."""
        t = self.t(update, context)
        prefix = f"{note}\n\n" if note else ""
        if match.kind is PlaceKind.FOUND:
            assert match.neighborhood is not None
            draft.point, draft.neighborhood_id, draft.outside_region = match.point, match.neighborhood.id, False
            self.keep(context, draft)
            await self.reply(update, prefix + t("Got it: {name}.", name=match.neighborhood.name), REMOVE_KEYBOARD)
            return await self.advance(update, context, Step.WHERE)
        if match.kind is PlaceKind.OUTSIDE:
            draft.point, draft.neighborhood_id, draft.outside_region = match.point, None, True
            self.keep(context, draft)
            region = self.s.settings.region_name
            text = (
                t("That place is outside the area this network covers ({region}).", region=region)
                if region
                else t("That place is outside the area this network covers.")
            )
            await self.reply(update, prefix + text + " " + t("We will still take your report."), REMOVE_KEYBOARD)
            return await self.advance(update, context, Step.WHERE)
        self.keep(context, draft)
        if match.kind is PlaceKind.AMBIGUOUS:
            text, options = t("That could be more than one neighborhood. Which one?"), list(match.candidates)
        else:
            text = t("I couldn't find that place. Type it another way, or pick a neighborhood from the list.")
            options = list(self.s.places.gazetteer.neighborhoods)
        await self.ask(update, context, prefix + text, render.neighborhood_keyboard(t, options))
        return None

    async def on_place_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """A typed place, or one of the reply-keyboard words (pick from list, skip)."""
        t = self.t(update, context)
        msg = update.effective_message
        assert msg is not None
        draft = self.draft(context)
        assert draft is not None
        raw = msg.text or ""
        if raw.strip() == t("Skip"):
            await self.reply(update, t("No place given. That's OK."), REMOVE_KEYBOARD)
            return await self.advance(update, context, Step.WHERE)
        if raw.strip() == t("Pick a neighborhood"):
            neighborhoods = list(self.s.places.gazetteer.neighborhoods)
            await self.ask(update, context, t("Which neighborhood?"), render.neighborhood_keyboard(t, neighborhoods))
            return None
        cleaned = clean_text(raw, MAX_PLACE_CHARS)
        if not isinstance(cleaned, CleanText):
            await self.reply(
                update, t("I couldn't read a place in that. Type cross streets, a landmark or a ZIP code, or use the buttons.")
            )
            return None
        draft.place_text = cleaned.text
        match = await self.s.places.resolve_text(cleaned.text)
        note = t("That was long, so I kept the first {limit} characters.", limit=MAX_PLACE_CHARS) if cleaned.truncated else ""
        return await self.placed(update, context, draft, match, note)

    async def on_details(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """Free-text details: cleaned, bounded, and words required."""
        t = self.t(update, context)
        msg = update.effective_message
        assert msg is not None
        cleaned = clean_text(msg.text, MAX_DETAILS_CHARS)
        if not isinstance(cleaned, CleanText):
            await self.reply(update, t("Please describe it in words (emoji alone can't be checked), or press Skip."))
            return None
        draft = self.draft(context)
        assert draft is not None
        draft.details = cleaned.text
        self.keep(context, draft)
        note = (
            t("That was long, so I kept the first {limit} characters.", limit=f"{MAX_DETAILS_CHARS:,}")
            if cleaned.truncated
            else t("Noted.")
        )
        return await self.advance(update, context, Step.DETAILS, note)

    async def on_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """A photo: downloaded, then kept for the draft as the intake service keeps photos
        (stripped of all metadata; refused when it is not a picture or over the pixel limit,
        then before decoding). Refused before the download when the draft holds the most
        photos a report may carry, when the file is over 10 MB, or when Telegram states it
        is over the pixel limit."""
        t = self.t(update, context)
        msg = update.effective_message
        assert msg is not None
        draft = self.draft(context)
        assert draft is not None
        limit = self.s.intake.policy.max_photos
        if draft.photos >= limit:
            note = t.n(
                "A report can hold {count} photo. Press Continue to check your report.",
                "A report can hold {count} photos. Press Continue to check your report.",
                limit,
            )
            await self.ask(update, context, note, render.single_button(t, "Continue", render.skip(Step.PHOTO)))
            return None
        kept = await keep_sent_photo(msg, self.s.intake, draft.draft_id)
        if kept is PhotoProblem.TOO_LARGE:
            await self.reply(update, t("That file is too large. Please send a smaller photo, or press Skip."))
            return None
        if kept is PhotoProblem.NOT_DOWNLOADED:
            await self.reply(update, t("I couldn't download that photo. Please try again, or press Skip."))
            return None
        draft.photos += 1
        self.keep(context, draft)
        note = t("Photo received. Location data and other hidden details were removed. Send another, or press Continue.")
        await self.ask(update, context, note, render.single_button(t, "Continue", render.skip(Step.PHOTO)))
        return None

    async def not_a_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Video, audio or other files at the photo step."""
        t = self.t(update, context)
        await self.reply(update, t("I can only take photos, not videos or other files. Send a photo, or press Skip."))

    async def in_progress(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start, /report or the Report button while a report is open."""
        t = self.t(update, context)
        if update.callback_query:
            await update.callback_query.answer()
        await self.prompt(
            update,
            context,
            self.current_step(context),
            t("You have a report in progress. Continue below, or send /cancel to stop it."),
        )

    # ── wiring ────────────────────────────────────────────────────────────────────
    def _with_draft(self, callback: Any) -> Any:
        """Run `callback` only while the draft exists (a closed draft ends the conversation)."""

        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
            if self.draft(context) is None:
                return await self.expired(update, context)
            return await callback(update, context)

        return guarded

    def handler(self) -> ConversationHandler:
        """The persistent ConversationHandler named 'intake'. Idle drafts are closed by
        :meth:`close_idle` (a repeating job), not by PTB's per-update timeout jobs, which
        cost a scheduler round trip on every step and do not survive a restart."""
        d = self._with_draft
        button = CallbackQueryHandler(d(self.on_button), pattern=ReportButton.pattern)
        text = filters.TEXT & ~filters.COMMAND
        private = filters.ChatType.PRIVATE
        states: dict[object, list[Any]] = {step.value: [button] for step in Step}
        states[Step.WHERE.value] += [
            MessageHandler(filters.LOCATION, d(self.on_location)),
            MessageHandler(text, d(self.on_place_text)),
        ]
        states[Step.DETAILS.value].append(MessageHandler(text, d(self.on_details)))
        states[Step.PHOTO.value] += [
            MessageHandler(filters.PHOTO | filters.Document.IMAGE, d(self.on_photo)),
            MessageHandler(filters.VIDEO | filters.Document.ALL | filters.AUDIO | filters.VOICE, d(self.not_a_photo)),
        ]
        with warnings.catch_warnings():
            # per_message=False is intended: a report is one conversation per person, and
            # button presses are checked against the current question (see on_button).
            warnings.filterwarnings("ignore", message=".*per_message=False", category=PTBUserWarning)
            return ConversationHandler(
                entry_points=[
                    CommandHandler("report", self.start),
                    CallbackQueryHandler(self.start, pattern=MenuButton(MenuItem.REPORT).matcher()),
                ],
                states=states,
                fallbacks=[
                    CommandHandler("cancel", self.cancel),
                    CommandHandler(["lawyer", "hotline"], self.menu.lawyer),
                    CommandHandler("rights", self.menu.show_rights),
                    CommandHandler("help", self.menu.help),
                    CommandHandler("language", self.menu.language),
                    CommandHandler(["start", "report"], d(self.in_progress)),
                    CallbackQueryHandler(self.menu.lawyer, pattern=MenuButton(MenuItem.LAWYER).matcher()),
                    CallbackQueryHandler(d(self.in_progress), pattern=MenuButton(MenuItem.REPORT).matcher()),
                    MessageHandler(private, d(self.remind)),
                ],
                name="intake",
                persistent=False,  # its states are kept by PersonState, read and written every step
                allow_reentry=False,
            )


def _is_prompt(query: Any, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the pressed message is the draft's current question."""
    return query.message is not None and query.message.message_id == user_data(context).get(PROMPT_KEY)


def _limited(t: Translator, wait: timedelta, services: Services, user_id: int) -> str:
    """What someone who may not report yet is told (the refusal a submission would meet,
    under the limit they met: tighter in surge)."""
    limit = services.intake.limit_applied(user_id)
    return rate_limited_text(
        t, Refusal(RefusalReason.RATE_LIMITED, retry_after=wait, limit=limit.max_reports, window=limit.window)
    )
