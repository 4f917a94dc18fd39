"""Legal hotlines and vetted legal-aid organisations, region-wide and per neighborhood.

They come from a TOML file (``SERENO_RESOURCES_FILE``; ``sereno/data/resources.example.toml``
documents the format). Every phone number shown to people comes from that file or from the
deployment's settings: nothing here makes one up. A file that cannot be used is refused
with a :class:`ResourcesError` naming the file and the problem.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Loose phone check: digits, spaces, +, - and parentheses, with at least three digits.
_PHONE = re.compile(r"[0-9+()\-\s]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_URL = re.compile(r"https?://\S+")

#: Longest accepted text per field, so one organisation always fits in a Telegram message.
MAX_NAME, MAX_PHONE, MAX_URL, MAX_NOTE = 120, 40, 300, 500

_TOP_KEYS = {"hotline", "hotline_name", "legal_aid", "neighborhoods"}
_NEIGHBORHOOD_KEYS = {"hotline", "hotline_name", "legal_aid"}
_ORG_KEYS = {"name", "phone", "url", "languages", "note"}


class ResourcesError(ValueError):
    """A resources file that cannot be used; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Hotline:
    """A legal hotline: the number to call and, optionally, who answers it."""

    number: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class LegalAid:
    """A vetted legal-aid organisation.

    `languages` are language codes (``"en"``, ``"es"``…); `notes` pairs a language code with
    a note in that language (``""`` for a note given without a language).
    """

    name: str
    phone: str
    url: str = ""
    languages: tuple[str, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()

    def note_for(self, language: str) -> str:
        """The note in `language`, else the one given without a language, else the English
        one, else the first; ``""`` when there is none."""
        by_language = dict(self.notes)
        for key in (language, "", "en"):
            if by_language.get(key):
                return by_language[key]
        return self.notes[0][1] if self.notes else ""


@dataclass(frozen=True, slots=True)
class NeighborhoodResources:
    """What one neighborhood adds to the region-wide resources."""

    hotline: Hotline | None = None
    legal_aid: tuple[LegalAid, ...] = ()


@dataclass(frozen=True, slots=True)
class Resources:
    """The region-wide hotline and organisations, and each neighborhood's additions."""

    hotline: Hotline | None = None
    legal_aid: tuple[LegalAid, ...] = ()
    neighborhoods: Mapping[str, NeighborhoodResources] = field(default_factory=dict)

    def hotline_for(self, neighborhood_id: str | None) -> Hotline | None:
        """The neighborhood's own hotline when it has one, else the region-wide one; None
        when no hotline is configured at all."""
        local = self.neighborhoods.get(neighborhood_id) if neighborhood_id else None
        if local is not None and local.hotline is not None:
            return local.hotline
        return self.hotline

    def legal_aid_for(self, neighborhood_id: str | None) -> tuple[LegalAid, ...]:
        """The neighborhood's own organisations first, then the region-wide ones (each once);
        only the region-wide ones for no neighborhood or an unknown one."""
        local = self.neighborhoods.get(neighborhood_id) if neighborhood_id else None
        own = local.legal_aid if local is not None else ()
        return tuple(dict.fromkeys((*own, *self.legal_aid)))

    @property
    def varies_by_neighborhood(self) -> bool:
        """Whether any neighborhood has a hotline or organisations of its own."""
        return any(nb.hotline is not None or nb.legal_aid for nb in self.neighborhoods.values())

    def unknown_neighborhoods(self, known_ids: Iterable[str]) -> list[str]:
        """Neighborhood ids of the file that are not among `known_ids` (likely typos), sorted."""
        return sorted(set(self.neighborhoods) - set(known_ids))


def load_resources(path: Path, fallback_hotline: Hotline | None = None) -> Resources:
    """The resources in the TOML file at `path`; `fallback_hotline` is the region-wide hotline
    when the file has none. Raises :class:`ResourcesError` starting with the file's name."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ResourcesError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ResourcesError(f"{path}: not UTF-8 text") from None
    try:
        return parse_resources(text, fallback_hotline)
    except ResourcesError as exc:
        raise ResourcesError(f"{path}: {exc}") from None


def parse_resources(text: str, fallback_hotline: Hotline | None = None) -> Resources:
    """Resources from TOML text (see the module docstring); `fallback_hotline` is used when
    the text sets no region-wide hotline. Errors name the key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ResourcesError(f"not valid TOML: {exc}") from None
    _only(data, _TOP_KEYS, "")
    hotline = _hotline(data, "") or fallback_hotline
    legal_aid = _organisations(data.get("legal_aid", []), "legal_aid")
    raw_neighborhoods = data.get("neighborhoods", {})
    if not isinstance(raw_neighborhoods, dict):
        raise ResourcesError("neighborhoods must be a table: [neighborhoods.ID]")
    neighborhoods: dict[str, NeighborhoodResources] = {}
    for ident, table in raw_neighborhoods.items():
        where = f"neighborhoods.{ident}"
        if not isinstance(table, dict):
            raise ResourcesError(f"{where} must be a table: [{where}]")
        _only(table, _NEIGHBORHOOD_KEYS, where)
        neighborhoods[ident] = NeighborhoodResources(
            hotline=_hotline(table, where),
            legal_aid=_organisations(table.get("legal_aid", []), f"{where}.legal_aid"),
        )
    return Resources(hotline=hotline, legal_aid=legal_aid, neighborhoods=neighborhoods)


def _only(table: dict[str, object], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        place = f"{where}: " if where else ""
        raise ResourcesError(f"{place}unknown key {unknown[0]!r} (expected one of {', '.join(sorted(allowed))})")


def _key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _hotline(table: dict[str, object], where: str) -> Hotline | None:
    """The table's `hotline` (and `hotline_name`), None when it sets none."""
    name = _text(table, "hotline_name", where, MAX_NAME)
    if "hotline" not in table:
        if name:
            raise ResourcesError(f"{_key(where, 'hotline_name')} is set but {_key(where, 'hotline')} is not")
        return None
    return Hotline(_phone(table.get("hotline"), _key(where, "hotline")), name)


def _organisations(raw: object, where: str) -> tuple[LegalAid, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ResourcesError(f"{where} must be a list of tables: [[{where}]]")
    return tuple(_organisation(item, f"{where}[{index}]") for index, item in enumerate(raw, start=1))


def _organisation(table: dict[str, object], where: str) -> LegalAid:
    _only(table, _ORG_KEYS, where)
    name = _text(table, "name", where, MAX_NAME)
    if not name:
        raise ResourcesError(f"{where}.name is missing")
    if "phone" not in table:
        raise ResourcesError(f"{where}.phone is missing")
    url = _text(table, "url", where, MAX_URL)
    if url and not _URL.fullmatch(url):
        raise ResourcesError(f"{where}.url: {url!r} is not a web address (start it with https://)")
    languages = table.get("languages", [])
    if not isinstance(languages, list) or not all(isinstance(code, str) and _LANGUAGE.fullmatch(code) for code in languages):
        raise ResourcesError(f'{where}.languages must be a list of language codes such as ["en", "es"]')
    return LegalAid(
        name=name,
        phone=_phone(table.get("phone"), f"{where}.phone"),
        url=url,
        languages=tuple(dict.fromkeys(languages)),
        notes=_notes(table.get("note"), f"{where}.note"),
    )


def _notes(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    """A note given as text (any language) or as a table of language code → text."""
    if raw is None:
        return ()
    items = {"": raw} if isinstance(raw, str) else raw
    if not isinstance(items, dict):
        raise ResourcesError(f'{where} must be text or a table such as {{ en = "…", es = "…" }}')
    notes: list[tuple[str, str]] = []
    for code, note in items.items():
        if code and not _LANGUAGE.fullmatch(code):
            raise ResourcesError(f"{where}: {code!r} is not a language code")
        if not isinstance(note, str):
            raise ResourcesError(f"{where} must be text")
        if len(note.strip()) > MAX_NOTE:
            raise ResourcesError(f"{where} is longer than {MAX_NOTE} characters")
        if note.strip():
            notes.append((code, note.strip()))
    return tuple(notes)


def _text(table: dict[str, object], key: str, where: str, limit: int) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ResourcesError(f"{_key(where, key)} must be text in quotes")
    value = " ".join(value.split())
    if len(value) > limit:
        raise ResourcesError(f"{_key(where, key)} is longer than {limit} characters")
    return value


def _phone(value: object, where: str) -> str:
    """A phone number as written, checked loosely; never altered beyond spacing."""
    if not isinstance(value, str):
        raise ResourcesError(f'{where} must be text in quotes, such as "555-0100"')
    number = " ".join(value.split())
    digits = sum(ch.isdigit() for ch in number)
    if not _PHONE.fullmatch(number) or digits < 3 or len(number) > MAX_PHONE:
        raise ResourcesError(f"{where}: {value!r} is not a phone number (use digits, spaces, +, - and parentheses)")
    return number
