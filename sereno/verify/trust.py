"""Reporter trust: a hint from a pseudonym's past outcomes only.

Trust is kept per pseudonym (never linked to a person) and comes only from what the desk
decided: each other incident holding a report by the pseudonym that was confirmed raises
it, each one debunked lowers it (an incident counts once however many reports the pseudonym
sent to it; unverifiable ones and drills count for nothing). It reaches the desk's card as a
small hint and is never shown to the reporter. It covers the reports still kept (the
retention window): once a report is purged, its outcome no longer counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TrustHint(StrEnum):
    """What the card says about a report's reporter."""

    NEW = "new"  # no confirmed or debunked incident before
    CONFIRMED_BEFORE = "confirmed_before"  # more confirmed than debunked before
    DEBUNKED_BEFORE = "debunked_before"  # debunked before, at least as often as confirmed


@dataclass(frozen=True, slots=True)
class Trust:
    """A pseudonym's past: how many of its other incidents were confirmed and debunked."""

    confirmed: int = 0
    debunked: int = 0

    @property
    def score(self) -> int:
        """Confirmed raise it, debunked lower it."""
        return self.confirmed - self.debunked

    @property
    def hint(self) -> TrustHint:
        """NEW without outcomes; CONFIRMED_BEFORE when confirmed outnumber debunked; else
        DEBUNKED_BEFORE (a debunk is worth a second look even among confirmations)."""
        if not self.confirmed and not self.debunked:
            return TrustHint.NEW
        return TrustHint.CONFIRMED_BEFORE if self.confirmed > self.debunked else TrustHint.DEBUNKED_BEFORE
