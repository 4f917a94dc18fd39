"""The data behind every inline button, one typed codec per button family.

Each family is a frozen dataclass with its own prefix. `pack()` gives the callback data
(`prefix:field:field…`, at most 64 bytes, Telegram's limit); `parse(data)` gives the button
back, or None for anything the family never packs (wrong prefix, field count or field
type, non-canonical numbers, oversized or unencodable data) — it never raises, whatever a
client sends; `pattern` matches every data of the family and nothing of another family,
for `CallbackQueryHandler`. A handler whose pattern matched but whose `parse` gives None
answers politely (the button is stale or forged).

Callback data is only a hint of intent: a parsed button says which action was pressed on
what, never that the presser may do it. The services check that on every press.

Field types are read from the annotations: a StrEnum by value, another Enum (Role) by its
lowercase name, `int` as a canonical decimal Telegram id, `Token` (an id, a slug or a
language code), `AreaKey` (see :func:`area_key`), `Text` (anything non-empty, the last
field only: neighborhood ids may hold colons). A trailing field may be optional
(`X | None = None`: absent from the data); `_consistent` states which fields go together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, ClassVar, NamedTuple, NewType, Self

from sereno.bot.context import MAX_TELEGRAM_ID
from sereno.verify.alerts import UpdateKind
from sereno.verify.dispatch import CheckInAnswer
from sereno.verify.incidents import Verdict
from sereno.verify.members import Role

#: Telegram's limit on a button's callback data, in bytes (UTF-8).
MAX_BYTES = 64
SEPARATOR = ":"

#: An id (UUID), a scenario slug or a language code: 1–64 ASCII letters, digits, `_`, `-`.
Token = NewType("Token", str)
#: Eight hex digits naming a neighborhood (:func:`area_key`).
AreaKey = NewType("AreaKey", str)
#: Any non-empty text (a neighborhood id as configured); only as a family's last field.
Text = NewType("Text", str)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_AREA_KEY = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,15}")


def area_key(neighborhood_id: str) -> AreaKey:
    """Eight hex characters naming a neighborhood in callback data (ids can be too long)."""
    return AreaKey(hashlib.sha256(neighborhood_id.encode()).hexdigest()[:8])


class CallbackTooLong(ValueError):
    """The packed data would be over Telegram's 64 bytes (see `Callback.fits`)."""


class _Field(NamedTuple):
    """How one dataclass field is written in, and read from, callback data."""

    name: str
    read: Callable[[str], object | None]  # None: not a value of this field
    write: Callable[[Any], str]
    optional: bool
    rest: bool  # may hold the separator (the last field only)


def _matching(regex: re.Pattern[str], kind: Callable[[str], object]) -> Callable[[str], object | None]:
    return lambda text: kind(text) if regex.fullmatch(text) else None


def _read_int(text: str) -> int | None:
    if not _DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_TELEGRAM_ID else None


def _field(name: str, hint: Any) -> _Field:
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [h for h in typing.get_args(hint) if h is not type(None)]
        assert len(members) == 1, f"{name}: only `X | None` unions are supported"
        hint, optional = members[0], True
    if isinstance(hint, type) and issubclass(hint, Enum):
        by_text = {(m.value if isinstance(m, StrEnum) else m.name.lower()): m for m in hint}
        written = {m: text for text, m in by_text.items()}
        return _Field(name, by_text.get, written.__getitem__, optional, False)
    if hint is int:
        return _Field(name, _read_int, str, optional, False)
    if hint is Token:
        return _Field(name, _matching(_TOKEN, Token), str, optional, False)
    if hint is AreaKey:
        return _Field(name, _matching(_AREA_KEY, AreaKey), str, optional, False)
    if hint is Text:
        return _Field(name, lambda text: Text(text) if text else None, str, optional, True)
    raise TypeError(f"{name}: no callback encoding for {hint!r}")


class Callback:
    """Base of the button families; a subclass names its prefix: `class X(Callback, prefix="x")`."""

    prefix: ClassVar[str]
    #: Matches the data of this family only (anchored at the start, prefix and separator).
    pattern: ClassVar[re.Pattern[str]]

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        assert re.fullmatch(r"[a-z]+", prefix), f"{cls.__name__}: a prefix is lowercase letters"
        assert prefix not in _PREFIXES, f"{cls.__name__}: prefix {prefix!r} is taken by {_PREFIXES[prefix].__name__}"
        cls.prefix = prefix
        cls.pattern = re.compile(rf"^{re.escape(prefix)}{SEPARATOR}")
        _PREFIXES[prefix] = cls
        FAMILIES.append(cls)

    @classmethod
    def _fields(cls) -> tuple[_Field, ...]:
        if cls not in _FIELDS:
            _FIELDS[cls] = _fields_of(cls)
        return _FIELDS[cls]

    def _consistent(self) -> bool:
        """Whether these field values go together (a family with optional fields says when
        they are present)."""
        return True

    def _join(self) -> str:
        written = [f.write(value) for f in self._fields() if (value := getattr(self, f.name)) is not None]
        return SEPARATOR.join([self.prefix, *written])

    def fits(self) -> bool:
        """Whether `pack` succeeds: the data is within Telegram's 64 bytes and reads back (a
        button for a neighborhood or scenario whose id cannot be carried is left out of its
        keyboard)."""
        try:
            self.pack()
        except ValueError:
            return False
        return True

    def pack(self) -> str:
        """The callback data. Raises CallbackTooLong past 64 bytes, ValueError for values
        the family cannot carry (a field that would not read back, fields that do not go
        together)."""
        data = self._join()
        if len(data.encode()) > MAX_BYTES:
            raise CallbackTooLong(f"{self!r} needs {len(data.encode())} bytes of callback data, over {MAX_BYTES}")
        if type(self).parse(data) != self:
            raise ValueError(f"{self!r} cannot be written as callback data")
        return data

    @classmethod
    def parse(cls, data: object) -> Self | None:
        """The button whose data this is, or None: only data `pack` can give is read back."""
        if not isinstance(data, str) or len(data) > MAX_BYTES:
            return None
        try:
            if len(data.encode()) > MAX_BYTES:
                return None
        except UnicodeEncodeError:  # lone surrogates: never ours
            return None
        prefix, separator, rest = data.partition(SEPARATOR)
        if prefix != cls.prefix or not separator:
            return None
        fields = cls._fields()
        parts = rest.split(SEPARATOR, len(fields) - 1)
        required = sum(not f.optional for f in fields)
        if not required <= len(parts) <= len(fields):
            return None
        values: dict[str, object] = {f.name: None for f in fields}
        for f, part in zip(fields, parts, strict=False):  # absent optional fields stay None
            value = f.read(part)
            if value is None:
                return None
            values[f.name] = value
        button = cls(**values)
        return button if button._consistent() else None

    def matcher(self) -> re.Pattern[str]:
        """A pattern matching exactly this button's data (for a handler of one button)."""
        return re.compile(rf"^{re.escape(self.pack())}\Z")


def _fields_of(family: type[Callback]) -> tuple[_Field, ...]:
    """The encoding of a family's fields, from its annotations (checked once)."""
    hints = typing.get_type_hints(family)
    fields = tuple(_field(f.name, hints[f.name]) for f in dataclasses.fields(family))  # type: ignore[arg-type]
    assert fields, f"{family.__name__}: a family has at least one field"
    assert all(not f.rest for f in fields[:-1]), f"{family.__name__}: only the last field may be Text"
    optional = [f.optional for f in fields]
    assert optional == sorted(optional), f"{family.__name__}: optional fields come last"
    return fields


_FIELDS: dict[type[Callback], tuple[_Field, ...]] = {}
_PREFIXES: dict[str, type[Callback]] = {}
#: Every button family, in the order they are defined (tests iterate over it).
FAMILIES: list[type[Callback]] = []


# ── outside a report ──────────────────────────────────────────────────────────────
class MenuItem(StrEnum):
    """The main menu's buttons."""

    REPORT = "report"
    LAWYER = "lawyer"
    RIGHTS = "rights"
    HELP = "help"
    LANGUAGE = "language"


@dataclass(frozen=True)
class MenuButton(Callback, prefix="m"):
    """`m:<item>`: a button of the main menu."""

    item: MenuItem


@dataclass(frozen=True)
class LanguageButton(Callback, prefix="lang"):
    """`lang:<code>`: a language to speak (the handler checks that it has a catalog)."""

    code: Token


@dataclass(frozen=True)
class LegalButton(Callback, prefix="legal"):
    """`legal:<neighborhood id>`: that neighborhood's legal help, under /help (looked up;
    an unknown one gets the region-wide list)."""

    neighborhood_id: Text


# ── the report conversation ───────────────────────────────────────────────────────
class ReportField(StrEnum):
    """What a report button answers: a choice step (the value is the choice), or an action."""

    ACTIVITY = "activity"
    WHEN = "when"
    AGENTS = "agents"
    VEHICLES = "vehicles"
    UNIFORM = "uniform"
    SKIP = "skip"  # value: the step skipped
    LAWYER = "lawyer"  # value: "now"
    NEIGHBORHOOD = "nb"  # value: the neighborhood id
    DO = "do"  # value: submit, edit, cancel, summary
    EDIT = "edit"  # value: the step to change


@dataclass(frozen=True)
class ReportButton(Callback, prefix="r"):
    """`r:<field>:<value>`: an answer or action in the report conversation, valid only on
    the draft's current question (checked by the conversation)."""

    field: ReportField
    value: Text


# ── the desk ──────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class RoleButton(Callback, prefix="role"):
    """`role:<user id>:<role>`: give a desk member a role (checked by the roster)."""

    user_id: int
    role: Role


class DeskAction(StrEnum):
    """What a button under an incident card does."""

    CLAIM = "claim"
    RELEASE = "release"
    PHOTOS = "photos"
    REPORTS = "reports"
    MERGE = "merge"
    SEPARATE = "separate"
    VERDICT = "v"
    OPEN = "open"  # send the incident's card (from the /batch digest)


@dataclass(frozen=True)
class DeskButton(Callback, prefix="d"):
    """`d:<action>:<incident id>`, `d:v:<incident id>:<verdict>`: a button under an incident
    card (checked by the desk)."""

    action: DeskAction
    incident_id: Token
    verdict: Verdict | None = None

    def _consistent(self) -> bool:
        return (self.verdict is not None) == (self.action is DeskAction.VERDICT)


@dataclass(frozen=True)
class AnswerButton(Callback, prefix="f"):
    """`f:<follow-up id>`: a reporter answers a verifier's question (checked against the
    reporter when the answer comes)."""

    follow_up_id: Token


class DrillAction(StrEnum):
    """What a /drills button does."""

    PRACTICE = "practice"
    RECORDS = "records"
    LIVE = "live"
    INJECT = "inject"  # subject: the scenario id
    END = "end"  # subject: the live drill's incident id
    IMPORT = "import"
    EXPORT = "export"


@dataclass(frozen=True)
class DrillButton(Callback, prefix="dr"):
    """`dr:<action>[:<scenario or incident id>]`: /drills and its buttons (checked by the
    training service)."""

    action: DrillAction
    subject: Token | None = None

    def _consistent(self) -> bool:
        return (self.subject is not None) == (self.action in (DrillAction.INJECT, DrillAction.END))


@dataclass(frozen=True)
class ChannelButton(Callback, prefix="c"):
    """`c:<area key>`: the neighborhood a channel being linked gets alerts for (admins)."""

    area: AreaKey


class AlertAction(StrEnum):
    """What an alert board button does."""

    UPDATE = "u"  # subject: the alert id; update: what to say
    CORRECT = "c"  # subject: the debunked incident id


@dataclass(frozen=True)
class AlertButton(Callback, prefix="a"):
    """`a:u:<alert id>:<update>`, `a:c:<incident id>`: the alert board's buttons (checked by
    the alert service)."""

    action: AlertAction
    subject_id: Token
    update: UpdateKind | None = None

    def _consistent(self) -> bool:
        return (self.update is not None) == (self.action is AlertAction.UPDATE)


# ── subscribers ───────────────────────────────────────────────────────────────────
class SubscribeAction(StrEnum):
    """What a subscription button does."""

    TOGGLE = "t"  # area: the neighborhood
    REMOVE = "r"  # area: the neighborhood
    ALL = "all"
    LOCATION = "loc"
    DONE = "done"


@dataclass(frozen=True)
class SubscribeButton(Callback, prefix="s"):
    """`s:t:<area key>` toggle, `s:r:<area key>` remove, `s:all`, `s:loc`, `s:done`."""

    action: SubscribeAction
    area: AreaKey | None = None

    def _consistent(self) -> bool:
        return (self.area is not None) == (self.action in (SubscribeAction.TOGGLE, SubscribeAction.REMOVE))


# ── dispatch ────────────────────────────────────────────────────────────────────
class DispatchAction(StrEnum):
    """What a dispatch button of the desk does."""

    SEND = "send"  # subject: the incident id (under its card)
    CLOSE = "close"  # subject: the dispatch id (coordinators, /dispatches)


@dataclass(frozen=True)
class DispatchButton(Callback, prefix="x"):
    """`x:send:<incident id>` ("Send someone"), `x:close:<dispatch id>` (checked by the
    dispatch service)."""

    action: DispatchAction
    subject_id: Token


class OfferReply(StrEnum):
    """A field verifier's answer to being asked to go."""

    GO = "go"  # with the ETA in minutes
    DECLINE = "no"


@dataclass(frozen=True)
class OfferButton(Callback, prefix="o"):
    """`o:<dispatch id>:go:<minutes>` (going, there in so many minutes), `o:<dispatch
    id>:no` (cannot go): checked against the ask by the dispatch service."""

    dispatch_id: Token
    reply: OfferReply
    eta_minutes: int | None = None

    def _consistent(self) -> bool:
        return (self.eta_minutes is not None) == (self.reply is OfferReply.GO)


@dataclass(frozen=True)
class CheckInButton(Callback, prefix="ci"):
    """`ci:<dispatch id>:<answer>`: the person in the field answers a safety check-in
    (checked by the dispatch service: only they may)."""

    dispatch_id: Token
    answer: CheckInAnswer


class OnSiteField(StrEnum):
    """What an on-site report button answers (the value is the choice)."""

    FINDING = "finding"
    AGENTS = "agents"
    VEHICLES = "vehicles"
    ACTIVITY = "activity"
    UNIFORM = "uniform"
    EQUIPMENT = "equipment"
    DIRECTION = "direction"
    SKIP = "skip"  # value: the step skipped


@dataclass(frozen=True)
class OnSiteButton(Callback, prefix="os"):
    """`os:<dispatch id>:<field>:<value>`: a step of the on-site report, valid only on the
    report's current step (checked by the handler; the report itself by the service)."""

    dispatch_id: Token
    field: OnSiteField
    value: Text


for _family in FAMILIES:  # a family whose fields cannot be encoded fails at import, not at its first press
    _family._fields()
