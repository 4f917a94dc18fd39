"""Translations: gettext catalogs under `sereno/bot/locales/`, managed with Babel.

Source strings are English and marked with `t("…")`, `t.n("…", "…", count)` for plural
forms, or `N_("…")` where the text is only declared. Collect them with

    pybabel extract -F babel.cfg -k t -k N_ -k n:1,2 --no-location --sort-output --project=sereno \
        --version=0.1.0 --copyright-holder="Sereno contributors" -o sereno/bot/locales/sereno.pot .
    pybabel update -i sereno/bot/locales/sereno.pot -d sereno/bot/locales -D sereno --no-fuzzy-matching --ignore-obsolete

and add a language with `pybabel init -i sereno/bot/locales/sereno.pot -d sereno/bot/locales -D sereno -l CODE`:
its catalog is all it takes (the supported languages are the catalogs found,
:data:`SUPPORTED_LANGUAGES`). Catalogs are compiled in memory when first used. Values put into
a right-to-left message are wrapped in Unicode isolates, so numbers, codes and names keep
their order; times and dates follow the language's conventions.
"""

from __future__ import annotations

import gettext
import io
import re
import string
import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "sereno"
#: Where the translation catalogs live (one `<code>/LC_MESSAGES/sereno.po` per language).
LOCALES = Path(__file__).resolve().parent / "locales"
#: First Strong Isolate … Pop Directional Isolate: a value that keeps its own direction.
ISOLATE, POP = "\u2068", "\u2069"
_FORMATTER = string.Formatter()


def catalog_languages(locales: Path = LOCALES) -> tuple[str, ...]:
    """English (the source language) and every language that has a catalog in `locales`,
    in code order: adding a language is adding its catalog."""
    found = sorted(p.parent.parent.name for p in locales.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return ("en", *[code for code in found if code != "en"])


#: The languages the bot speaks: English and every catalog found.
SUPPORTED_LANGUAGES = catalog_languages()


def language_name(code: str) -> str:
    """The language's name in itself ("Español", "中文", "العربية")."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except ValueError:
        return code
    return name[:1].upper() + name[1:]


LANGUAGE_NAMES = {code: language_name(code) for code in SUPPORTED_LANGUAGES}
#: Which catalogs a native speaker reviewed (see the file's own comments).
REVIEWS = LOCALES / "reviews.toml"


@dataclass(frozen=True, slots=True)
class CatalogStatus:
    """How complete a language's catalog is and who reviewed it (None: nobody yet)."""

    code: str
    name: str
    translated: int
    total: int
    reviewer: str | None
    reviewed_on: str | None


@cache
def reviews() -> dict[str, dict[str, object]]:
    """The review records of reviews.toml, by language code (read once: it ships with the code)."""
    with REVIEWS.open("rb") as fh:
        return {code: dict(entry) for code, entry in tomllib.load(fh).items() if isinstance(entry, dict)}


def reviewed(code: str) -> bool:
    """English (the source) and every language a native speaker reviewed."""
    return code == "en" or code in reviews()


def catalog_status() -> list[CatalogStatus]:
    """Coverage and review of every supported language, English first."""
    with (LOCALES / f"{DOMAIN}.pot").open("rb") as fh:
        template = [m.id for m in read_po(fh) if m.id]
    records = reviews()
    statuses = [CatalogStatus("en", LANGUAGE_NAMES["en"], len(template), len(template), "source language", None)]
    for code in SUPPORTED_LANGUAGES[1:]:
        with (LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
            catalog = read_po(fh, locale=code)
        done = sum(
            1
            for msgid in template
            if (m := catalog.get(msgid)) is not None and all(m.string if isinstance(m.string, (tuple, list)) else (m.string,))
        )
        record = records.get(code, {})
        statuses.append(
            CatalogStatus(
                code,
                LANGUAGE_NAMES[code],
                done,
                len(template),
                str(record["reviewer"]) if "reviewer" in record else None,
                str(record["date"]) if "date" in record else None,
            )
        )
    return statuses


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translate where it is shown)."""
    return message


#: A command with its Latin arguments ("/languages en es", "/join {code}") inside a translation.
_COMMAND = re.compile(r"(?<![\w/])/[a-z_]+(?: (?:[A-Za-z0-9-]+|\{[a-z_]+\}))*")


def isolate_commands(text: str) -> str:
    """Each /command (with its Latin arguments) wrapped in an isolate, so that inside
    right-to-left text it reads left to right and keeps its arguments after it."""
    return _COMMAND.sub(lambda m: f"{ISOLATE}{m.group(0)}{POP}", text)


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    """The language's compiled catalog; in a right-to-left language every /command in a
    translation is isolated (see `isolate_commands`)."""
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    if Locale.parse(language).text_direction == "rtl":
        for message in catalog:
            if message.id and isinstance(message.string, str):
                message.string = isolate_commands(message.string)
            elif message.id and message.string is not None:
                message.string = tuple(isolate_commands(form) for form in message.string)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """Translates and formats messages for one language: `t("Hello {name}", name=…)`."""

    __slots__ = ("language", "rtl", "_locale", "_gettext", "_ngettext")

    def __init__(self, language: str) -> None:
        self.language = language if language in SUPPORTED_LANGUAGES else "en"
        self._locale = Locale.parse(self.language)
        self.rtl = self._locale.text_direction == "rtl"
        catalog = _catalog(self.language)
        self._gettext = catalog.gettext
        self._ngettext = catalog.ngettext

    def __call__(self, message: str, /, **values: object) -> str:
        return self._format(self._gettext(message), values)

    def n(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        """The form of the message for `count` (the language's own plural rules);
        `{count}` is available to it."""
        return self._format(self._ngettext(singular, plural, count), {"count": count, **values})

    def _format(self, text: str, values: dict[str, object]) -> str:
        if not values:
            return text
        if not self.rtl:
            return text.format(**values)
        # right to left: each value formatted with its own spec, then isolated
        parts = []
        for literal, field, spec, conversion in _FORMATTER.parse(text):
            parts.append(literal)
            if field is not None:
                value = _FORMATTER.convert_field(_FORMATTER.get_field(field, (), values)[0], conversion)
                parts.append(f"{ISOLATE}{format(value, spec or '')}{POP}")
        return "".join(parts)

    def time(self, at: datetime, tz: ZoneInfo) -> str:
        """A time of day as this language writes it ("3:05 PM", "15:05")."""
        return format_time(at, format="short", tzinfo=tz, locale=self._locale)

    def date(self, at: datetime, tz: ZoneInfo) -> str:
        """A date as this language writes it."""
        return format_date(at.astimezone(tz), format="medium", locale=self._locale)


@cache
def translator(language: str) -> Translator:
    """The shared translator for `language` (English when unsupported)."""
    return Translator(language)


def known_language(stored: object, telegram_code: str | None) -> str | None:
    """The person's choice, else their Telegram app's language when it has a catalog
    ("pt-BR" → "pt", "zh-hans" → "zh"), else None."""
    if isinstance(stored, str) and stored in SUPPORTED_LANGUAGES:
        return stored
    code = (telegram_code or "").replace("_", "-").split("-")[0].lower()
    return code if code in SUPPORTED_LANGUAGES else None


def pick_language(stored: object, telegram_code: str | None, default: str) -> str:
    """The language to speak: :func:`known_language`, else the deployment's default."""
    return known_language(stored, telegram_code) or default
