from datetime import timedelta

import pytest

from sereno.verify.clock import ManualClock
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.members import Role
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService, normalise_invite_code
from tests.fakes import MemoryUnitOfWorkFactory

KEY = b"unit-test-key-0123456789abcdef"
ADMIN, COORD, ANA, BEN = 1, 2, 3, 4


async def roster() -> tuple[RosterService, MemoryUnitOfWorkFactory, ManualClock]:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock()
    service = RosterService(uow, clock, Pseudonymizer(KEY))
    await service.add_admin(ADMIN, "Admin")
    code = (await service.invite(ADMIN, Role.COORDINATOR)).code
    await service.redeem(code, COORD, "Coordinator")
    return service, uow, clock


async def test_an_invite_is_redeemed_once_for_its_role() -> None:
    service, uow, _ = await roster()
    invite = await service.invite(COORD, Role.VERIFIER)
    person = await service.redeem(invite.code.lower().replace("-", " "), ANA, "Ana")
    assert person.role is Role.VERIFIER and person.pseudonym == Pseudonymizer(KEY)(ANA)
    with pytest.raises(Refusal) as again:
        await service.redeem(invite.code, BEN, "Ben")
    assert again.value.reason is RefusalReason.USED_INVITE
    assert (await service.get(BEN)) is None
    assert uow.store.audit[-1].action == "refused.invite.redeem"


async def test_invites_expire_after_72_hours_and_unknown_codes_are_refused() -> None:
    service, _, clock = await roster()
    invite = await service.invite(COORD, Role.TRAINEE)
    clock.advance(timedelta(hours=72))
    with pytest.raises(Refusal) as late:
        await service.redeem(invite.code, ANA, "Ana")
    assert late.value.reason is RefusalReason.EXPIRED_INVITE
    with pytest.raises(Refusal) as unknown:
        await service.redeem("ZZZZ-ZZZZ", ANA, "Ana")
    assert unknown.value.reason is RefusalReason.UNKNOWN_INVITE


async def test_coordinators_invite_verifiers_but_not_coordinators_and_verifiers_invite_nobody() -> None:
    service, uow, _ = await roster()
    await service.redeem((await service.invite(COORD, Role.VERIFIER)).code, ANA, "Ana")
    with pytest.raises(Refusal):
        await service.invite(COORD, Role.COORDINATOR)
    with pytest.raises(Refusal):
        await service.invite(ANA, Role.TRAINEE)
    refused = [e for e in uow.store.audit if e.action == "refused.invite"]
    assert [e.actor for e in refused] == [f"verifier:{COORD}", f"verifier:{ANA}"]


async def test_role_changes_follow_authority() -> None:
    service, _, _ = await roster()
    await service.redeem((await service.invite(COORD, Role.TRAINEE)).code, ANA, "Ana")
    assert (await service.set_role(COORD, ANA, Role.VERIFIER)).role is Role.VERIFIER
    with pytest.raises(Refusal):
        await service.set_role(COORD, ANA, Role.COORDINATOR)  # only an admin grants that
    with pytest.raises(Refusal):
        await service.set_role(COORD, ADMIN, Role.REVOKED)  # nobody below acts on an admin
    with pytest.raises(Refusal) as own:
        await service.set_role(ADMIN, ADMIN, Role.TRAINEE)
    assert own.value.reason is RefusalReason.SELF
    revoked = await service.set_role(ADMIN, ANA, Role.REVOKED)
    assert not revoked.can(Role.TRAINEE)
    with pytest.raises(Refusal):
        await service.require(ANA, Role.TRAINEE, "queue")


async def test_duty_languages_and_areas_are_ones_own() -> None:
    service, uow, _ = await roster()
    await service.redeem((await service.invite(COORD, Role.VERIFIER)).code, ANA, "Ana")
    person = await service.update(ANA, on_duty=True, languages=("en", "es"), neighborhoods=("las-palmas",))
    assert person.on_duty and person.languages == ("en", "es") and person.neighborhoods == ("las-palmas",)
    assert uow.store.audit[-1].action == "duty.on"
    with pytest.raises(Refusal):
        await service.update(BEN, on_duty=True)


def test_typed_invite_codes_are_normalised() -> None:
    assert normalise_invite_code(" k7m2 qx9p ") == "K7M2-QX9P"


async def test_a_revoked_person_cannot_come_back_with_an_invite_code() -> None:
    service, uow, _ = await roster()
    await service.redeem((await service.invite(COORD, Role.VERIFIER)).code, ANA, "Ana")
    await service.set_role(COORD, ANA, Role.REVOKED)
    fresh = await service.invite(COORD, Role.VERIFIER)
    with pytest.raises(Refusal) as back:
        await service.redeem(fresh.code, ANA, "Ana")
    assert back.value.reason is RefusalReason.REVOKED
    assert (await service.get(ANA)).role is Role.REVOKED  # type: ignore[union-attr]
    assert uow.store.invites[fresh.code].used_by is None  # the code is still someone else's to use
    assert uow.store.audit[-1].action == "refused.invite.redeem" and uow.store.audit[-1].subject == "revoked"
    assert (await service.set_role(COORD, ANA, Role.VERIFIER)).role is Role.VERIFIER  # a coordinator's decision


async def test_revoking_someone_voids_the_invites_they_issued() -> None:
    service, uow, clock = await roster()
    kept = await service.invite(COORD, Role.VERIFIER)
    await service.redeem(kept.code, ANA, "Ana")
    issued = [await service.invite(COORD, Role.VERIFIER), await service.invite(COORD, Role.TRAINEE)]
    await service.set_role(ADMIN, COORD, Role.REVOKED)
    for invite in issued:
        with pytest.raises(Refusal) as void:
            await service.redeem(invite.code, BEN, "Ben")
        assert void.value.reason is RefusalReason.EXPIRED_INVITE
    with pytest.raises(Refusal) as own:
        await service.redeem(issued[0].code, COORD, "Coordinator")  # nor by the revoked issuer themselves
    assert own.value.reason is RefusalReason.REVOKED
    assert (await service.get(ANA)).role is Role.VERIFIER  # type: ignore[union-attr]  # who already joined stays
    assert [e.detail for e in uow.store.audit if e.action == "invite.void"] == [{"invites": 2}]


async def test_a_demoted_admin_s_coordinator_invites_are_void_but_their_verifier_invites_stand() -> None:
    service, _, _ = await roster()
    await service.add_admin(ANA, "Ana")
    coordinator = await service.invite(ANA, Role.COORDINATOR)
    verifier = await service.invite(ANA, Role.VERIFIER)
    await service.set_role(ADMIN, ANA, Role.COORDINATOR)
    with pytest.raises(Refusal) as void:
        await service.redeem(coordinator.code, BEN, "Ben")
    assert void.value.reason is RefusalReason.EXPIRED_INVITE
    assert (await service.redeem(verifier.code, BEN, "Ben")).role is Role.VERIFIER
