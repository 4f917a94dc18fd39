"""Every message the bot can say has a Spanish translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES, translator

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def source_messages() -> set[str]:
    """Messages marked with t(…) or N_(…) in bot/, as Babel extracts them."""
    found = extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords={"t": None, "N_": None}
    )
    return {message for _file, _line, message, _comments, _context in found}


@pytest.mark.parametrize("language", ["es"])
def test_every_source_message_is_translated_with_the_same_placeholders(language: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "sereno.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = sorted(m for m in source_messages() if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], f"{len(missing)} messages without a {language} translation (run pybabel update): {missing[:5]}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []
    broken = [
        m.id for m in catalog
        if m.id and set(PLACEHOLDER.findall(str(m.id))) != set(PLACEHOLDER.findall(str(m.string)))
    ]
    assert broken == []


def test_the_template_lists_every_source_message() -> None:
    with (LOCALES / "sereno.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert source_messages() <= template, "run pybabel extract (see bot/i18n.py)"


def test_spanish_is_served_and_unknown_languages_fall_back_to_english() -> None:
    assert translator("es")("What is happening?") != "What is happening?"
    assert translator("xx")("What is happening?") == "What is happening?"
