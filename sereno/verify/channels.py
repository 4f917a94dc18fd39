"""Neighborhood channels: Telegram channels or groups where a neighborhood's alerts are posted.

Only admins link them; the bot layer checks first that the bot may post there. A link the
broadcaster finds broken (chat gone, rights removed) is flagged for admins, not dropped.

Telegram does not say who posts in a channel, so an admin links one with a command: they ask
for it in private (`request_link`) and post it in the channel. The command carries a random
token and nothing else — no id, no neighborhood. Only the token's SHA-256 is stored, with
the admin who asked, the neighborhood and an expiry (30 minutes). The first chat the command
is posted in binds it (`check_link`: posted anywhere else it is refused), and linking uses
it up (`link_with`). Every refusal is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from sereno.verify.audience import ChannelLink, LinkToken
from sereno.verify.audit import AuditEvent, refused_actor, verifier_actor
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.members import Role
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory

LINK_TOKEN_TTL = timedelta(minutes=30)


def hash_token(token: str) -> str:
    """What is stored of a token (it is random, so a plain digest is enough)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


class ChannelService:
    """Links neighborhood channels (audited; admins only)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, pseudonymize: Callable[[int], str] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._pseudonymize = pseudonymize

    async def link(self, by: int | None, neighborhood_id: str, chat_id: int, title: str, language: str) -> ChannelLink:
        """Link a channel to a neighborhood (`by` None: the command line). Relinking clears
        a flagged problem. Raises :class:`Refusal` unless `by` is an admin."""
        async with self._uow() as uow:
            if by is not None:
                await self._require_admin(uow, by, {"chat": chat_id})
            link = await self._save(uow, by, neighborhood_id, chat_id, title, language)
            await uow.commit()
        return link

    async def request_link(self, by: int, neighborhood_id: str) -> str:
        """A new one-use token for an admin to post in the channel to link to
        `neighborhood_id` (expired tokens are forgotten meanwhile). Raises :class:`Refusal` unless
        `by` is an admin."""
        now = self._clock.now()
        token = secrets.token_urlsafe(18)
        async with self._uow() as uow:
            await self._require_admin(uow, by, {"neighborhood": neighborhood_id})
            await uow.channels.add_token(LinkToken(hash_token(token), neighborhood_id, by, now, now + LINK_TOKEN_TTL), now)
            await uow.audit.add(AuditEvent(now, verifier_actor(by), "channel.token", neighborhood_id, {}))
            await uow.commit()
        return token

    async def check_link(self, token: str, chat_id: int, poster: int | None) -> LinkToken:
        """The pending link behind a token posted in `chat_id` (by `poster`, when Telegram
        says who), binding the token to that chat the first time. Raises :class:`Refusal` (audited)
        when it is unknown, expired, used, bound to another chat, or its admin is one no more."""
        now = self._clock.now()
        async with self._uow() as uow:
            pending = await uow.channels.token(hash_token(token))
            reason = None
            if pending is None:
                reason = RefusalReason.UNKNOWN_TOKEN
            elif pending.used_at is not None:
                reason = RefusalReason.USED_TOKEN
            elif pending.expires_at <= now:
                reason = RefusalReason.EXPIRED_TOKEN
            elif pending.chat_id not in (None, chat_id) or not await uow.channels.bind_token(pending.token_hash, chat_id):
                reason = RefusalReason.OTHER_CHAT
            elif not await self._is_admin(uow, pending.admin_id):
                reason = RefusalReason.TOKEN_ADMIN_GONE
            if reason is not None:
                await self._refuse_token(uow, poster, chat_id, reason)
            assert pending is not None
            await uow.commit()
        return LinkToken(
            pending.token_hash, pending.neighborhood_id, pending.admin_id, pending.created_at, pending.expires_at, chat_id
        )

    async def link_with(self, token: str, chat_id: int, poster: int | None, title: str, language: str) -> ChannelLink:
        """Use the token (checked by `check_link` in this chat) to link the chat, in the name
        of the admin who asked for it; once only. Raises :class:`Refusal` (audited)."""
        now = self._clock.now()
        async with self._uow() as uow:
            pending = await uow.channels.token(hash_token(token))
            if pending is None or not await uow.channels.use_token(pending.token_hash, chat_id, now):
                await self._refuse_token(uow, poster, chat_id, RefusalReason.USED_TOKEN)
            assert pending is not None
            if not await self._is_admin(uow, pending.admin_id):
                await self._refuse_token(uow, poster, chat_id, RefusalReason.TOKEN_ADMIN_GONE)
            link = await self._save(uow, pending.admin_id, pending.neighborhood_id, chat_id, title, language)
            await uow.commit()
        return link

    async def _save(
        self, uow: UnitOfWork, by: int | None, neighborhood_id: str, chat_id: int, title: str, language: str
    ) -> ChannelLink:
        now = self._clock.now()
        link = ChannelLink(neighborhood_id, chat_id, title[:200], language, now)
        await uow.channels.save(link)
        await uow.audit.add(AuditEvent(now, verifier_actor(by), "channel.link", neighborhood_id, {"chat": chat_id}))
        return link

    @staticmethod
    async def _is_admin(uow: UnitOfWork, user_id: int) -> bool:
        person = await uow.verifiers.get(user_id)
        return person is not None and person.can(Role.ADMIN)

    async def _require_admin(self, uow: UnitOfWork, by: int, detail: dict[str, object]) -> None:
        if not await self._is_admin(uow, by):
            await uow.rollback()
            await uow.audit.add(
                AuditEvent(
                    self._clock.now(),
                    await refused_actor(uow, by, self._pseudonymize),
                    "refused.channel.link",
                    RefusalReason.CHANNELS_NOT_ALLOWED.value,
                    dict(detail),
                )
            )
            await uow.commit()
            raise Refusal(RefusalReason.CHANNELS_NOT_ALLOWED)

    async def _refuse_token(self, uow: UnitOfWork, poster: int | None, chat_id: int, reason: RefusalReason) -> None:
        """Record the refusal in its own transaction (nothing else of this one is kept). In
        a channel nobody is named (Telegram does not say who posted)."""
        await uow.rollback()
        actor = "outsider" if poster is None else await refused_actor(uow, poster, self._pseudonymize)
        await uow.audit.add(AuditEvent(self._clock.now(), actor, "refused.channel.link_token", reason.value, {"chat": chat_id}))
        await uow.commit()
        raise Refusal(reason)
