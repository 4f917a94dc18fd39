"""Repositories for alerts, the outbox, subscribers and channel links (`sereno.verify.ports`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sereno.storage.repositories import _incident
from sereno.storage.tables import (
    AlertRow,
    ChannelLinkRow,
    ChannelLinkTokenRow,
    IncidentRow,
    LeaderLeaseRow,
    OutboxRow,
    SubscriberRow,
    SubscriptionRow,
)
from sereno.verify.alerts import (
    Alert,
    AlertKind,
    AlertState,
    Delivery,
    DeliveryResult,
    MessageKind,
    OutboxMessage,
    Priority,
    TargetKind,
    UpdateKind,
)
from sereno.verify.audience import ChannelLink, LinkToken, Subscriber
from sereno.verify.incidents import Incident, IncidentStatus, Verdict
from sereno.verify.model import Activity, Tier

ALERT = AlertRow.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
SUBSCRIBER = SubscriberRow.__table__  # type: ignore[attr-defined]
SUBSCRIPTION = SubscriptionRow.__table__  # type: ignore[attr-defined]
CHANNEL = ChannelLinkRow.__table__  # type: ignore[attr-defined]
LINK_TOKEN = ChannelLinkTokenRow.__table__  # type: ignore[attr-defined]
INCIDENT = IncidentRow.__table__  # type: ignore[attr-defined]
LEASE = LeaderLeaseRow.__table__  # type: ignore[attr-defined]

#: Messages that reached (or may be reaching) their chat: later lifecycle messages follow them.
_DELIVERED_OR_COMING = (Delivery.PENDING.value, Delivery.SENDING.value, Delivery.SENT.value)


def _alert_values(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "incident_id": alert.incident_id,
        "kind": alert.kind.value,
        "neighborhood_id": alert.neighborhood_id,
        "areas": list(alert.areas),
        "activity": alert.activity.value if alert.activity else None,
        "tier": alert.tier.value,
        "verifiers": alert.verifiers,
        "reports": alert.reports,
        "verified_at": alert.verified_at,
        "expires_at": alert.expires_at,
        "state": alert.state.value,
        "revision": alert.revision,
        "last_update": alert.last_update.value if alert.last_update else None,
        "updated_at": alert.updated_at,
    }


def _alert(row: Any) -> Alert:
    return Alert(
        id=row.id,
        incident_id=row.incident_id,
        kind=AlertKind(row.kind),
        neighborhood_id=row.neighborhood_id,
        areas=tuple(row.areas),
        activity=Activity(row.activity) if row.activity else None,
        tier=Tier(row.tier),
        verifiers=row.verifiers,
        reports=row.reports,
        verified_at=row.verified_at,
        expires_at=row.expires_at,
        state=AlertState(row.state),
        revision=row.revision,
        last_update=UpdateKind(row.last_update) if row.last_update else None,
        updated_at=row.updated_at,
    )


class SqlAlertRepository:
    """Alerts in `alert`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, alert: Alert) -> None:
        await self._c.execute(insert(ALERT).values(**_alert_values(alert)))

    async def save(self, alert: Alert) -> None:
        values = _alert_values(alert)
        await self._c.execute(
            update(ALERT)
            .where(ALERT.c.id == alert.id)
            .values(
                state=values["state"],
                revision=values["revision"],
                last_update=values["last_update"],
                updated_at=values["updated_at"],
                expires_at=values["expires_at"],
            )
        )

    async def get(self, alert_id: str) -> Alert | None:
        row = (await self._c.execute(select(ALERT).where(ALERT.c.id == alert_id))).first()
        return _alert(row) if row is not None else None

    async def for_incident(self, incident_id: str, kind: AlertKind) -> Alert | None:
        row = (await self._c.execute(select(ALERT).where(ALERT.c.incident_id == incident_id, ALERT.c.kind == kind.value))).first()
        return _alert(row) if row is not None else None

    async def active(self) -> list[Alert]:
        rows = await self._c.execute(
            select(ALERT)
            .where(ALERT.c.state == AlertState.ACTIVE.value, ALERT.c.kind == AlertKind.ALERT.value)
            .order_by(ALERT.c.verified_at.desc())
        )
        return [_alert(r) for r in rows]

    async def due(self, now: datetime) -> list[Alert]:
        rows = await self._c.execute(select(ALERT).where(ALERT.c.state == AlertState.ACTIVE.value, ALERT.c.expires_at <= now))
        return [_alert(r) for r in rows]

    async def uncorrected_debunked(self, since: datetime) -> list[Incident]:
        corrected = select(ALERT.c.incident_id).where(ALERT.c.kind == AlertKind.CORRECTION.value)
        rows = (
            await self._c.execute(
                select(INCIDENT)
                .where(
                    INCIDENT.c.status == IncidentStatus.DECIDED.value,
                    INCIDENT.c.verdict == Verdict.DEBUNKED.value,
                    INCIDENT.c.decided_at >= since,
                    INCIDENT.c.id.not_in(corrected),
                    INCIDENT.c.drill.is_(None),
                )
                .order_by(INCIDENT.c.decided_at.desc())
            )
        ).mappings()
        return [_incident(r) for r in rows]

    async def verified_between(
        self,
        since: datetime | None,
        until: datetime | None,
        neighborhood_id: str | None = None,
        *,
        active_only: bool = False,
        limit: int | None = None,
    ) -> list[Alert]:
        query = select(ALERT).order_by(ALERT.c.verified_at.desc(), ALERT.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(ALERT.c.verified_at >= since)
        if until is not None:
            query = query.where(ALERT.c.verified_at < until)
        if neighborhood_id is not None:
            query = query.where(ALERT.c.neighborhood_id == neighborhood_id)
        if active_only:
            query = query.where(ALERT.c.state == AlertState.ACTIVE.value)
        return [_alert(r) for r in await self._c.execute(query)]


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        alert_id=row.alert_id,
        chat_id=row.chat_id,
        target=TargetKind(row.target),
        kind=MessageKind(row.kind),
        revision=row.revision,
        language=row.language,
        priority=Priority(row.priority),
        created_at=row.created_at,
        state=Delivery(row.state),
        attempts=row.attempts,
        not_before=row.not_before,
        message_id=row.message_id,
        error=row.error,
    )


#: Not delivered yet: pending, or claimed by a broadcaster and being sent.
_WAITING = OUTBOX.c.state.in_((Delivery.PENDING.value, Delivery.SENDING.value))
_SET_SENT = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("b_id"))
    .values(state=Delivery.SENT.value, message_id=bindparam("b_message_id"), sent_at=bindparam("b_at"), error=None)
)
_SET_RETRY = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("b_id"))
    .values(state=Delivery.PENDING.value, not_before=bindparam("b_retry_at"), error=bindparam("b_error"))
)
_SET_FAILED = (
    update(OUTBOX).where(OUTBOX.c.id == bindparam("b_id")).values(state=Delivery.FAILED.value, error=bindparam("b_error"))
)


class SqlOutboxRepository:
    """The transactional outbox in `outbox`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    @staticmethod
    def _fields(
        alert_id: str, target: TargetKind, kind: MessageKind, revision: int, priority: Priority, now: datetime
    ) -> dict[str, Any]:
        """The columns of new pending messages that are the same for every chat."""
        return {
            "alert_id": alert_id,
            "target": target.value,
            "kind": kind.value,
            "revision": revision,
            "priority": int(priority),
            "state": Delivery.PENDING.value,
            "attempts": 0,
            "created_at": now,
        }

    @staticmethod
    def _select(fields: dict[str, Any], chat: Any, language: Any) -> Select[Any]:
        """A SELECT of new messages: `fields` as constants, then each row's chat and language."""
        return select(*(literal(value, OUTBOX.c[name].type) for name, value in fields.items()), chat, language)

    async def _insert_from(self, fields: dict[str, Any], source: Select[Any]) -> int:
        """Insert one message per row of `source` (made by :meth:`_select`); how many."""
        result = await self._c.execute(insert(OUTBOX).from_select([*fields, "chat_id", "language"], source))
        return int(result.rowcount or 0)

    async def fan_out(
        self,
        alert_id: str,
        areas: Sequence[str],
        target: TargetKind,
        kind: MessageKind,
        revision: int,
        priority: Priority,
        now: datetime,
        post_languages: Callable[[str], Sequence[str]] = lambda linked: [linked],
    ) -> int:
        if not areas:
            return 0
        fields = self._fields(alert_id, target, kind, revision, priority, now)
        if target is TargetKind.CHANNEL:
            links = await self._c.execute(
                select(CHANNEL.c.chat_id, func.min(CHANNEL.c.language).label("language"))
                .where(CHANNEL.c.neighborhood_id.in_(list(areas)), CHANNEL.c.problem.is_(None))
                .group_by(CHANNEL.c.chat_id)
                .order_by(CHANNEL.c.chat_id)
            )
            messages = [
                {**fields, "chat_id": link.chat_id, "language": language}
                for link in links
                for language in post_languages(link.language)
            ]
            if messages:
                await self._c.execute(insert(OUTBOX), messages)
            return len(messages)
        source = (
            self._select(fields, SUBSCRIBER.c.chat_id, func.min(SUBSCRIBER.c.language))
            .select_from(SUBSCRIBER.join(SUBSCRIPTION, SUBSCRIPTION.c.chat_id == SUBSCRIBER.c.chat_id))
            .where(SUBSCRIPTION.c.neighborhood_id.in_(list(areas)), SUBSCRIBER.c.active.is_(True))
            .group_by(SUBSCRIBER.c.chat_id)
        )
        return await self._insert_from(fields, source)

    async def _follow_post(self, alert_id: str, target: TargetKind, kind: MessageKind, revision: int, now: datetime) -> int:
        """One message per post of the alert to `target` chats that was (or will be) sent,
        to the same chat in the same language, in the posts' order."""
        post = OUTBOX.alias("post")
        fields = self._fields(alert_id, target, kind, revision, Priority.LIFECYCLE, now)
        source = (
            self._select(fields, post.c.chat_id, post.c.language)
            .where(
                post.c.alert_id == alert_id,
                post.c.kind == MessageKind.POST.value,
                post.c.target == target.value,
                post.c.state.in_(_DELIVERED_OR_COMING),
            )
            .order_by(post.c.id)
        )
        if target is TargetKind.SUBSCRIBER:
            source = source.where(post.c.chat_id.in_(select(SUBSCRIBER.c.chat_id).where(SUBSCRIBER.c.active.is_(True))))
        return await self._insert_from(fields, source)

    async def fan_out_edits(self, alert_id: str, kind: MessageKind, revision: int, now: datetime) -> int:
        return await self._follow_post(alert_id, TargetKind.CHANNEL, kind, revision, now)

    async def fan_out_replies(self, alert_id: str, kind: MessageKind, revision: int, now: datetime) -> int:
        return await self._follow_post(alert_id, TargetKind.SUBSCRIBER, kind, revision, now)

    async def claim(self, limit: int, now: datetime, epoch: int | None = None) -> list[OutboxMessage]:
        due = (
            select(OUTBOX.c.id)
            .where(OUTBOX.c.state == Delivery.PENDING.value, or_(OUTBOX.c.not_before.is_(None), OUTBOX.c.not_before <= now))
            .order_by(OUTBOX.c.priority, OUTBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if epoch is not None:  # the database's clock decides whether the lease still holds
            due = due.where(exists().where(LEASE.c.epoch == epoch, LEASE.c.expires_at > func.now()))
        rows = await self._c.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(due.scalar_subquery()))
            .values(state=Delivery.SENDING.value, attempts=OUTBOX.c.attempts + 1)
            .returning(*OUTBOX.c)
        )
        return sorted((_message(r) for r in rows), key=lambda m: (m.priority, m.id or 0))

    async def finish(self, results: Sequence[DeliveryResult], now: datetime) -> None:
        sent = [
            {"b_id": r.message_id, "b_message_id": r.sent_message_id, "b_at": now} for r in results if r.state is Delivery.SENT
        ]
        retry = [
            {"b_id": r.message_id, "b_retry_at": r.retry_at, "b_error": r.error} for r in results if r.state is Delivery.PENDING
        ]
        failed = [{"b_id": r.message_id, "b_error": (r.error or "")[:300]} for r in results if r.state is Delivery.FAILED]
        for statement, rows in ((_SET_SENT, sent), (_SET_RETRY, retry), (_SET_FAILED, failed)):
            if rows:
                await self._c.execute(statement, rows)

    async def recover(self) -> int:
        result = await self._c.execute(
            update(OUTBOX).where(OUTBOX.c.state == Delivery.SENDING.value).values(state=Delivery.PENDING.value)
        )
        return int(result.rowcount or 0)

    async def recent_sends(self, since: datetime) -> list[tuple[int, datetime | None]]:
        sent = select(OUTBOX.c.chat_id, OUTBOX.c.sent_at).where(OUTBOX.c.state == Delivery.SENT.value, OUTBOX.c.sent_at >= since)
        sending = select(OUTBOX.c.chat_id, literal(None, OUTBOX.c.sent_at.type)).where(
            OUTBOX.c.state == Delivery.SENDING.value, OUTBOX.c.chat_id < 0
        )
        return [(int(r[0]), r[1]) for r in await self._c.execute(sent.union_all(sending))]

    async def post_of(self, alert_id: str, chat_id: int, language: str) -> OutboxMessage | None:
        row = (
            await self._c.execute(
                select(OUTBOX).where(
                    OUTBOX.c.alert_id == alert_id,
                    OUTBOX.c.chat_id == chat_id,
                    OUTBOX.c.language == language,
                    OUTBOX.c.kind == MessageKind.POST.value,
                )
            )
        ).first()
        return _message(row) if row is not None else None

    async def drop_pending(self, chat_id: int, error: str, now: datetime) -> int:
        result = await self._c.execute(
            update(OUTBOX)
            .where(OUTBOX.c.chat_id == chat_id, OUTBOX.c.state == Delivery.PENDING.value)
            .values(state=Delivery.FAILED.value, error=error[:300])
        )
        return int(result.rowcount or 0)

    async def backlog(self) -> int:
        return int((await self._c.execute(select(func.count()).select_from(OUTBOX).where(_WAITING))).scalar_one())

    async def oldest_waiting(self) -> datetime | None:
        # min() keeps the column's type: an aware UTC datetime on SQLite too
        return (await self._c.execute(select(func.min(OUTBOX.c.created_at)).where(_WAITING))).scalar_one()

    async def for_alert(self, alert_id: str) -> list[OutboxMessage]:
        rows = await self._c.execute(select(OUTBOX).where(OUTBOX.c.alert_id == alert_id).order_by(OUTBOX.c.id))
        return [_message(r) for r in rows]


class SqlSubscriberRepository:
    """Subscribers in `subscriber`, their neighborhoods in `subscription`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def get(self, chat_id: int) -> Subscriber | None:
        row = (await self._c.execute(select(SUBSCRIBER).where(SUBSCRIBER.c.chat_id == chat_id))).first()
        return Subscriber(row.chat_id, row.language, row.active, row.since) if row is not None else None

    async def save(self, subscriber: Subscriber) -> None:
        changed = await self._c.execute(
            update(SUBSCRIBER)
            .where(SUBSCRIBER.c.chat_id == subscriber.chat_id)
            .values(language=subscriber.language, active=subscriber.active)
        )
        if not changed.rowcount:
            await self._c.execute(
                insert(SUBSCRIBER).values(
                    chat_id=subscriber.chat_id, language=subscriber.language, active=subscriber.active, since=subscriber.since
                )
            )

    async def areas(self, chat_id: int) -> list[str]:
        rows = await self._c.execute(
            select(SUBSCRIPTION.c.neighborhood_id)
            .where(SUBSCRIPTION.c.chat_id == chat_id)
            .order_by(SUBSCRIPTION.c.neighborhood_id)
        )
        return [r.neighborhood_id for r in rows]

    async def add_area(self, chat_id: int, neighborhood_id: str) -> None:
        await self._c.execute(insert(SUBSCRIPTION).values(chat_id=chat_id, neighborhood_id=neighborhood_id))

    async def remove_area(self, chat_id: int, neighborhood_id: str) -> None:
        await self._c.execute(
            delete(SUBSCRIPTION).where(SUBSCRIPTION.c.chat_id == chat_id, SUBSCRIPTION.c.neighborhood_id == neighborhood_id)
        )

    async def forget(self, chat_id: int) -> None:
        await self._c.execute(delete(SUBSCRIPTION).where(SUBSCRIPTION.c.chat_id == chat_id))
        await self._c.execute(delete(SUBSCRIBER).where(SUBSCRIBER.c.chat_id == chat_id))

    async def set_language(self, chat_id: int, language: str) -> None:
        await self._c.execute(update(SUBSCRIBER).where(SUBSCRIBER.c.chat_id == chat_id).values(language=language))

    async def deactivate(self, chat_id: int) -> None:
        await self._c.execute(update(SUBSCRIBER).where(SUBSCRIBER.c.chat_id == chat_id).values(active=False))


def _link(row: Any) -> ChannelLink:
    return ChannelLink(row.neighborhood_id, row.chat_id, row.title, row.language, row.linked_at, row.problem)


class SqlChannelRepository:
    """Neighborhood channel links in `channel_link`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def save(self, link: ChannelLink) -> None:
        await self._c.execute(
            delete(CHANNEL).where(CHANNEL.c.neighborhood_id == link.neighborhood_id, CHANNEL.c.chat_id == link.chat_id)
        )
        await self._c.execute(
            insert(CHANNEL).values(
                neighborhood_id=link.neighborhood_id,
                chat_id=link.chat_id,
                title=link.title,
                language=link.language,
                linked_at=link.linked_at,
                problem=link.problem,
            )
        )

    async def flag(self, chat_id: int, problem: str) -> list[ChannelLink]:
        rows = (
            await self._c.execute(
                update(CHANNEL)
                .where(and_(CHANNEL.c.chat_id == chat_id, CHANNEL.c.problem.is_(None)))
                .values(problem=problem)
                .returning(*CHANNEL.c)
            )
        ).all()
        return [_link(r) for r in rows]

    async def add_token(self, token: LinkToken, now: datetime) -> None:
        await self._c.execute(delete(LINK_TOKEN).where(LINK_TOKEN.c.expires_at < now))
        await self._c.execute(
            insert(LINK_TOKEN).values(
                token_hash=token.token_hash,
                neighborhood_id=token.neighborhood_id,
                admin_id=token.admin_id,
                created_at=token.created_at,
                expires_at=token.expires_at,
                chat_id=token.chat_id,
                used_at=token.used_at,
            )
        )

    async def token(self, token_hash: str) -> LinkToken | None:
        row = (await self._c.execute(select(LINK_TOKEN).where(LINK_TOKEN.c.token_hash == token_hash))).first()
        return (
            None
            if row is None
            else LinkToken(
                row.token_hash, row.neighborhood_id, row.admin_id, row.created_at, row.expires_at, row.chat_id, row.used_at
            )
        )

    async def bind_token(self, token_hash: str, chat_id: int) -> bool:
        result = await self._c.execute(
            update(LINK_TOKEN)
            .where(LINK_TOKEN.c.token_hash == token_hash, or_(LINK_TOKEN.c.chat_id.is_(None), LINK_TOKEN.c.chat_id == chat_id))
            .values(chat_id=chat_id)
        )
        return result.rowcount == 1

    async def use_token(self, token_hash: str, chat_id: int, now: datetime) -> bool:
        result = await self._c.execute(
            update(LINK_TOKEN)
            .where(
                LINK_TOKEN.c.token_hash == token_hash,
                LINK_TOKEN.c.chat_id == chat_id,
                LINK_TOKEN.c.used_at.is_(None),
                LINK_TOKEN.c.expires_at > now,
            )
            .values(used_at=now)
        )
        return result.rowcount == 1
