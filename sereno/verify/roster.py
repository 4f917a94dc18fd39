"""The roster: who may verify, coordinate and administer, and how people join it.

Roles are ordered trainee < verifier < coordinator < admin; a revoked person holds no role.
Every check happens on the server, for every command and every button press.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

from sereno.verify.audit import AuditEvent, refused_actor, verifier_actor
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.members import Invite, Role, Verifier
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.refcodes import ALPHABET

INVITE_TTL = timedelta(hours=72)


def may_invite(person: Verifier, role: Role) -> bool:
    """Whether `person` may issue an invite for `role`: coordinators invite trainees and
    verifiers, admins anyone (nobody invites to "revoked")."""
    return role is not Role.REVOKED and person.can(Role.COORDINATOR) and (role <= Role.VERIFIER or person.can(Role.ADMIN))


def new_invite_code() -> str:
    """Eight characters from the unambiguous alphabet, as two groups: `K7M2-QX9P`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_invite_code(text: str) -> str:
    """The canonical form of a typed code (case and separators ignored)."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


class RosterService:
    """Joins, roles, duty and coverage — with every refusal audited."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, pseudonymize: Pseudonymizer) -> None:
        self._uow = uow
        self._clock = clock
        self._pseudonymize = pseudonymize

    async def get(self, user_id: int) -> Verifier | None:
        """The person's roster entry, if any."""
        async with self._uow() as uow:
            return await uow.verifiers.get(user_id)

    async def require(
        self, user_id: int, minimum: Role, action: str, reason: RefusalReason = RefusalReason.NOT_ALLOWED
    ) -> Verifier:
        """The person, if they hold at least `minimum`; otherwise the refusal is audited and
        :class:`Refusal` raised with `reason` (a tool that explains itself to those who may
        not use it names its own, such as `EXPORT_NOT_ALLOWED`)."""
        async with self._uow() as uow:
            person = await uow.verifiers.get(user_id)
            if person is None or not person.can(minimum):
                await self._refuse(uow, user_id, action, reason, {"needs": minimum.label})
            assert person is not None
            return person

    async def add_admin(self, user_id: int, name: str = "admin", by: int | None = None) -> Verifier:
        """Make `user_id` an admin (the command line, or the first admins from settings)."""
        async with self._uow() as uow:
            existing = await uow.verifiers.get(user_id)
            person = replace(existing, role=Role.ADMIN) if existing else self._new(user_id, name, Role.ADMIN)
            await uow.verifiers.save(person)
            await self._audit(uow, by, "role.admin", f"verifier:{user_id}", {})
            await uow.commit()
        return person

    async def invite(self, by: int | None, role: Role) -> Invite:
        """A one-time code for `role`. Coordinators invite trainees and verifiers; admins (and
        the command line, `by=None`) may also invite coordinators and admins."""
        now = self._clock.now()
        async with self._uow() as uow:
            if by is not None:
                actor = await uow.verifiers.get(by)
                if actor is None or not may_invite(actor, role):
                    await self._refuse(uow, by, "invite", RefusalReason.NOT_ALLOWED, {"role": role.label})
            invite = Invite(new_invite_code(), role, by, now, now + INVITE_TTL)
            await uow.invites.add(invite)
            await self._audit(uow, by, "invite.create", f"invite:{invite.code[:4]}", {"role": role.label})
            await uow.commit()
        return invite

    async def redeem(self, code: str, user_id: int, name: str) -> Verifier:
        """Join with a code: single use, within its 72 hours (or until its issuer loses the
        right to issue it), and only by someone not on the roster: a member is already on
        the desk, and a revoked person comes back only by a coordinator's decision in
        /roster (told before anything about the code, so they learn nothing from it)."""
        now = self._clock.now()
        code = normalise_invite_code(code)
        async with self._uow() as uow:
            invite = await uow.invites.get(code)
            existing = await uow.verifiers.get(user_id)
            problem = None
            if existing is not None:
                problem = RefusalReason.REVOKED if existing.role is Role.REVOKED else RefusalReason.ALREADY_MEMBER
            elif invite is None:
                problem = RefusalReason.UNKNOWN_INVITE
            elif invite.used_by is not None:
                problem = RefusalReason.USED_INVITE
            elif invite.expires_at <= now:
                problem = RefusalReason.EXPIRED_INVITE
            if problem is None and not await uow.invites.use(code, user_id, now):
                problem = RefusalReason.USED_INVITE  # taken by someone else a moment ago
            if problem is not None:
                await self._refuse(uow, user_id, "invite.redeem", problem, {})
            assert invite is not None
            person = self._new(user_id, name, invite.role)
            await uow.verifiers.save(person)
            await self._audit(uow, user_id, "invite.redeem", f"invite:{code[:4]}", {"role": invite.role.label})
            await uow.commit()
        return person

    async def set_role(self, by: int, target: int, role: Role) -> Verifier:
        """Promote, demote or revoke. A coordinator acts on people below coordinator and may
        grant up to verifier; an admin acts on anyone but themselves. The unused invites the
        person issued that their new role could not issue (all of them, when revoked) are
        void from now on."""
        async with self._uow() as uow:
            actor = await uow.verifiers.get(by)
            if actor is None or not actor.can(Role.COORDINATOR):
                # checked first: someone off the desk must not learn who is on the roster
                await self._refuse(uow, by, "role.change", RefusalReason.NOT_ALLOWED, {"target": target, "role": role.label})
            person = await uow.verifiers.get(target)
            if person is None:
                await self._refuse(uow, by, "role.change", RefusalReason.UNKNOWN_PERSON, {"target": target})
            assert person is not None
            if by == target:
                await self._refuse(uow, by, "role.change", RefusalReason.SELF, {})
            admin = actor is not None and actor.can(Role.ADMIN)
            coordinator_ok = (
                actor is not None and actor.can(Role.COORDINATOR) and person.role < Role.COORDINATOR and role <= Role.VERIFIER
            )
            if not (admin or coordinator_ok):
                await self._refuse(uow, by, "role.change", RefusalReason.NOT_ALLOWED, {"target": target, "role": role.label})
            changed = replace(person, role=role, on_duty=person.on_duty and role is not Role.REVOKED)
            await uow.verifiers.save(changed)
            await self._audit(uow, by, f"role.{role.label}", f"verifier:{target}", {"from": person.role.label})
            beyond = tuple(r for r in Role if r is not Role.REVOKED and not may_invite(changed, r))
            voided = await uow.invites.void_issued_by(target, beyond, self._clock.now()) if beyond else 0
            if voided:
                await self._audit(uow, by, "invite.void", f"verifier:{target}", {"invites": voided})
            await uow.commit()
        return changed

    async def update(
        self,
        user_id: int,
        *,
        on_duty: bool | None = None,
        languages: tuple[str, ...] | None = None,
        neighborhoods: tuple[str, ...] | None = None,
    ) -> Verifier:
        """Change one's own duty status, languages or home neighborhoods (trainees and up)."""
        async with self._uow() as uow:
            person = await uow.verifiers.get(user_id)
            if person is None or not person.can(Role.TRAINEE):
                await self._refuse(uow, user_id, "profile.update", RefusalReason.NOT_ALLOWED, {})
            assert person is not None
            changed = replace(
                person,
                on_duty=person.on_duty if on_duty is None else on_duty,
                languages=person.languages if languages is None else languages,
                neighborhoods=person.neighborhoods if neighborhoods is None else neighborhoods,
            )
            await uow.verifiers.save(changed)
            if on_duty is not None and on_duty != person.on_duty:
                await self._audit(uow, user_id, "duty.on" if on_duty else "duty.off", f"verifier:{user_id}", {})
            await uow.commit()
        return changed

    async def members(self) -> list[Verifier]:
        """Everyone on the roster, revoked included (for coordinators' /roster)."""
        async with self._uow() as uow:
            return await uow.verifiers.all()

    def _new(self, user_id: int, name: str, role: Role) -> Verifier:
        return Verifier(user_id, role, name[:64], self._pseudonymize(user_id), self._clock.now())

    async def _audit(self, uow: UnitOfWork, by: int | None, action: str, subject: str, detail: dict[str, object]) -> None:
        await uow.audit.add(AuditEvent(self._clock.now(), verifier_actor(by), action, subject, dict(detail)))

    async def _refuse(
        self, uow: UnitOfWork, by: int | None, action: str, reason: RefusalReason, detail: dict[str, object]
    ) -> None:
        """Record the refusal in its own transaction (nothing else of this one is kept)."""
        await uow.rollback()
        actor = await refused_actor(uow, by, self._pseudonymize)
        await uow.audit.add(AuditEvent(self._clock.now(), actor, f"refused.{action}", reason.value, dict(detail)))
        await uow.commit()
        raise Refusal(reason)
