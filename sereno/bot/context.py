"""Small helpers every handler uses: the person's language and the reply target."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from sereno.bot.i18n import Translator, pick_language, translator

LANG_KEY = "lang"


def language_of(update: Update, context: ContextTypes.DEFAULT_TYPE, default: str) -> str:
    """The language chosen by this person, else their app's, else the deployment's."""
    stored = context.user_data.get(LANG_KEY) if context.user_data is not None else None
    user = update.effective_user
    return pick_language(stored, user.language_code if user else None, default)


def translator_for(update: Update, context: ContextTypes.DEFAULT_TYPE, default: str) -> Translator:
    """The translator for this person."""
    return translator(language_of(update, context, default))


def user_data(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    """The person's data (every update handled with it comes from a person)."""
    assert context.user_data is not None
    return context.user_data


#: Telegram ids fit in 52 bits; anything larger in a button or command was not made by us.
MAX_TELEGRAM_ID = 2**53 - 1


def small_int(text: str, maximum: int) -> int | None:
    """`text` as a number from 0 to `maximum`, or None. Only ASCII digits count: `str.isdigit`
    also accepts superscripts and other digits `int()` cannot read."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
