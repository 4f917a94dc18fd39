"""The audit trail: every claim, release, expiry, verdict, merge, role change and refused
action, with who did it. Actors are verifier ids (known to coordinators) or, for
reporters, their pseudonyms — never a reporter's Telegram id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
