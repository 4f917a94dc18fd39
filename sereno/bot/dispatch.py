"""Eyes on the ground in Telegram: opting in as a field verifier, "Send someone" under a
card, going (with an ETA) or declining, the on-site report (what was found, SALUTE, a short
text, an optional photo), the safety check-ins, and coordinators' /dispatches. Every press
is checked by the dispatch service on the server; a button says only what was pressed."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from sereno.bot import dispatch_render, messaging
from sereno.bot.callbacks import (
    CheckInButton,
    DispatchAction,
    DispatchButton,
    OfferButton,
    OfferReply,
    OnSiteButton,
    OnSiteField,
)
from sereno.bot.context import user_data
from sereno.bot.desk import Awaiting, DeskHandlers
from sereno.bot.feature import STALE_BUTTON, FeatureHandlers
from sereno.bot.notifier import Notifier, incident_card
from sereno.bot.photos import PhotoProblem, keep_sent_photo
from sereno.bot.services import Services
from sereno.verify.desk import Outcome
from sereno.verify.dispatch import CheckInAnswer, Finding, Salute
from sereno.verify.model import GeoPoint, InvalidPoint
from sereno.verify.text import CleanText, clean_text

log = logging.getLogger(__name__)

#: The on-site report being written: {"dispatch", "finding", "step", "salute": {field: value}, "text", "photo"}.
ON_SITE = "on_site"
#: Set while the bot waits for a field verifier's shared location.
FIELD_LOCATION = "field_location"
_CONFIRMED_STEPS = [f.value for f, _, _ in dispatch_render.SALUTE_STEPS] + ["text", "photo"]


def _steps(finding: Finding) -> list[str]:
    """The steps of an on-site report after the finding: SALUTE, text and photo when
    confirmed; a short text otherwise."""
    return _CONFIRMED_STEPS if finding is Finding.CONFIRMED else ["text"]


class DispatchHandlers(FeatureHandlers):
    """Callbacks of dispatch; `handlers(application)` lists them. Notices go out through
    `notifier`; a verdict an on-site report makes is followed up as the desk's are."""

    def __init__(self, services: Services, desk: DeskHandlers, notifier: Notifier) -> None:
        super().__init__(services)
        self.desk = desk
        self.notifier = notifier

    # ── opting in ─────────────────────────────────────────────────────────────────
    async def field(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/field on [neighborhood id] · /field off · /field here (share a location) · /field"""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        args = [a.lower() for a in context.args or []]
        gazetteer = self.s.places.gazetteer
        if args[:1] == ["on"] and len(args) <= 2:
            if len(args) == 2 and gazetteer.get(args[1]) is None:
                listing = "\n".join(f"{nb.id} — {nb.name}" for nb in gazetteer.neighborhoods)
                await self.say(update, context, t("I don't know that neighborhood. Send /field on with one of:") + "\n" + listing)
                return
            person = await self.s.dispatch.opt_in(user.id, args[1] if len(args) == 2 else None)
            nb = gazetteer.get(person.neighborhood_id) if person.neighborhood_id else None
            await self.say(
                update,
                context,
                t(
                    "You are a field verifier: while on duty, you may be asked to go and look at an incident near {area}. "
                    "You can always say no. /field here shares where you are now; /field off stops it.",
                    area=nb.name if nb else t("your areas"),
                ),
            )
        elif args == ["off"]:
            await self.s.dispatch.opt_out(user.id)
            await self.say(update, context, t("You will not be asked to go and look any more."))
        elif args == ["here"]:
            if await self.s.dispatch.field_verifier(user.id) is None:
                await self.say(update, context, t("Send /field on first."))
                return
            user_data(context)[FIELD_LOCATION] = True
            keyboard = {
                "keyboard": [[{"text": t("📍 Share my location"), "request_location": True}]],
                "resize_keyboard": True,
                "one_time_keyboard": True,
            }
            await self.say(
                update,
                context,
                t(
                    "Share your location: it is used only to ask the nearest person first, and is kept no finer than "
                    "the neighborhood once you are not in the field."
                ),
                keyboard,
            )
        else:
            entry = await self.s.dispatch.field_verifier(user.id)
            status = t("You are a field verifier.") if entry else t("You are not a field verifier.")
            await self.say(update, context, status + "\n" + t("Send /field on [neighborhood id], /field here or /field off."))

    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The location a field verifier shares after /field here."""
        t = self.t(update, context)
        user, msg = update.effective_user, update.effective_message
        assert user is not None and msg is not None and msg.location is not None
        user_data(context).pop(FIELD_LOCATION, None)
        try:
            point = GeoPoint(msg.location.latitude, msg.location.longitude, msg.location.horizontal_accuracy)
        except InvalidPoint:
            await self.say(
                update, context, t("That location could not be read. Please try /field here again."), messaging.REMOVE_KEYBOARD
            )
            return
        person = await self.s.dispatch.share_location(user.id, point)
        nb = self.s.places.gazetteer.get(person.neighborhood_id) if person.neighborhood_id else None
        await self.say(
            update,
            context,
            t("Thank you. You will be asked first for incidents near {area}.", area=nb.name if nb else t("you")),
            messaging.REMOVE_KEYBOARD,
        )

    # ── the desk: send someone, close, /dispatches ────────────────────────────────
    async def on_dispatch_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """ "Send someone" under a card, or Close under /dispatches (:class:`DispatchButton`)."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None and query.message is not None
        t = self.t(update, context)
        button = await self.pressed(update, context, DispatchButton)
        if button is None:
            return
        user_id = update.effective_user.id
        if button.action is DispatchAction.SEND:
            result = await self.s.dispatch.send(button.subject_id, user_id)
            await query.answer(t("Asking the nearest field verifier."))
            await self.notifier.dispatch(context.bot, result.notices)
            text, markup = await incident_card(self.s, t, user_id, button.subject_id)
            await messaging.edit(context.bot, query.message.chat.id, query.message.message_id, text, markup)
        else:
            result = await self.s.dispatch.close(button.subject_id, user_id)
            await query.answer(t("Closed."))
            await self.notifier.dispatch(context.bot, result.notices)
            await messaging.edit(context.bot, query.message.chat.id, query.message.message_id, t("Dispatch closed."))

    async def dispatches(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/dispatches: every open dispatch, with who is out there and Close (coordinators)."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        views = await self.s.dispatch.open_dispatches(user.id)
        if not views:
            await self.say(update, context, t("No open dispatches."))
            return
        incidents = await self.s.dispatch.incidents(v.incident_id for v in views)
        await self.say(update, context, t("Open dispatches: {count}", count=len(views)))
        for view in views[:20]:
            shown = dispatch_render.open_dispatch(
                t, view, incidents.get(view.incident_id), self.s.places.gazetteer, self.s.settings.tz
            )
            await self.say(update, context, *shown)

    # ── the person asked ──────────────────────────────────────────────────────────
    async def on_offer_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Going with an ETA, or "I can't go" (:class:`OfferButton`)."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None and query.message is not None
        t = self.t(update, context)
        button = await self.pressed(update, context, OfferButton)
        if button is None:
            return
        user_id = update.effective_user.id
        chat_id, message_id = query.message.chat.id, query.message.message_id
        if button.reply is OfferReply.DECLINE:
            result = await self.s.dispatch.decline(button.dispatch_id, user_id)
            await query.answer(t("Thank you for saying so."))
            await messaging.edit(context.bot, chat_id, message_id, t("You said you can't go. Someone else will be asked."))
        else:
            assert button.eta_minutes is not None
            result = await self.s.dispatch.accept(button.dispatch_id, user_id, button.eta_minutes)
            await query.answer(t("Thank you."))
            assignment = await self.s.dispatch.assignment(button.dispatch_id, user_id)
            check = result.dispatch.check_in
            text, markup = dispatch_render.accepted(t, assignment, check.due_at if check else None, self.s.settings.tz)
            await messaging.edit(
                context.bot, chat_id, message_id, t("You are going: about {minutes} min.", minutes=button.eta_minutes)
            )
            await messaging.send(context.bot, chat_id, text, markup)
        await self.notifier.dispatch(context.bot, result.notices)

    # ── the person in the field ───────────────────────────────────────────────────
    async def on_check_in_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A check-in answer (:class:`CheckInButton`), at any time in the field."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None and query.message is not None
        t = self.t(update, context)
        button = await self.pressed(update, context, CheckInButton)
        if button is None:
            return
        result = await self.s.dispatch.check_in(button.dispatch_id, update.effective_user.id, button.answer)
        await self.notifier.dispatch(context.bot, result.notices)
        answer = button.answer
        if answer is CheckInAnswer.HELP:
            await query.answer()
            await self.say(
                update,
                context,
                t("Coordinators have been told and will try to reach you. If you are in danger, call emergency services."),
            )
        elif answer is CheckInAnswer.OK:
            check = result.dispatch.check_in
            await query.answer(t("Thank you."))
            if check is not None:
                await self.say(
                    update, context, t("Thank you. Next check-in at {time}.", time=t.time(check.due_at, self.s.settings.tz))
                )
        else:
            user_data(context).pop(ON_SITE, None)
            await query.answer(t("Thank you."))
            await self.say(update, context, t("Thank you for going. Your visit is closed; your location is no longer kept."))

    async def on_site_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A step of the on-site report (:class:`OnSiteButton`): the finding starts it; each
        other button is valid only on the report's current step."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None
        t = self.t(update, context)
        button = await self.pressed(update, context, OnSiteButton)
        if button is None:
            return
        data = user_data(context)
        if button.field is OnSiteField.FINDING:
            finding = _enum(Finding, button.value)
            if finding is None:
                await query.answer(t(STALE_BUTTON))
                return
            assignment = await self.s.dispatch.assignment(button.dispatch_id, update.effective_user.id)
            if assignment.reported:
                await query.answer(t("Your on-site report is already in."))
                return
            if assignment.eta_minutes is None:
                await query.answer(t("Please tap how many minutes you need first."))
                return
            data[ON_SITE] = {"dispatch": button.dispatch_id, "finding": finding.value, "step": _steps(finding)[0], "salute": {}}
            await query.answer()
            await self.ask_step(update, context)
            return
        draft = data.get(ON_SITE)
        step = button.value if button.field is OnSiteField.SKIP else button.field.value
        if not draft or draft["dispatch"] != button.dispatch_id or draft["step"] != step:
            await query.answer(t(STALE_BUTTON))
            return
        if button.field is not OnSiteField.SKIP:
            kind = dispatch_render.SALUTE_VALUES.get(button.field)
            if kind is None or _enum(kind, button.value) is None:
                await query.answer(t(STALE_BUTTON))
                return
            draft["salute"][button.field.value] = button.value
        await query.answer()
        await self.advance(update, context, draft)

    async def ask_step(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask the on-site report's current step."""
        t = self.t(update, context)
        draft = user_data(context)[ON_SITE]
        dispatch_id, step = draft["dispatch"], draft["step"]
        if step == "text":
            await self.say(update, context, *dispatch_render.text_question(t, dispatch_id, Finding(draft["finding"])))
        elif step == "photo":
            await self.say(update, context, *dispatch_render.photo_question(t, dispatch_id))
        else:
            await self.say(update, context, *dispatch_render.salute_question(t, dispatch_id, OnSiteField(step)))

    async def advance(self, update: Update, context: ContextTypes.DEFAULT_TYPE, draft: dict[str, Any]) -> None:
        """Go to the next step, or send the report after the last."""
        steps = _steps(Finding(draft["finding"]))
        index = steps.index(draft["step"]) + 1
        if index < len(steps):
            draft["step"] = steps[index]
            user_data(context)[ON_SITE] = draft
            await self.ask_step(update, context)
            return
        await self.submit(update, context, draft)

    async def on_site_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The short text of the on-site report."""
        t = self.t(update, context)
        msg = update.effective_message
        assert msg is not None
        draft = user_data(context)[ON_SITE]
        cleaned = clean_text(msg.text, 500)
        if not isinstance(cleaned, CleanText):
            await self.say(update, context, t("Please write it in words, or tap Skip."))
            return
        draft["text"] = cleaned.text
        await self.advance(update, context, draft)

    async def on_site_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The optional photo of a confirmed on-site report: kept as report photos are
        (every hidden detail removed), then the report is sent."""
        t = self.t(update, context)
        msg = update.effective_message
        assert msg is not None
        draft = user_data(context)[ON_SITE]
        kept = await keep_sent_photo(msg, self.s.intake, draft["dispatch"])
        if kept is PhotoProblem.TOO_LARGE:
            await self.say(update, context, t("That file is too large. Please send a smaller photo, or tap Send without photo."))
            return
        if kept is PhotoProblem.NOT_DOWNLOADED:
            await self.say(update, context, t("I couldn't download that photo. Please try again, or tap Send without photo."))
            return
        draft["photo"] = kept.id
        await self.advance(update, context, draft)

    async def submit(self, update: Update, context: ContextTypes.DEFAULT_TYPE, draft: dict[str, Any]) -> None:
        """Send the on-site report: it is the person's verdict under the desk's rules."""
        t = self.t(update, context)
        user = update.effective_user
        assert user is not None
        # the SALUTE fields are named as the steps; equipment is a tuple of one choice
        chosen = {f.value: _enum(kind, draft["salute"].get(f.value)) for f, kind in dispatch_render.SALUTE_VALUES.items()}
        equipment = chosen.pop(OnSiteField.EQUIPMENT.value)
        salute = Salute(**chosen, equipment=(equipment,) if equipment else ())
        user_data(context).pop(ON_SITE, None)
        result = await self.s.dispatch.on_site_report(
            draft["dispatch"], user.id, Finding(draft["finding"]), salute, draft.get("text"), draft.get("photo")
        )
        await self.notifier.dispatch(context.bot, result.notices)
        report = result.report
        await self.say(
            update,
            context,
            dispatch_render.reported(t, report.finding, report.counts, report.refusal),
            dispatch_render.field_keyboard(t, report.dispatch_id, reported=True),
        )
        verdict = result.verdict
        if verdict is not None:
            if verdict.outcome is Outcome.DECIDED and verdict.incident.drill is None:
                self.s.broadcast_queued()
                self.desk.observe_decided(verdict.incident)
            await self.notifier.verdict(context.bot, verdict)

    def handlers(self, application: Application) -> list[BaseHandler]:
        """Handlers to add before the menu's catch-alls."""
        private = filters.ChatType.PRIVATE
        text = filters.TEXT & ~filters.COMMAND
        photo = filters.PHOTO | filters.Document.IMAGE
        return [
            CommandHandler("field", self.field, filters=private),
            CommandHandler("dispatches", self.dispatches, filters=private),
            CallbackQueryHandler(self.on_dispatch_button, pattern=DispatchButton.pattern),
            CallbackQueryHandler(self.on_offer_button, pattern=OfferButton.pattern),
            CallbackQueryHandler(self.on_check_in_button, pattern=CheckInButton.pattern),
            CallbackQueryHandler(self.on_site_button, pattern=OnSiteButton.pattern),
            MessageHandler(filters.LOCATION & private & Awaiting(application, FIELD_LOCATION), self.on_location),
            MessageHandler(text & private & Awaiting(application, ON_SITE, "text"), self.on_site_text),
            MessageHandler(photo & private & Awaiting(application, ON_SITE, "photo"), self.on_site_photo),
        ]


def _enum(kind: Any, value: object) -> Any:
    """`kind(value)`, or None when `value` is not one of its values."""
    try:
        return kind(value) if value is not None else None
    except ValueError:
        return None
