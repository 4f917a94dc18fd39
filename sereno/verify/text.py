"""Cleaning what people type: control characters out, length bounded, words required."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

#: Longest free-text details kept with a report.
MAX_DETAILS_CHARS = 1000
#: Longest typed place kept (cross streets, landmark, ZIP).
MAX_PLACE_CHARS = 200

_KEEP_CONTROLS = {"\n", "\t"}


class TextProblem(StrEnum):
    """Why a text cannot be used."""

    EMPTY = "empty"
    NO_WORDS = "no_words"  # only emoji, symbols or punctuation


@dataclass(frozen=True, slots=True)
class CleanText:
    """Text fit to store; `truncated` tells the caller to say it was shortened."""

    text: str
    truncated: bool


def clean_text(raw: str | None, limit: int) -> CleanText | TextProblem:
    """Normalise to NFC, drop control and invisible format characters (zero-width, bidi
    overrides), collapse runs of blank space, and keep at most `limit` characters.

    Text with no letter or digit at all (emoji only, punctuation only) is refused as
    NO_WORDS; nothing left after cleaning is EMPTY.
    """
    if not raw:
        return TextProblem.EMPTY
    text = unicodedata.normalize("NFC", raw)
    kept = [ch for ch in text if ch in _KEEP_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")]
    lines = ["".join(" ".join(line.split())) for line in "".join(kept).split("\n")]
    text = "\n".join(line for line in lines if line).strip()
    if not text:
        return TextProblem.EMPTY
    if not any(unicodedata.category(ch)[0] in ("L", "N") for ch in text):
        return TextProblem.NO_WORDS
    if len(text) > limit:
        return CleanText(text[:limit].rstrip(), truncated=True)
    return CleanText(text, truncated=False)
