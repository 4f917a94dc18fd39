"""The rights card and legal-help text: within Telegram's limits whatever the configuration,
and only configured numbers."""

from __future__ import annotations

import pytest

from sereno.bot.callbacks import LegalButton
from sereno.bot.i18n import translator
from sereno.bot.messaging import MAX_TEXT, pack
from sereno.bot.rights import help_keyboard, language_names, legal_help, rights_card
from sereno.verify.places import Neighborhood
from sereno.verify.resources import (
    MAX_NAME,
    MAX_NOTE,
    MAX_URL,
    Hotline,
    LegalAid,
    NeighborhoodResources,
    Resources,
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_card_fits_one_message_with_the_longest_hotline_name(language: str) -> None:
    resources = Resources(hotline=Hotline("+1 (555) 555-0100", "x" * MAX_NAME))
    card = rights_card(translator(language), resources)
    assert len(card) < MAX_TEXT / 2 and "555-0100" in card
    assert "/help" not in card  # no legal aid configured: nothing to point to


def test_the_card_without_any_hotline_says_so_and_shows_no_number() -> None:
    card = rights_card(translator("en"), Resources())
    assert "No legal hotline is configured" in card
    assert not any(ch.isdigit() for ch in card.replace("I-200", "").replace("I-205", ""))


def test_many_long_organisations_are_split_into_messages_that_fit() -> None:
    orgs = tuple(
        LegalAid(
            f"Org {n:02d} " + "n" * (MAX_NAME - 7),
            f"555-01{n:02d}",
            "https://e.org/" + "u" * (MAX_URL - 14),
            ("en", "es"),
            (("", "z" * MAX_NOTE),),
        )
        for n in range(30)
    )
    resources = Resources(neighborhoods={"eastfield": NeighborhoodResources(legal_aid=orgs)})
    messages = pack(legal_help(translator("es"), resources, Neighborhood("eastfield", "Eastfield")))
    assert len(messages) > 1 and all(len(m) <= MAX_TEXT for m in messages)
    joined = "\n".join(messages)
    assert all(f"555-01{n:02d}" in joined for n in range(30)) and messages[-1].endswith("inmigración.")


def test_pack_keeps_blocks_whole_and_in_order() -> None:
    assert pack(["a", "", "b"], limit=10) == ["a\n\nb"]
    assert pack(["aaaa", "bbbb", "cccc"], limit=9) == ["aaaa\nbbbb", "cccc"]
    assert pack([]) == []


def test_language_codes_are_named_in_the_readers_language() -> None:
    assert language_names(("en", "es", "ht"), "es") == "inglés, español, criollo haitiano"
    assert language_names(("mam",), "en") == "mam"


def test_neighborhood_buttons_carry_only_ids_that_fit_and_parse_back() -> None:
    nbs = [Neighborhood("las-palmas", "Las Palmas"), Neighborhood("x" * 60, "Too Long")]
    rows = help_keyboard(translator("en"), nbs)["inline_keyboard"]
    data = [b["callback_data"] for row in rows for b in row]
    assert "legal:las-palmas" in data and not any("x" * 60 in d for d in data)
    assert LegalButton.parse("legal:las-palmas") == LegalButton("las-palmas")  # type: ignore[arg-type]
    assert LegalButton.parse("legal:") is None and LegalButton.parse("m:help") is None and LegalButton.parse(None) is None
