"""Translations: gettext catalogs under `bot/locales/`, managed with Babel.

Source strings are English and marked with `t("…")` (or `N_("…")` where the text is only
declared); `pybabel extract -F babel.cfg -k t -k N_ -o bot/locales/sereno.pot .` collects them
and `pybabel update -i bot/locales/sereno.pot -d bot/locales -D sereno` merges them into each
language's `.po`. Catalogs are compiled in memory when first used: no `.mo` files to build.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from sereno.settings import SUPPORTED_LANGUAGES

LOCALES = Path(__file__).with_name("locales")
DOMAIN = "sereno"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translate where it is shown)."""
    return message


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """Translates and formats messages for one language: `t("Hello {name}", name=…)`."""

    __slots__ = ("language", "_gettext")

    def __init__(self, language: str) -> None:
        self.language = language if language in SUPPORTED_LANGUAGES else "en"
        self._gettext = _catalog(self.language).gettext

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._gettext(message)
        return text.format(**values) if values else text


@cache
def translator(language: str) -> Translator:
    """The shared translator for `language` (English when unsupported)."""
    return Translator(language)


def pick_language(stored: object, telegram_code: str | None, default: str) -> str:
    """The language to speak: the person's choice, else their Telegram app's language when
    supported, else the deployment's default."""
    if isinstance(stored, str) and stored in SUPPORTED_LANGUAGES:
        return stored
    code = (telegram_code or "").split("-")[0].lower()
    return code if code in SUPPORTED_LANGUAGES else default
