"""Every reason the domain refuses for has a message, translated in every catalog, with its
details filled in; and the one mechanism that answers refusals covers every handler,
conversations included, leaving a conversation in its state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from babel.messages.pofile import read_po
from telegram.ext import ApplicationBuilder, CommandHandler, ConversationHandler, MessageHandler, filters

from sereno.bot.i18n import LOCALES, SUPPORTED_LANGUAGES, translator
from sereno.bot.refusals import NOTES, REFUSAL_TEXTS, answer_refusals, refusal_text
from sereno.verify.errors import Refusal, RefusalReason

#: A refusal of each reason, with the details its service gives.
EXAMPLES = {
    RefusalReason.RATE_LIMITED: Refusal(
        RefusalReason.RATE_LIMITED, retry_after=timedelta(minutes=4, seconds=10), limit=5, window=timedelta(minutes=10)
    ),
    RefusalReason.TOO_MANY_AREAS: Refusal(RefusalReason.TOO_MANY_AREAS, limit=12),
    RefusalReason.TOO_MANY_PIXELS: Refusal(RefusalReason.TOO_MANY_PIXELS, limit=40_000_000),
}


def example(reason: RefusalReason) -> Refusal:
    return EXAMPLES.get(reason) or Refusal(reason)


def test_every_refusal_reason_has_a_message() -> None:
    assert set(REFUSAL_TEXTS) == set(RefusalReason), "give every new RefusalReason a message in sereno/bot/refusals.py"


@pytest.mark.parametrize("language", [code for code in SUPPORTED_LANGUAGES if code != "en"])
def test_every_refusal_message_is_translated(language: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "sereno.po").open("rb") as fh:
        catalog = read_po(fh)
    untranslated = [
        text for text in [*REFUSAL_TEXTS.values(), *NOTES.values()] if (entry := catalog.get(text)) is None or not entry.string
    ]
    assert untranslated == [], f"run pybabel extract and update, then translate: {untranslated[:3]}"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("reason", list(RefusalReason))
def test_every_refusal_reads_in_every_language_with_its_details_filled_in(language: str, reason: RefusalReason) -> None:
    text = refusal_text(translator(language), example(reason))
    assert text.strip() and "{" not in text and "}" not in text


def test_the_rate_limit_says_how_many_over_how_long_how_long_to_wait_and_that_the_report_is_kept() -> None:
    text = refusal_text(translator("en"), EXAMPLES[RefusalReason.RATE_LIMITED])
    assert text == (
        "You have sent 5 reports in the last 10 minutes. To keep the queue clear for everyone, please "
        "wait about 5 min before sending another.\n\nYour report is kept here: press Submit again later."
    )


def test_limits_are_told_in_the_units_people_know() -> None:
    t = translator("en")
    assert refusal_text(t, EXAMPLES[RefusalReason.TOO_MANY_AREAS]) == "You can follow at most 12 neighborhoods."
    assert "more than 40 megapixels" in refusal_text(t, EXAMPLES[RefusalReason.TOO_MANY_PIXELS])


async def test_refusals_are_answered_in_every_handler_and_leave_a_conversation_in_its_state() -> None:
    async def refuse(update: Any, context: Any) -> object:
        raise Refusal(RefusalReason.NOT_ALLOWED)

    async def fails(update: Any, context: Any) -> object:
        raise ValueError("a bug, not a refusal")

    application = ApplicationBuilder().token("123:TEST").build()
    step = MessageHandler(filters.TEXT, refuse)
    conversation = ConversationHandler(
        entry_points=[CommandHandler("start", refuse)], states={"step": [step]}, fallbacks=[CommandHandler("stop", fails)]
    )
    plain = CommandHandler("other", refuse)
    application.add_handler(conversation)
    application.add_handler(plain, group=1)
    answer_refusals(application, "en")
    answer_refusals(application, "en")  # a second call wraps nothing twice
    # not an Update: nobody to tell, but the refusal is still turned into None
    assert await step.callback(object(), None) is None  # None: PTB keeps the conversation in its state
    assert await conversation.entry_points[0].callback(object(), None) is None
    assert await plain.callback(object(), None) is None
    with pytest.raises(ValueError):  # anything else still reaches the error handler
        await conversation.fallbacks[0].callback(object(), None)
    assert step.callback.__wrapped__ is refuse  # type: ignore[attr-defined]
