"""The in-memory unit of work keeps up with the port: every repository the `UnitOfWork`
protocol declares is there, with every method, as a coroutine taking the same parameters."""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import get_type_hints

import pytest

from sereno.verify.alerts import MessageKind, Priority, TargetKind
from sereno.verify.errors import Conflict
from sereno.verify.incidents import Verdict
from sereno.verify.ports import UnitOfWork
from tests.fakes import MemoryUnitOfWorkFactory
from tests.unit.memory_world import MemoryWorld


def port_repositories() -> dict[str, type]:
    """Each repository attribute of the `UnitOfWork` port → the protocol it returns."""
    return {
        name: get_type_hints(member.fget)["return"]
        for name, member in inspect.getmembers(UnitOfWork)
        if isinstance(member, property)
    }


def port_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }


def shape(signature: inspect.Signature) -> list[tuple[str, inspect._ParameterKind, bool]]:
    """Parameter names, kinds and whether each has a default (`self` left out)."""
    return [(p.name, p.kind, p.default is not p.empty) for p in signature.parameters.values() if p.name != "self"]


def test_the_port_declares_the_eighteen_repositories() -> None:
    repositories = port_repositories()
    assert len(repositories) >= 18  # more may come; each needs its fake (next test)
    assert all(port_methods(protocol) for protocol in repositories.values())


@pytest.mark.parametrize("name", sorted(port_repositories()))
async def test_the_memory_unit_of_work_implements_every_port_repository(name: str) -> None:
    async with MemoryUnitOfWorkFactory()() as uow:
        assert hasattr(uow, name), f"the in-memory unit of work has no {name!r} repository"
        fake = getattr(uow, name)
    for method, signature in port_methods(port_repositories()[name]).items():
        implementation = getattr(fake, method, None)
        assert implementation is not None, f"{name}.{method} is missing from the fake"
        assert inspect.iscoroutinefunction(implementation), f"{name}.{method} is not async"
        assert shape(inspect.signature(implementation)) == shape(signature), f"{name}.{method} takes other parameters"


async def test_the_fake_refuses_what_the_tables_refuse() -> None:
    """Unique keys and references hold in memory as in the database, so a service that
    breaks one fails its unit tests too."""
    world = await MemoryWorld.create()
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    alert = await world.alert_for(incident)
    assert alert is not None
    async with world.uow() as uow:
        with pytest.raises(Conflict):  # one alert per incident and kind
            await uow.alerts.add(replace(alert, id="another"))
        with pytest.raises(Conflict):  # unique (alert, chat, kind, revision, language)
            await uow.outbox.fan_out(
                alert.id, alert.areas, TargetKind.SUBSCRIBER, MessageKind.POST, 0, Priority.ROUTINE, world.clock.now()
            )
        with pytest.raises(Conflict):  # a neighborhood the deployment does not have
            await uow.subscribers.add_area(1, "atlantis")
        with pytest.raises(Conflict):  # the chat is already following it
            await uow.subscribers.add_area(1, "harbor-view")
        with pytest.raises(Conflict):  # not a subscriber
            await uow.subscribers.add_area(2, "riverside")
    assert len(world.uow.store.outbox) == 1 and world.uow.store.subscriptions == [(1, "harbor-view")]
