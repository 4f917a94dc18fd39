"""Who is told what: the desk members a result says to tell, in the order to tell them.

The services decide the recipients and put them in their results (a submission's
:class:`~sereno.verify.intake.Submitted`, a verdict's :class:`~sereno.verify.desk.VerdictResult`,
a drill's :class:`~sereno.verify.drills.DrillDebrief`, the unclaimed pings); the bot's
notifier only renders each notice in its recipient's language and sends it. Reporters
are told through :class:`~sereno.verify.desk.ReporterToTell`, which carries their chat.

- A new incident (or one a new report made more urgent) goes to the verifiers on duty who
  cover its neighborhood and read the report's language, nearest first.
- When verifiers disagree, every coordinator gets the incident to settle it.
- An incident nobody claimed in time goes to everyone on duty, then to coordinators.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sereno.verify.incidents import Incident
from sereno.verify.members import Role, Verifier
from sereno.verify.places import Gazetteer


@dataclass(frozen=True, slots=True)
class Recipient:
    """A desk member to tell something, in the language they read first."""

    user_id: int
    language: str

    @classmethod
    def of(cls, person: Verifier) -> Recipient:
        return cls(person.user_id, person.language)


class CardReason(StrEnum):
    """Why an incident's card is sent."""

    NEW = "new"  # a new incident, or one a new report made more urgent
    DISAGREEMENT = "disagreement"  # verifiers disagree: coordinators settle it
    UNCLAIMED = "unclaimed"  # nobody claimed it in time


@dataclass(frozen=True, slots=True)
class CardNotice:
    """An incident's card, to send to `to` in that order."""

    incident: Incident
    reason: CardReason
    to: tuple[Recipient, ...]


def recipients(people: Iterable[Verifier]) -> tuple[Recipient, ...]:
    """These people, as recipients, in the same order."""
    return tuple(Recipient.of(person) for person in people)


def holding(people: Iterable[Verifier], role: Role) -> tuple[Recipient, ...]:
    """The people who hold `role` or a higher one (nobody revoked), in the same order."""
    return recipients(person for person in people if person.can(role))


def covering(
    people: Iterable[Verifier], incident: Incident, language: str, gazetteer: Gazetteer | None = None
) -> tuple[Recipient, ...]:
    """The verifiers (and up) on duty who cover the incident's neighborhood (or everywhere)
    and read `language`: trainees and people off duty are left out. With a `gazetteer`,
    nearest first: by the distance from the incident's pin to the nearest of their home
    neighborhoods, those covering everywhere (or with no known home, or for an incident
    without a pin) last; otherwise, and between equals, in the order given."""
    chosen = [
        person
        for person in people
        if person.on_duty
        and person.can(Role.VERIFIER)
        and language in person.languages
        and (not person.neighborhoods or incident.neighborhood_id in person.neighborhoods)
    ]
    if gazetteer is not None:
        chosen.sort(key=distance_from(incident, gazetteer))
    return recipients(chosen)


def distance_from(incident: Incident, gazetteer: Gazetteer) -> Callable[[Verifier], float]:
    """Metres from the incident to the nearest centroid of a person's home neighborhoods
    (infinite for those covering everywhere, or when the incident has no pin)."""

    def distance(person: Verifier) -> float:
        if incident.point is None:
            return math.inf
        return gazetteer.metres_to_nearest(incident.point, person.neighborhoods)

    return distance
