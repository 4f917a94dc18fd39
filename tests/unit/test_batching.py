"""Group commit: what is asked for while a flush runs goes in the next flush, together."""

from __future__ import annotations

import asyncio

import pytest

from sereno.batching import GroupCommit


async def test_items_asked_for_during_a_flush_go_together_in_the_next_and_each_caller_gets_its_result() -> None:
    flushed: list[list[str]] = []
    release = asyncio.Event()

    async def flush(items: list[str]) -> int:
        flushed.append(items)
        await release.wait()
        return len(flushed)

    commit: GroupCommit[str, int] = GroupCommit(flush)
    first = asyncio.create_task(commit.submit("a"))
    await asyncio.sleep(0)
    later = [asyncio.create_task(commit.submit(item)) for item in ("b", "c")]
    await asyncio.sleep(0)
    release.set()
    assert await first == 1 and [await t for t in later] == [2, 2]
    assert flushed == [["a"], ["b", "c"]]


async def test_a_failed_flush_fails_every_caller_of_its_batch_and_the_next_batch_goes_on() -> None:
    async def flush(items: list[str]) -> None:
        if "bad" in items:
            raise ConnectionResetError("the database went away")

    commit: GroupCommit[str, None] = GroupCommit(flush)
    with pytest.raises(ConnectionResetError):
        await commit.submit("bad")
    assert await commit.submit("good") is None
