"""Every message the bot can say has a translation in every catalog, with the same
placeholders (and every plural form), and right-to-left text keeps its values intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from sereno.bot.i18n import ISOLATE, LOCALES, POP, SUPPORTED_LANGUAGES, translator

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def source_messages() -> set[str | tuple[str, ...]]:
    """Messages marked with t(…), t.n(…, …) or N_(…) in bot/, as Babel extracts them
    (plural messages as (singular, plural))."""
    found = extract_from_dir(
        str(ROOT / "sereno" / "bot"), method_map=[("**.py", "python")], keywords={"t": None, "N_": None, "n": (1, 2)}
    )
    return {message for _file, _line, message, _comments, _context in found}


def _forms(value: object) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (str(value or ""),)


@pytest.mark.parametrize("language", [code for code in SUPPORTED_LANGUAGES if code != "en"])
def test_every_source_message_is_translated_with_the_same_placeholders(language: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "sereno.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = sorted(str(m) for m in source_messages() if not ((entry := catalog.get(m)) and all(_forms(entry.string))))
    assert missing == [], f"{len(missing)} messages without a {language} translation (run pybabel update): {missing[:5]}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []
    broken = [
        m.id
        for m in catalog
        if m.id and any(set(PLACEHOLDER.findall(form)) != set(PLACEHOLDER.findall(_forms(m.id)[-1])) for form in _forms(m.string))
    ]
    assert broken == []


def test_the_template_lists_every_source_message() -> None:
    with (LOCALES / "sereno.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert source_messages() <= template, "run pybabel extract (see sereno/bot/i18n.py)"


def test_right_to_left_messages_isolate_their_values() -> None:
    english, arabic = translator("en"), translator("ar")
    assert english("Legal hotline: {number}", number="555-0100").endswith("555-0100")
    if "ar" in SUPPORTED_LANGUAGES:
        assert f"{ISOLATE}555-0100{POP}" in arabic("Legal hotline: {number}", number="555-0100")
        pin = arabic("Pin: {lat:.5f}, {lon:.5f}", lat=34.0387, lon=-118.2799)  # format specs still apply
        assert f"{ISOLATE}34.03870{POP}" in pin and f"{ISOLATE}-118.27990{POP}" in pin


def test_spanish_is_served_and_unknown_languages_fall_back_to_english() -> None:
    assert translator("es")("What is happening?") != "What is happening?"
    assert translator("xx")("What is happening?") == "What is happening?"


def _translations(language: str) -> list[str]:
    """Every form of every translation, as the bot says it (values left as placeholders)."""
    t = translator(language)
    with (LOCALES / language / "LC_MESSAGES" / "sereno.po").open("rb") as fh:
        catalog = read_po(fh)
    said = []
    for m in catalog:
        if not m.id:
            continue
        if isinstance(m.id, (tuple, list)):
            said += [t._ngettext(m.id[0], m.id[1], n) for n in (0, 1, 2, 3, 11, 100)]
        else:
            said.append(t._gettext(m.id))
    return said


def test_commands_inside_arabic_text_are_isolated_with_their_arguments() -> None:
    said = _translations("ar")
    with_commands = [text for text in said if re.search(r"(?<![\w/])/[a-z]", text)]
    assert len(with_commands) >= 25
    bare = [text for text in with_commands if re.search(rf"(?<![\w/{ISOLATE}])/[a-z]", text)]
    assert bare == []
    join = translator("ar")("Send /join followed by your invite code, for example /join K7M2-QX9P.")
    assert f"{ISOLATE}/join K7M2-QX9P{POP}" in join
    assert translator("en")("Send /join followed by your invite code, for example /join K7M2-QX9P.").count(ISOLATE) == 0


def test_arabic_and_spanish_wording_fixes() -> None:
    arabic = " ".join(_translations("ar"))
    # "an active alert" is indefinite: سارٍ, not ساري (ساريًا, accusative, is right)
    assert not re.search(r"ساري(?![ًاة])", arabic) and "تنبيه موثَّق سارٍ" in arabic
    # a number placeholder is never followed by a counted noun whose form depends on the number
    assert not re.search(r"\{(days|minutes|hours)\} (يومًا|يوم|أيام|دقيقة|دقائق|ساعة|ساعات)", arabic)
    spanish = " ".join(_translations("es"))
    assert "reportero" not in spanish and "quienes reportaron" in spanish
