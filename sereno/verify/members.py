"""Desk members: their roles, their roster entries and the invites that let people join.

Roles are ordered trainee < verifier < coordinator < admin; a revoked person holds no role.
The rules for joining and changing roles are :mod:`sereno.verify.roster`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class Role(IntEnum):
    """Desk roles, in order of authority."""

    REVOKED = 0
    TRAINEE = 1
    VERIFIER = 2
    COORDINATOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role | None:
        """The role named `text` (any case), or None."""
        return cls.__members__.get(text.strip().upper())


@dataclass(frozen=True, slots=True)
class Verifier:
    """A member of the desk. `pseudonym` is what their reports would carry, so nobody
    decides an incident holding a report of their own."""

    user_id: int
    role: Role
    name: str
    pseudonym: str
    joined_at: datetime
    languages: tuple[str, ...] = ("en",)
    neighborhoods: tuple[str, ...] = ()
    on_duty: bool = False

    @property
    def language(self) -> str:
        """The language to write to them in: the first they read."""
        return self.languages[0] if self.languages else "en"

    def can(self, minimum: Role) -> bool:
        """Whether this person holds at least `minimum` (a revoked person holds nothing)."""
        return self.role is not Role.REVOKED and self.role >= minimum


@dataclass(frozen=True, slots=True)
class Invite:
    """A one-time code that lets one person join with `role`."""

    code: str
    role: Role
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None
