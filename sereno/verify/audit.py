"""The audit trail: every claim, release, expiry, verdict, merge, role change and refused
action, with who did it. Actors are verifier ids (known to coordinators) or, for
reporters, their pseudonyms — never a reporter's Telegram id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sereno.verify.members import Verifier


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited action. `detail` holds small, PII-free facts (no report text)."""

    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


def verifier_actor(user_id: int | None) -> str:
    """How a verifier (or the command line, when None) appears in the trail."""
    return "cli" if user_id is None else f"verifier:{user_id}"


def person_actor(user_id: int, pseudonym: str | None) -> str:
    """How someone who is not on the roster appears in the trail: by pseudonym (the form
    their reports carry), or as an outsider when none can be made — never by Telegram id."""
    return f"person:{pseudonym}" if pseudonym else "outsider"


class _Roster(Protocol):
    async def get(self, user_id: int) -> Verifier | None: ...


class WithRoster(Protocol):
    """What :func:`refused_actor` needs of a unit of work (`sereno.verify.ports.UnitOfWork`
    has it): the roster, to tell members from outsiders."""

    @property
    def verifiers(self) -> _Roster: ...


async def refused_actor(uow: WithRoster, user_id: int | None, pseudonymize: Callable[[int], str] | None) -> str:
    """The actor of a refused action: a roster member (revoked ones too) by id, anyone else
    by :func:`person_actor`."""
    if user_id is None or await uow.verifiers.get(user_id) is not None:
        return verifier_actor(user_id)
    return person_actor(user_id, pseudonymize(user_id) if pseudonymize else None)
