"""Errors the domain raises: a refused action (:class:`Refusal`, with its reason) and the
ports' failures in domain terms (:class:`Conflict`, :class:`Unavailable`)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class RefusalReason(StrEnum):
    """Every reason the domain refuses an action for. The value is what the audit trail
    records (services that audit a refusal write it down before raising); the person is
    told in their language by the bot, which has one message per reason."""

    # the roster (joining, roles, one's own settings)
    NOT_ALLOWED = "not_allowed"  # the desk's and the roster's actions (the person lacks the role)
    UNKNOWN_INVITE = "unknown_invite"
    EXPIRED_INVITE = "expired_invite"
    USED_INVITE = "used_invite"
    ALREADY_MEMBER = "already_member"
    UNKNOWN_PERSON = "unknown_person"
    SELF = "self"  # one's own role
    REVOKED = "revoked"  # a revoked person is brought back by a coordinator, never by a code
    # the desk (claims, verdicts) and training
    UNKNOWN_INCIDENT = "unknown_incident"
    TAKEN = "taken"
    NOT_HOLDER = "not_holder"
    LEASE_EXPIRED = "lease_expired"
    DECIDED = "already_decided"
    OWN_REPORT = "own_report"
    ALREADY_VOTED = "already_voted"
    DRILL_QUESTION = "drill_question"  # a training drill has no reporter to ask
    TRAINEE_LIVE = "trainee_live"  # trainees practise on drills; live incidents are verifiers' work
    NO_SCENARIOS = "no_scenarios"  # practice asked for before any drill scenario was imported
    # coordinators' and admins' tools, each refused to the others with its own explanation
    ALERTS_NOT_ALLOWED = "alerts_not_allowed"
    STATS_NOT_ALLOWED = "stats_not_allowed"
    EXPORT_NOT_ALLOWED = "export_not_allowed"
    CHANNELS_NOT_ALLOWED = "channels_not_allowed"
    # the alert lifecycle
    UNKNOWN_ALERT = "unknown"  # the alert, or the incident to correct
    NOT_ACTIVE = "not_active"
    NOT_DEBUNKED = "not_debunked"
    ALREADY_CORRECTED = "already"
    DRILL_NOT_PUBLISHED = "drill"
    # channel link commands
    UNKNOWN_TOKEN = "unknown_token"
    EXPIRED_TOKEN = "expired_token"
    USED_TOKEN = "used_token"
    OTHER_CHAT = "other_chat"  # first posted in another chat: it works there only
    TOKEN_ADMIN_GONE = "not_admin"  # whoever asked for it is no longer an admin
    # reporters and subscribers
    RATE_LIMITED = "rate_limited"  # `retry_after`, `limit` reports per `window`
    TOO_MANY_AREAS = "too_many_areas"  # `limit` neighborhoods
    NOT_AN_IMAGE = "not_an_image"
    TOO_MANY_PIXELS = "too_many_pixels"  # `limit` pixels; the picture was not decoded
    # sending field verifiers (dispatch) and surge mode
    UNKNOWN_DISPATCH = "unknown_dispatch"
    DRILL_DISPATCH = "drill_dispatch"  # nobody is sent to a synthetic incident
    NO_FIELD_VERIFIER = "no_field_verifier"  # nobody on duty, opted in and free can be asked
    DISPATCH_PENDING = "dispatch_pending"  # someone is being asked about this incident already
    OFFER_GONE = "offer_gone"  # the ask is not (or no longer) this person's
    BAD_ETA = "bad_eta"
    NOT_IN_FIELD = "not_in_field"  # only the person who went reports and checks in
    DISPATCH_ENDED = "dispatch_ended"
    ALREADY_REPORTED = "already_reported"  # one on-site report per dispatch
    NOT_FIELD_VERIFIER = "not_field_verifier"  # sharing a location before opting in
    UNKNOWN_NEIGHBORHOOD = "unknown_neighborhood"
    CHANGED_MEANWHILE = "changed_meanwhile"  # changed by someone else at the same moment, again and again


class Refusal(Exception):
    """An action the domain will not do; nothing of it changed (and, where the service
    audits refusals, the refusal has been audited). `reason` says why; the optional details
    are facts the person may be told (how long to wait, the limit that was reached, over
    which window) — never text: wording is the bot's."""

    def __init__(
        self,
        reason: RefusalReason,
        *,
        retry_after: timedelta | None = None,
        limit: int | None = None,
        window: timedelta | None = None,
    ) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_after = retry_after
        self.limit = limit
        self.window = window

    def __repr__(self) -> str:
        details = {"retry_after": self.retry_after, "limit": self.limit, "window": self.window}
        shown = "".join(f", {name}={value!r}" for name, value in details.items() if value is not None)
        return f"Refusal({self.reason!s}{shown})"


class Conflict(Exception):
    """A write clashed with a uniqueness rule (same draft submitted twice, a reference code
    already taken); nothing of the transaction was kept."""


class Unavailable(Exception):
    """The database could not be reached, or the connection dropped mid-way: nothing of the
    transaction was kept (a commit cut short may still have landed, so a retry must be
    idempotent — intake's is, by draft). Usually passes within moments."""
