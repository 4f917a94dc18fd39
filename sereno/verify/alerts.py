"""Verified alerts and rumor corrections, and the outbox messages that carry them.

An incident confirmed by the desk becomes an :class:`Alert`; a debunked one that spread
(enough reports, or a coordinator's flag) becomes a correction. Every message about an
alert — the first post, updates, the all-clear, the expiry note — is an
:class:`OutboxMessage` written in the same transaction as the change it announces, one per
target chat and language, unique per (alert, chat, kind, revision, language); the
broadcaster sends them later. Nothing here names a person: an alert holds the
neighborhood, the activity, counts and times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from sereno.verify.model import Activity, Tier


class AlertKind(StrEnum):
    ALERT = "alert"  # a confirmed incident
    CORRECTION = "correction"  # a debunked rumor


class AlertState(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"  # a coordinator posted the all-clear
    EXPIRED = "expired"


class UpdateKind(StrEnum):
    """What a coordinator can say about an active alert (fixed wording, translated)."""

    STILL_ACTIVE = "still_active"
    ALL_CLEAR = "all_clear"


class MessageKind(StrEnum):
    """What an outbox message says. Channels get the post once and then see it edited;
    subscribers get the post, then each update and the all-clear as replies."""

    POST = "post"
    UPDATE = "update"
    CLEAR = "clear"
    EXPIRE = "expire"


class TargetKind(StrEnum):
    CHANNEL = "channel"
    SUBSCRIBER = "subscriber"


class ChannelPosts(StrEnum):
    """How a channel linked in several languages (its link's language "en+es") carries an
    alert: one post with every language, or one post per language, each edited in its own."""

    COMBINED = "combined"
    PER_LANGUAGE = "per_language"

    def languages(self, linked: str, language_for: Callable[[str], str]) -> list[str]:
        """The language of each post a channel linked in `linked` gets: `linked` itself
        ("en+es", one combined post), or each language an alert goes out in for its
        languages (`language_for`), once, in order."""
        if self is ChannelPosts.COMBINED:
            return [linked]
        return list(dict.fromkeys(language_for(code) for code in linked.split("+")))


class Priority(IntEnum):
    """Lower goes first: urgent alerts, then other posts, then lifecycle edits."""

    URGENT = 0
    ROUTINE = 1
    LIFECYCLE = 2


class Delivery(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # will not be retried (blocked, chat gone, edit target missing)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Alert rules of a deployment (all configurable)."""

    lifetime: timedelta = timedelta(hours=4)
    #: A debunked incident with at least this many reports gets a public correction.
    correction_reports: int = 3
    #: Neighborhood ids whose alerts also go to their adjacent neighborhoods ("*": all).
    alert_adjacent: frozenset[str] = frozenset()
    #: One combined post per channel, or one post per language of the channel.
    channel_posts: ChannelPosts = ChannelPosts.COMBINED
    #: The language an alert goes out in to someone reading a language: theirs, unless the
    #: deployment sends only some languages (see `sereno.bootstrap.alert_policy`).
    language_for: Callable[[str], str] = lambda language: language

    def post_languages(self, linked: str) -> list[str]:
        """The language of each post a channel linked in `linked` ("en+es") gets."""
        return self.channel_posts.languages(linked, self.language_for)

    def reaches_adjacent(self, neighborhood_id: str) -> bool:
        return "*" in self.alert_adjacent or neighborhood_id in self.alert_adjacent


@dataclass(frozen=True, slots=True)
class Alert:
    """What the public is told about one incident. `areas` are the neighborhoods it goes to
    (its own first); `revision` counts updates; `verifiers` is how many verifiers agreed."""

    id: str
    incident_id: str
    kind: AlertKind
    neighborhood_id: str | None
    areas: tuple[str, ...]
    activity: Activity | None
    tier: Tier
    verifiers: int
    reports: int
    verified_at: datetime
    expires_at: datetime
    state: AlertState = AlertState.ACTIVE
    revision: int = 0
    last_update: UpdateKind | None = None
    updated_at: datetime | None = None

    @property
    def urgent(self) -> bool:
        return self.kind is AlertKind.ALERT and self.tier is Tier.URGENT

    def updated(self, update: UpdateKind, now: datetime, lifetime: timedelta) -> Alert:
        """This alert after a coordinator's update (the all-clear ends it; "still active"
        keeps it alive for another lifetime)."""
        if update is UpdateKind.ALL_CLEAR:
            return replace(self, state=AlertState.CLEARED, revision=self.revision + 1, last_update=update, updated_at=now)
        return replace(
            self, revision=self.revision + 1, last_update=update, updated_at=now, expires_at=max(self.expires_at, now + lifetime)
        )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to one chat in one `language` ("en+es" for a combined channel post),
    waiting for (or done by) the broadcaster. `revision` tells updates apart; the message a
    lifecycle message edits or replies to is the post to the same chat in the same language,
    resolved by the broadcaster from that post's own delivery."""

    id: int | None
    alert_id: str
    chat_id: int
    target: TargetKind
    kind: MessageKind
    revision: int
    language: str
    priority: Priority
    created_at: datetime
    state: Delivery = Delivery.PENDING
    attempts: int = 0
    not_before: datetime | None = None
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one claimed message: sent (with the message id), to retry at
    `retry_at`, or failed for good (`error` says why)."""

    message_id: int
    state: Delivery
    sent_message_id: int | None = None
    retry_at: datetime | None = None
    error: str | None = None
