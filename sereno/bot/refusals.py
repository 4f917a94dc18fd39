"""Telling people, politely and in their language, why something was refused.

The domain refuses with one exception, :class:`~sereno.verify.errors.Refusal`, whose reason
is a :class:`~sereno.verify.errors.RefusalReason` (audited by the service when it audits
refusals). This module holds the one message per reason, and the one place that answers a
refusal: :func:`answer_refusals` wraps every handler's callback when the handlers are
registered, so handlers never catch a refusal themselves. A refused button press gets a
pop-up; a refused message or command gets a message in the chat. A refusal leaves a
conversation where it was: the wrapped callback returns None, which PTB's
ConversationHandler reads as "stay in the current state" (so a draft being reported is
kept), and which at an entry point starts nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, ContextTypes, ConversationHandler

from sereno.bot import messaging
from sereno.bot.context import translator_for
from sereno.bot.i18n import N_, Translator, translator
from sereno.bot.render import wait_text
from sereno.verify.errors import Refusal, RefusalReason

log = logging.getLogger(__name__)

#: What a person is told for each reason (placeholders are filled by :func:`refusal_values`).
REFUSAL_TEXTS: dict[RefusalReason, str] = {
    RefusalReason.NOT_ALLOWED: N_("You are not allowed to do that. If you think you should be, ask a coordinator."),
    RefusalReason.UNKNOWN_INVITE: N_("That invite code is not valid. Check it, or ask a coordinator for a new one."),
    RefusalReason.EXPIRED_INVITE: N_("That invite code has expired (codes last 72 hours). Ask a coordinator for a new one."),
    RefusalReason.USED_INVITE: N_("That invite code was already used. Ask a coordinator for a new one."),
    RefusalReason.ALREADY_MEMBER: N_("You are already on the desk."),
    RefusalReason.UNKNOWN_PERSON: N_("That person is not on the roster."),
    RefusalReason.SELF: N_("You cannot change your own role."),
    RefusalReason.REVOKED: N_(
        "Your place on the desk was revoked, so an invite code cannot bring you back. If you "
        "think this is a mistake, talk to a coordinator."
    ),
    RefusalReason.UNKNOWN_INCIDENT: N_("That incident does not exist."),
    RefusalReason.TAKEN: N_("Someone else has just claimed this incident."),
    RefusalReason.NOT_HOLDER: N_("You do not hold this incident. Claim it first."),
    RefusalReason.LEASE_EXPIRED: N_("Your claim on this incident expired. Claim it again if it is still open."),
    RefusalReason.DECIDED: N_("This incident has already been decided."),
    RefusalReason.OWN_REPORT: N_("You cannot verify an incident that includes your own report."),
    RefusalReason.ALREADY_VOTED: N_("You already gave a verdict here; a second verifier must look at it."),
    RefusalReason.DRILL_QUESTION: N_("A practice drill has no reporter to ask: decide with what the reports say."),
    RefusalReason.TRAINEE_LIVE: N_("Trainees practise on drills (/drills): live incidents are claimed and decided by verifiers."),
    RefusalReason.NO_SCENARIOS: N_("There are no drill scenarios yet. A coordinator can import them with /drills."),
    RefusalReason.ALERTS_NOT_ALLOWED: N_("Only coordinators can do that."),
    RefusalReason.STATS_NOT_ALLOWED: N_("Only coordinators can see the desk statistics."),
    RefusalReason.EXPORT_NOT_ALLOWED: N_("Only coordinators can export alerts."),
    RefusalReason.CHANNELS_NOT_ALLOWED: N_("Only admins can link channels."),
    RefusalReason.UNKNOWN_ALERT: N_("That alert or incident does not exist."),
    RefusalReason.NOT_ACTIVE: N_("That alert is no longer active."),
    RefusalReason.NOT_DEBUNKED: N_("Only debunked incidents get a correction."),
    RefusalReason.ALREADY_CORRECTED: N_("A correction was already published for this incident."),
    RefusalReason.DRILL_NOT_PUBLISHED: N_("Drills are never published."),
    RefusalReason.UNKNOWN_TOKEN: N_(
        "This link command is not valid or has expired. Ask for a new one with /linkchannel in a private chat with me."
    ),
    RefusalReason.EXPIRED_TOKEN: N_(
        "This link command is not valid or has expired. Ask for a new one with /linkchannel in a private chat with me."
    ),
    RefusalReason.USED_TOKEN: N_(
        "This link command was already used. Ask for a new one with /linkchannel in a private chat with me."
    ),
    RefusalReason.OTHER_CHAT: N_(
        "This link command was posted in another chat first and works only there. Ask for "
        "a new one with /linkchannel in a private chat with me."
    ),
    RefusalReason.TOKEN_ADMIN_GONE: N_("This link command is no longer valid."),
    RefusalReason.RATE_LIMITED: N_(
        "You have sent {count} reports in the last {minutes} minutes. To keep the queue "
        "clear for everyone, please wait {wait} before sending another."
    ),
    RefusalReason.TOO_MANY_AREAS: N_("You can follow at most {count} neighborhoods."),
    RefusalReason.NOT_AN_IMAGE: N_("I couldn't open that picture. Try another one, or press Skip."),
    RefusalReason.TOO_MANY_PIXELS: N_(
        "That picture is too large to open safely (more than {megapixels} megapixels). "
        "Please send a smaller photo or a screenshot, or press Skip."
    ),
    RefusalReason.UNKNOWN_DISPATCH: N_("That request to go and look no longer exists."),
    RefusalReason.DRILL_DISPATCH: N_("Nobody is sent to a drill: this incident is a practice drill."),
    RefusalReason.NO_FIELD_VERIFIER: N_("No field verifier can be asked right now: nobody who opted in is on duty and free."),
    RefusalReason.DISPATCH_PENDING: N_("Someone is already being asked to go and look at this incident."),
    RefusalReason.OFFER_GONE: N_("This request is no longer open for you: it passed to someone else or was closed."),
    RefusalReason.BAD_ETA: N_("Please choose one of the times offered."),
    RefusalReason.NOT_IN_FIELD: N_("Only the person who went can answer this."),
    RefusalReason.DISPATCH_ENDED: N_("This dispatch has ended."),
    RefusalReason.ALREADY_REPORTED: N_("You already sent your on-site report for this dispatch."),
    RefusalReason.NOT_FIELD_VERIFIER: N_("You have not opted in as a field verifier."),
    RefusalReason.UNKNOWN_NEIGHBORHOOD: N_("That neighborhood is not one of this network's."),
    RefusalReason.CHANGED_MEANWHILE: N_("This changed a moment ago. Please try again."),
}
#: A second paragraph for the reasons that leave something kept for later.
NOTES: dict[RefusalReason, str] = {
    RefusalReason.RATE_LIMITED: N_("Your report is kept here: press Submit again later."),
}
#: Answered with a message even after a button press: too long for a pop-up (Telegram
#: shows at most 200 characters there), and worth keeping in sight.
IN_CHAT = frozenset({RefusalReason.RATE_LIMITED})
#: What a pop-up shows at most (Telegram's limit is 200 characters).
POPUP_CHARS = 190


def refusal_values(t: Translator, refusal: Refusal) -> dict[str, object]:
    """The refusal's details as the messages' placeholders: `count` (the limit reached),
    `minutes` (the window), `wait` (how long until it may be tried again), `megapixels`."""
    values: dict[str, object] = {}
    if refusal.limit is not None:
        values["count"] = refusal.limit
        values["megapixels"] = refusal.limit // 1_000_000
    if refusal.window is not None:
        values["minutes"] = int(refusal.window.total_seconds() // 60)
    if refusal.retry_after is not None:
        values["wait"] = wait_text(t, refusal.retry_after)
    return values


def refusal_text(t: Translator, refusal: Refusal) -> str:
    """What the person is told about `refusal`, in `t`'s language."""
    text = t(REFUSAL_TEXTS[refusal.reason], **refusal_values(t, refusal))
    note = NOTES.get(refusal.reason)
    return f"{text}\n\n{t(note)}" if note else text


def rate_limited_text(t: Translator, refusal: Refusal) -> str:
    """The rate limit's message alone (without the note on a kept draft): for a person who
    has no report open yet."""
    return t(REFUSAL_TEXTS[RefusalReason.RATE_LIMITED], **refusal_values(t, refusal))


async def answer_refusal(update: Update, context: ContextTypes.DEFAULT_TYPE, refusal: Refusal, default_language: str) -> None:
    """Tell whoever was refused: a pop-up for a button press (in the presser's language), a
    message otherwise — in the person's language in a private chat, in the deployment's
    in a group or channel, which everyone there reads. An answer that cannot be delivered
    is logged and dropped: there is nothing more to tell."""
    query, chat = update.callback_query, update.effective_chat
    shared = chat is not None and chat.type != ChatType.PRIVATE and query is None
    t = translator(default_language) if shared else translator_for(update, context, default_language)
    text = refusal_text(t, refusal)
    try:
        if query is not None and refusal.reason not in IN_CHAT:
            await query.answer(text[:POPUP_CHARS], show_alert=True)
            return
        if query is not None:
            await query.answer()
        if chat is not None:
            await messaging.send(context.bot, chat.id, text)
    except TelegramError:
        log.info("could not answer a refusal (%s)", refusal.reason.value, exc_info=True)


Callback = Callable[[Any, Any], Coroutine[Any, Any, Any]]


def answering_refusals(callback: Callback, default_language: str) -> Callback:
    """`callback`, with any :class:`Refusal` it raises answered (see :func:`answer_refusal`)
    and turned into a None result."""
    if getattr(callback, "answers_refusals", False):
        return callback

    @functools.wraps(callback)
    async def answering(update: Any, context: Any) -> object:
        try:
            return await callback(update, context)
        except Refusal as refusal:
            log.debug("refused: %s", refusal.reason.value)
            if isinstance(update, Update):
                await answer_refusal(update, context, refusal, default_language)
            return None

    answering.answers_refusals = True  # type: ignore[attr-defined]
    return answering


def _leaves(handlers: Iterable[BaseHandler]) -> Iterable[BaseHandler]:
    """The handlers with a callback of their own (a conversation's, state by state)."""
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from _leaves(handler.entry_points)
            for state in handler.states.values():
                yield from _leaves(state)
            yield from _leaves(handler.fallbacks)
        else:
            yield handler


def answer_refusals(application: Application, default_language: str) -> None:
    """Wrap the callback of every handler registered on `application` (in every group, and
    inside conversations) with :func:`answering_refusals`. Call it once the handlers are
    added; wrapping twice changes nothing."""
    for group in application.handlers.values():
        for handler in _leaves(group):
            handler.callback = answering_refusals(handler.callback, default_language)
