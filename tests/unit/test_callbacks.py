"""The button codecs (sereno/bot/callbacks.py): every family packs within Telegram's 64
bytes and reads its own data back, reads nothing else (another family's data, forged or
garbage data: None, never an exception), and its pattern matches its data only. The
properties iterate over `callbacks.FAMILIES`, so a new family is covered as soon as it is
defined (its field types need a strategy below, and its wire format a line in WIRE)."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from sereno.bot import callbacks
from sereno.bot.callbacks import (
    FAMILIES,
    MAX_BYTES,
    AlertAction,
    AlertButton,
    AnswerButton,
    AreaKey,
    Callback,
    CallbackTooLong,
    ChannelButton,
    CheckInButton,
    DeskAction,
    DeskButton,
    DispatchAction,
    DispatchButton,
    DrillAction,
    DrillButton,
    LanguageButton,
    LegalButton,
    MenuButton,
    MenuItem,
    OfferButton,
    OfferReply,
    OnSiteButton,
    OnSiteField,
    ReportButton,
    ReportField,
    RoleButton,
    SubscribeAction,
    SubscribeButton,
    Text,
    Token,
    area_key,
)
from sereno.bot.context import MAX_TELEGRAM_ID
from sereno.verify.alerts import UpdateKind
from sereno.verify.dispatch import CheckInAnswer
from sereno.verify.incidents import Verdict
from sereno.verify.members import Role

INCIDENT = Token("5f0c7a2e-3b1d-4c8e-9a6f-0d2b4e6f8a10")

#: The wire format of every family, pinned: buttons already sent keep working only while
#: their data reads the same (a change here is a deliberate break of old messages).
WIRE: list[tuple[Callback, str]] = [
    (MenuButton(MenuItem.REPORT), "m:report"),
    (MenuButton(MenuItem.LANGUAGE), "m:language"),
    (LanguageButton(Token("es")), "lang:es"),
    (LegalButton(Text("harbor-view")), "legal:harbor-view"),
    (LegalButton(Text("a:b")), "legal:a:b"),
    (ReportButton(ReportField.ACTIVITY, Text("arrest")), "r:activity:arrest"),
    (ReportButton(ReportField.SKIP, Text("where")), "r:skip:where"),
    (ReportButton(ReportField.NEIGHBORHOOD, Text("las-palmas")), "r:nb:las-palmas"),
    (ReportButton(ReportField.DO, Text("submit")), "r:do:submit"),
    (RoleButton(8_000_002, Role.VERIFIER), "role:8000002:verifier"),
    (RoleButton(0, Role.REVOKED), "role:0:revoked"),
    (DeskButton(DeskAction.CLAIM, INCIDENT), f"d:claim:{INCIDENT}"),
    (DeskButton(DeskAction.VERDICT, INCIDENT, Verdict.NEEDS_INFO), f"d:v:{INCIDENT}:needs_info"),
    (AnswerButton(INCIDENT), f"f:{INCIDENT}"),
    (DrillButton(DrillAction.PRACTICE), "dr:practice"),
    (DrillButton(DrillAction.INJECT, Token("utility-crew-vests")), "dr:inject:utility-crew-vests"),
    (ChannelButton(area_key("harbor-view")), f"c:{area_key('harbor-view')}"),
    (AlertButton(AlertAction.UPDATE, INCIDENT, UpdateKind.ALL_CLEAR), f"a:u:{INCIDENT}:all_clear"),
    (AlertButton(AlertAction.CORRECT, INCIDENT), f"a:c:{INCIDENT}"),
    (SubscribeButton(SubscribeAction.TOGGLE, AreaKey("0123abcd")), "s:t:0123abcd"),
    (SubscribeButton(SubscribeAction.DONE), "s:done"),
    (DispatchButton(DispatchAction.SEND, INCIDENT), f"x:send:{INCIDENT}"),
    (DispatchButton(DispatchAction.CLOSE, INCIDENT), f"x:close:{INCIDENT}"),
    (OfferButton(INCIDENT, OfferReply.GO, 20), f"o:{INCIDENT}:go:20"),
    (OfferButton(INCIDENT, OfferReply.DECLINE), f"o:{INCIDENT}:no"),
    (CheckInButton(INCIDENT, CheckInAnswer.HELP), f"ci:{INCIDENT}:help"),
    (OnSiteButton(INCIDENT, OnSiteField.DIRECTION, Text("ne")), f"os:{INCIDENT}:direction:ne"),
]

#: Data no family may read: forged, truncated, oversized, non-canonical, not text at all.
FORGED: list[object] = [
    None,
    42,
    b"d:claim:x",
    "",
    ":",
    "d",
    "d:",
    "d:claim",
    "d:claim:",
    f"d:claim:{'x' * 80}",
    "d:" + "x" * 160,
    "d:claim:abc:confirmed",
    "d:v:abc",
    "d:v:abc:published",
    "d:CLAIM:abc",
    "d:claim:a/b",
    "d:claim:ab c",
    "role:007:verifier",
    "role:-1:verifier",
    "role:+1:verifier",
    "role:²:verifier",
    "role:1:superuser",
    "role:1:VERIFIER",
    "role:1",
    f"role:{MAX_TELEGRAM_ID + 1}:verifier",
    "role:99999999999999999999:admin",
    "r:123:verifier",
    "r:activity",
    "r:activity:",
    "r:nope:x",
    "m:help\n",
    "m:",
    "m:help:x",
    "m:report ",
    "lang:",
    "lang:e s",
    "legal:",
    "c:0000000g",
    "c:0000000",
    "c:0123ABCD",
    "s:t",
    "s:all:0123abcd",
    "s:t:0123abcd:x",
    "a:u:x",
    "a:c:x:all_clear",
    "a:u:x:retract",
    "dr:inject",
    "dr:practice:x",
    "dr:end:",
    "f:",
    f"f:{'a' * 70}",
    "f:a:b",
    "\ud800",
    "m:\ud800",
    "x" * 64,
    "\u202e;DROP TABLE incident;--",
    "D:claim:abc",
    " d:claim:abc",
    "dr:",
    "legal",
    "o:abc:go",
    "o:abc:no:5",
    "o:abc:go:05",
    "x:send",
    "x:launch:abc",
    "ci:abc:fine",
    "os:abc:finding",
]


def _strategy(hint: object) -> st.SearchStrategy[object]:
    """Values of one field type, as the families annotate them."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        [inner] = [h for h in typing.get_args(hint) if h is not type(None)]
        return st.none() | _strategy(inner)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if hint is int:
        return st.integers(0, MAX_TELEGRAM_ID)
    if hint is Token:
        return st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
    if hint is AreaKey:
        return st.from_regex(r"[0-9a-f]{8}", fullmatch=True)
    if hint is Text:
        return st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
    raise AssertionError(f"no strategy for the field type {hint!r}: add one")


def buttons(family: type[Callback]) -> st.SearchStrategy[Callback]:
    """Instances of a family built from its annotations (inconsistent ones included)."""
    hints = typing.get_type_hints(family)
    fields = {f.name: _strategy(hints[f.name]) for f in dataclasses.fields(family)}  # type: ignore[arg-type]
    return st.builds(family, **fields)


any_button = st.sampled_from(FAMILIES).flatmap(buttons)


def packed(button: Callback) -> str:
    """The button's data, or the example is discarded (too long, or fields that do not go
    together: `pack` refuses those, see test_pack_refuses_what_it_cannot_carry)."""
    try:
        return button.pack()
    except ValueError:
        reject()


def test_every_family_is_registered_once_with_its_own_prefix() -> None:
    defined = {c for c in vars(callbacks).values() if isinstance(c, type) and issubclass(c, Callback) and c is not Callback}
    assert set(FAMILIES) == defined and len(FAMILIES) == len(defined)
    prefixes = [family.prefix for family in FAMILIES]
    assert len(set(prefixes)) == len(prefixes)
    assert not any(a != b and (a + ":").startswith(b + ":") for a in prefixes for b in prefixes)


def test_the_wire_format_of_every_family_is_pinned() -> None:
    assert {type(button) for button, _ in WIRE} == set(FAMILIES)
    for button, data in WIRE:
        assert button.pack() == data
        assert type(button).parse(data) == button


def test_role_and_report_buttons_do_not_collide() -> None:
    """The bug of issue 17: role buttons used the report conversation's prefix `r:`."""
    role = RoleButton(8_000_002, Role.VERIFIER).pack()
    assert ReportButton.pattern.match(role) is None and ReportButton.parse(role) is None
    report = ReportButton(ReportField.ACTIVITY, Text("arrest")).pack()
    assert RoleButton.pattern.match(report) is None and RoleButton.parse(report) is None


@given(any_button)
def test_every_button_reads_back_from_at_most_64_bytes(button: Callback) -> None:
    data = packed(button)
    assert 1 <= len(data.encode()) <= MAX_BYTES
    assert type(button).parse(data) == button
    assert type(button).pattern.match(data)


@given(any_button)
def test_no_other_family_matches_or_reads_a_buttons_data(button: Callback) -> None:
    data = packed(button)
    for family in FAMILIES:
        if family is not type(button):
            assert family.pattern.match(data) is None, f"{family.__name__}.pattern matches {data!r}"
            assert family.parse(data) is None, f"{family.__name__} reads {data!r}"


@given(any_button)
def test_a_single_buttons_matcher_matches_its_own_data_only(button: Callback) -> None:
    data = packed(button)
    assert button.matcher().match(data)
    assert button.matcher().match(data + "x") is None and button.matcher().match(data + "\n") is None


@pytest.mark.parametrize("data", FORGED, ids=repr)
def test_forged_data_reads_as_no_button(data: object) -> None:
    assert [family.__name__ for family in FAMILIES if family.parse(data) is not None] == []


#: Text near the families' data: their prefixes, separators and pieces of fields.
near_miss = st.lists(
    st.sampled_from(
        [
            *(f.prefix for f in FAMILIES),
            ":",
            "v",
            "t",
            "claim",
            "verifier",
            "0",
            "01",
            "abc",
            "0123abcd",
            "x" * 30,
            "\n",
            "é",
            "-",
            "",
        ]
    ),
    max_size=6,
).map("".join)


@given(st.one_of(st.text(), near_miss))
def test_reading_any_text_never_raises_and_accepts_only_canonical_data(data: str) -> None:
    for family in FAMILIES:
        button = family.parse(data)
        if button is not None:
            assert button.pack() == data  # strict: one spelling per button
            assert family.pattern.match(data)


def test_pack_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(CallbackTooLong):
        DeskButton(DeskAction.CLAIM, Token("x" * 64)).pack()
    assert not DeskButton(DeskAction.CLAIM, Token("x" * 64)).fits()
    assert not LegalButton(Text("é" * 30)).fits()  # bytes, not characters: 6 + 60
    assert not LegalButton(Text("")).fits() and LegalButton(Text("é" * 29)).fits()
    with pytest.raises(ValueError, match="cannot be written"):
        DeskButton(DeskAction.CLAIM, INCIDENT, Verdict.CONFIRMED).pack()
    with pytest.raises(ValueError, match="cannot be written"):
        DeskButton(DeskAction.VERDICT, INCIDENT).pack()
    with pytest.raises(ValueError, match="cannot be written"):
        AnswerButton(Token("a:b")).pack()
    with pytest.raises(ValueError, match="cannot be written"):
        RoleButton(-1, Role.ADMIN).pack()
    with pytest.raises(ValueError, match="cannot be written"):
        SubscribeButton(SubscribeAction.ALL, AreaKey("0123abcd")).pack()
