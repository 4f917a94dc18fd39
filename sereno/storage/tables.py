"""SQLModel tables. Report rows carry a keyed pseudonym, never a Telegram id; the chat id
needed to answer a reporter lives in `report_contact`, apart, sealed and short-lived."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from sereno.storage.types import UTCDateTime


class NeighborhoodRow(SQLModel, table=True):
    """A neighborhood with its GeoJSON geometry, aliases and ZIP codes."""

    __tablename__ = "neighborhood"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    zips: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    geometry: dict = Field(sa_column=Column(JSON, nullable=False))


class IncidentRow(SQLModel, table=True):
    """An event on the verification desk; reports of one event point to it."""

    __tablename__ = "incident"
    __table_args__ = (
        # covers the nearest-incident lookup: answered from the index alone, no table row read
        Index(
            "ix_incident_open_cell_covering",
            "status",
            "cell",
            "last_seen_at",
            "lat",
            "lon",
            "activity",
            "tier",
            "neighborhood_id",
            "id",
        ),
        Index("ix_incident_open_area", "status", "neighborhood_id", "last_seen_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    status: str = Field(max_length=16)
    tier: str = Field(max_length=16)
    activity: str | None = Field(default=None, max_length=32)
    neighborhood_id: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None
    cell: str | None = Field(default=None, max_length=16)
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    report_count: int = 1
    claimed_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    verdict: str | None = Field(default=None, max_length=16)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    escalated: bool = False
    pinged: int = 0
    first_claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    drill: str | None = Field(default=None, max_length=16)  # training | live; never published


class MergeSuggestionRow(SQLModel, table=True):
    """A possible duplicate shown to verifiers with Merge / Keep separate buttons."""

    __tablename__ = "merge_suggestion"

    incident_id: str = Field(sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True))
    other_incident_id: str = Field(sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True))
    distance_m: float | None = None
    status: str = Field(default="open", max_length=16)


class ReportRow(SQLModel, table=True):
    """A submitted report (raw; purged after the retention window)."""

    __tablename__ = "report"
    __table_args__ = (Index("ix_report_reporter_created", "reporter", "created_at"),)

    id: str = Field(primary_key=True, max_length=36)
    ref_code: str = Field(max_length=16, unique=True)
    draft_id: str = Field(max_length=36, unique=True)
    reporter: str = Field(max_length=64)
    language: str = Field(max_length=8)
    tier: str = Field(max_length=16)
    status: str = Field(default="new", max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    activity: str | None = Field(default=None, max_length=32)
    time_seen: str | None = Field(default=None, max_length=32)
    agents: str | None = Field(default=None, max_length=16)
    vehicles: str | None = Field(default=None, max_length=16)
    uniform: str | None = Field(default=None, max_length=32)
    details: str | None = Field(default=None, max_length=1000)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    place_text: str | None = Field(default=None, max_length=200)
    neighborhood_id: str | None = Field(default=None, max_length=64)
    incident_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("incident.id", name="fk_report_incident_id"), nullable=True, index=True),
    )


class ReportContactRow(SQLModel, table=True):
    """How to answer the reporter of one report; deleted after use or at expiry. The chat
    id is sealed (see `sereno.storage.sealing`): the table names no one without the HMAC key."""

    __tablename__ = "report_contact"

    report_id: str = Field(sa_column=Column(String(36), ForeignKey("report.id", ondelete="CASCADE"), primary_key=True))
    sealed_chat: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    language: str = Field(max_length=8)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class OwedOutcomeRow(SQLModel, table=True):
    """A message owed to a reporter: the outcome of their report's incident, or a follow-up
    question (`follow_up_id`). Written in the verdict's transaction, deleted once told; it
    goes with the contact. `claimed_at`: when whoever is telling it took it (a claim older
    than the grace period is taken over by the sweep)."""

    __tablename__ = "owed_outcome"

    id: str = Field(primary_key=True, max_length=36)  # the follow-up's id for a question, else the report's
    report_id: str = Field(
        sa_column=Column(String(36), ForeignKey("report_contact.report_id", ondelete="CASCADE"), nullable=False, index=True)
    )
    follow_up_id: str | None = Field(
        default=None, sa_column=Column(String(36), ForeignKey("follow_up.id", ondelete="CASCADE"), nullable=True)
    )
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class MediaRow(SQLModel, table=True):
    """A photo re-encoded without metadata, held for a draft, then for its report."""

    __tablename__ = "media"

    id: str = Field(primary_key=True, max_length=36)
    draft_id: str = Field(max_length=36, index=True)
    report_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("report.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    mime_type: str = Field(max_length=32)
    width: int
    height: int
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class BotStateRow(SQLModel, table=True):
    """Conversation states and per-person bot data (language, unfinished draft).

    The Telegram key (user id, or (chat id, user id) for a conversation) is sealed with a
    key derived from the HMAC key and addressed by a keyed digest, so the table names nobody.
    `scope` is "user" or "conversation:<name>".
    """

    __tablename__ = "bot_state"

    scope: str = Field(primary_key=True, max_length=64)
    key_digest: str = Field(primary_key=True, max_length=64)
    sealed_key: str = Field(sa_column=Column(String(512), nullable=False))
    value: dict = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class UpdateInboxRow(SQLModel, table=True):
    """A webhook update accepted (answered 200) and not yet handled, or handled lately.

    `body` is the raw update sealed with a key derived from the HMAC key (it names the
    sender), and is cleared once handled; the row stays a day so that Telegram delivering
    the same update again, to any replica, is recognised. `lease_until`: until then the
    replica that accepted (or replayed) it is handling it; past it, any replica replays it.
    """

    __tablename__ = "update_inbox"
    __table_args__ = (Index("ix_update_inbox_pending", "handled_at", "lease_until"),)

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    body: str | None = Field(default=None, sa_column=Column(String(), nullable=True))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lease_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    handled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class VerifierRow(SQLModel, table=True):
    """A desk member. Verifiers consent to being known to coordinators, so the Telegram id
    is kept here (never in report tables); `pseudonym` matches their reports' pseudonym."""

    __tablename__ = "verifier"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    role: int
    name: str = Field(max_length=64)
    pseudonym: str = Field(max_length=64, index=True)
    joined_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    neighborhoods: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    on_duty: bool = False


class InviteRow(SQLModel, table=True):
    """A one-time invite code."""

    __tablename__ = "invite"

    code: str = Field(primary_key=True, max_length=16)
    role: int
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class AuditEventRow(SQLModel, table=True):
    """One entry of the append-only audit trail."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str = Field(max_length=80)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=80)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class VerdictRow(SQLModel, table=True):
    """One person's verdict on an incident (trainees' are kept but do not count): one per
    person per incident, held by a unique index so a vote sent twice at once is stored once."""

    __tablename__ = "verdict"
    __table_args__ = (Index("uq_verdict_incident_verifier", "incident_id", "verifier_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(
        sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    verifier_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    verdict: str = Field(max_length=16)
    reason: str = Field(max_length=500)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    counts: bool


class FollowUpRow(SQLModel, table=True):
    """A verifier's question to a reporter and the answer (raw; purged with the report)."""

    __tablename__ = "follow_up"

    id: str = Field(primary_key=True, max_length=36)
    report_id: str = Field(sa_column=Column(String(36), ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True))
    question: str = Field(max_length=500)
    asked_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    asked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    answer: str | None = Field(default=None, max_length=1000)
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class AlertRow(SQLModel, table=True):
    """A public alert (or rumor correction) about one incident: neighborhoods, activity,
    counts and times only — never a person."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", name="uq_alert_incident_kind"),
        Index("ix_alert_state_expires", "state", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    incident_id: str = Field(sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=16)
    neighborhood_id: str | None = Field(default=None, max_length=64)
    areas: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    activity: str | None = Field(default=None, max_length=32)
    tier: str = Field(max_length=16)
    verifiers: int
    reports: int
    verified_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    state: str = Field(max_length=16)
    revision: int = 0
    last_update: str | None = Field(default=None, max_length=32)
    updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class OutboxRow(SQLModel, table=True):
    """One message to one chat about one alert in one language ("en+es": a combined channel
    post), written in the transaction that decided to send it; the broadcaster claims, sends
    and records it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("alert_id", "chat_id", "kind", "revision", "language", name="uq_outbox_message"),
        Index("ix_outbox_due", "state", "priority", "id"),
        Index("ix_outbox_chat_state", "chat_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(sa_column=Column(String(36), ForeignKey("alert.id", ondelete="CASCADE"), nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    target: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    revision: int = 0
    language: str = Field(max_length=64)  # a code, or codes joined by "+" (all of them fit)
    priority: int
    state: str = Field(max_length=16)
    attempts: int = 0
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    not_before: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    error: str | None = Field(default=None, max_length=300)


class SubscriberRow(SQLModel, table=True):
    """A chat that asked for alerts (nothing links it to any report)."""

    __tablename__ = "subscriber"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    language: str = Field(max_length=16)
    active: bool = True
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SubscriptionRow(SQLModel, table=True):
    """A neighborhood a subscriber follows."""

    __tablename__ = "subscription"

    chat_id: int = Field(sa_column=Column(BigInteger, ForeignKey("subscriber.chat_id", ondelete="CASCADE"), primary_key=True))
    neighborhood_id: str = Field(
        sa_column=Column(String(64), ForeignKey("neighborhood.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class ChannelLinkRow(SQLModel, table=True):
    """A neighborhood's channel or group; `problem` is set when posting there failed."""

    __tablename__ = "channel_link"

    neighborhood_id: str = Field(
        sa_column=Column(String(64), ForeignKey("neighborhood.id", ondelete="CASCADE"), primary_key=True)
    )
    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False, index=True))
    title: str = Field(max_length=200)
    language: str = Field(max_length=64)  # its posts' language, or languages joined by "+"
    linked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    problem: str | None = Field(default=None, max_length=300)


class ChannelLinkTokenRow(SQLModel, table=True):
    """A pending /linkchannel command: only the SHA-256 of its random token is kept, with the
    admin who asked, the neighborhood, its expiry, the chat it was first posted in (it works
    there only) and when it was used (once)."""

    __tablename__ = "channel_link_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    neighborhood_id: str = Field(sa_column=Column(String(64), ForeignKey("neighborhood.id", ondelete="CASCADE"), nullable=False))
    admin_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class DrillScenarioRow(SQLModel, table=True):
    """A training scenario (synthetic reports and the true answer), as imported."""

    __tablename__ = "drill_scenario"

    id: str = Field(primary_key=True, max_length=64)
    document: dict = Field(sa_column=Column(JSON, nullable=False))
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DrillRunRow(SQLModel, table=True):
    """One drill worked on the desk: a training drill for one person, or a live drill a
    coordinator injected; finished when its incident is decided."""

    __tablename__ = "drill_run"
    __table_args__ = (Index("ix_drill_run_person", "kind", "person"),)

    id: str = Field(primary_key=True, max_length=36)
    scenario_id: str = Field(max_length=64)
    incident_id: str = Field(
        sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    kind: str = Field(max_length=16)
    person: int = Field(sa_column=Column(BigInteger, nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    first_claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    verdict: str | None = Field(default=None, max_length=16)
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class CertificationProposalRow(SQLModel, table=True):
    """A trainee whose drill record met the bar was proposed to coordinators (once)."""

    __tablename__ = "certification_proposal"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    proposed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LeaderLeaseRow(SQLModel, table=True):
    """Which replica leads (runs the jobs and the broadcaster) and until when, by the
    database's clock: the holder renews it every few seconds; once `expires_at` has passed,
    another replica may take it, and `epoch` (the fencing token) counts every taking. Used
    on PostgreSQL only (a SQLite database has one process, which always leads)."""

    __tablename__ = "leader_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    epoch: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# ── issue 18: dispatch, surge ──────────────────────────────────────────────────────────


class FieldVerifierRow(SQLModel, table=True):
    """A desk member who opted in to be sent to look. `lat`/`lon`: a location they shared,
    kept until `point_until` or until their dispatch ends; after that only the neighborhood."""

    __tablename__ = "field_verifier"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    opted_in_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    neighborhood_id: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    point_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))


class DispatchRow(SQLModel, table=True):
    """Sending a field verifier to an incident. `offers`: each ask as
    {"person", "at", "answer", "answered_at"}; `offered_to`/`person` mirror the open ask
    and who went; `next_due`: when the next timed step is due (the job's index); `version`
    makes every write conditional. At most one open ask per incident (a partial unique index)."""

    __tablename__ = "dispatch"
    __table_args__ = (
        Index("ix_dispatch_next_due", "next_due"),
        Index(
            "uq_dispatch_one_ask",
            "incident_id",
            unique=True,
            sqlite_where=text("state = 'offered'"),
            postgresql_where=text("state = 'offered'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    incident_id: str = Field(
        sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    dispatcher: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    state: str = Field(max_length=16, index=True)
    offers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    offered_to: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    person: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    eta_minutes: int | None = None
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    on_site_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    check_in_due: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    check_in_stage: str | None = Field(default=None, max_length=16)
    check_in_stage_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    help_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    missed_check_ins: int = 0
    escalations: int = 0
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    ended_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    end_reason: str | None = Field(default=None, max_length=16)
    next_due: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    version: int = 0


class OnSiteReportRow(SQLModel, table=True):
    """A field verifier's report from the scene, one per dispatch (raw text: redacted after
    the retention window)."""

    __tablename__ = "on_site_report"

    id: str = Field(primary_key=True, max_length=36)
    dispatch_id: str = Field(
        sa_column=Column(String(36), ForeignKey("dispatch.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    incident_id: str = Field(
        sa_column=Column(String(36), ForeignKey("incident.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    person: int = Field(sa_column=Column(BigInteger, nullable=False))
    finding: str = Field(max_length=16)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    agents: str | None = Field(default=None, max_length=16)
    vehicles: str | None = Field(default=None, max_length=16)
    activity: str | None = Field(default=None, max_length=32)
    place_text: str | None = Field(default=None, max_length=200)
    uniform: str | None = Field(default=None, max_length=32)
    time_seen: str | None = Field(default=None, max_length=32)
    equipment: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    direction: str | None = Field(default=None, max_length=16)
    text: str | None = Field(default=None, max_length=500)
    photo_id: str | None = Field(default=None, max_length=64)
    verdict: str | None = Field(default=None, max_length=16)
    counts: bool = False
    refusal: str | None = Field(default=None, max_length=32)


class DispatchNoticeRow(SQLModel, table=True):
    """A message a dispatch owes one person, written with the change that caused it and
    deleted once sent; `claimed_at`: when its sender took it (older than the grace: taken over)."""

    __tablename__ = "dispatch_notice"

    id: str = Field(primary_key=True, max_length=36)
    dispatch_id: str = Field(
        sa_column=Column(String(36), ForeignKey("dispatch.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=16)
    recipient: int = Field(sa_column=Column(BigInteger, nullable=False))
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SurgeOverrideRow(SQLModel, table=True):
    """A coordinator's /surge on or off for a neighborhood ("*": everywhere)."""

    __tablename__ = "surge_override"

    neighborhood_id: str = Field(primary_key=True, max_length=64)
    on: bool
    set_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    set_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class SurgeSummaryRow(SQLModel, table=True):
    """When the last surge summary went to coordinators (one row, "coordinators")."""

    __tablename__ = "surge_summary"

    name: str = Field(primary_key=True, max_length=32)
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
