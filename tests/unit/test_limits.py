"""The send gate: Telegram's sliding windows kept on our side, counting a send from its
start until its answer plus the window."""

from __future__ import annotations

from sereno.verify.limits import INF, SendGate, SendLimits, replica_rate

USER, OTHER, CHANNEL = 1, 2, -100


def test_a_private_chat_gets_one_message_a_second_counted_from_the_answer() -> None:
    gate = SendGate(SendLimits(overall_per_second=1000))
    assert gate.ready_at(USER, 0.0) == 0.0
    gate.start(USER)
    assert gate.ready_at(USER, 0.5) == INF  # its answer has not come: it may still be stamped later
    assert gate.ready_at(OTHER, 0.5) == 0.5
    gate.finish(USER, 0.7)
    assert gate.ready_at(USER, 0.8) == 1.7
    assert gate.ready_at(USER, 1.7) == 1.7


def test_replies_skip_the_private_limit_but_not_the_overall_one() -> None:
    gate = SendGate(SendLimits(overall_per_second=2))
    gate.start(USER)
    gate.finish(USER, 0.1)
    assert gate.ready_at(USER, 0.2) == 1.1
    assert gate.ready_at(USER, 0.2, private_limit=False) == 0.5  # paced: one every half second
    gate.start(USER)
    gate.finish(USER, 0.6)
    assert gate.ready_at(OTHER, 0.7) == 1.1  # two sends in the last second: wait for the first to age out


def test_a_channel_gets_twenty_messages_a_minute() -> None:
    gate = SendGate(SendLimits(overall_per_second=1000))
    for n in range(20):
        assert gate.ready_at(CHANNEL, n * 0.01) == n * 0.01
        gate.start(CHANNEL)
        gate.finish(CHANNEL, n * 0.01 + 0.005)
    assert gate.ready_at(CHANNEL, 1.0) == 60.005


def test_sends_are_paced_within_the_second() -> None:
    gate = SendGate(SendLimits(overall_per_second=100))
    started = 0
    for chat in range(1, 200):
        if gate.ready_at(chat, 0.0) > 0.0:
            break
        gate.start(chat)
        started += 1
    assert started == 10  # a tenth of a second's budget at once, then one every 10 ms
    assert abs(gate.ready_at(500, 0.0) - 0.01) < 1e-9


def test_a_429_pauses_everything_and_in_flight_is_capped() -> None:
    gate = SendGate(SendLimits(overall_per_second=1000, max_in_flight=2))
    gate.pause(5.0)
    assert gate.ready_at(USER, 1.0) == 5.0
    gate.start(USER)
    gate.start(OTHER)
    assert gate.ready_at(3, 6.0) == INF
    gate.finish(USER, 6.0)
    assert gate.ready_at(3, 6.0) == 6.0


def test_idle_chats_are_forgotten() -> None:
    gate = SendGate(SendLimits())
    gate.start(USER)
    gate.finish(USER, 0.0)
    gate.forget_idle(0.5)
    assert gate.ready_at(USER, 0.5) == 1.0  # still in its window: kept
    gate.forget_idle(2.0)
    assert gate.ready_at(USER, 2.0) == 2.0


def test_a_seeded_gate_counts_what_another_process_just_sent() -> None:
    gate = SendGate(SendLimits(overall_per_second=2, group_per_minute=2))
    gate.seed([(CHANNEL, 50.0), (CHANNEL, 70.0), (USER, 99.5), (OTHER, 30.0)], now=100.0)
    assert gate.chat_ready_at(CHANNEL, 100.0) == 50.0 + 60.0  # the minute holds two: wait for the first to age out
    assert gate.chat_ready_at(USER, 100.0) == 100.5
    assert gate.chat_ready_at(OTHER, 100.0) == 100.0  # a second long past: nothing left of it
    assert gate.ready_at(-200, 100.0) == 100.0  # one send in the last second, of two allowed


def test_a_replica_that_does_not_lead_keeps_a_share_and_the_leader_the_rest() -> None:
    assert replica_rate(30, 5, replicas=3, leading=False) == 5
    assert replica_rate(30, 5, replicas=3, leading=True) == 20
    assert replica_rate(30, 5, replicas=1, leading=True) == 30
    gate = SendGate(SendLimits(overall_per_second=30))
    gate.set_overall_rate(replica_rate(30, 5, replicas=2, leading=False))
    started = 0
    while gate.ready_at(started + 1, 0.0, private_limit=False) <= 0.0:
        gate.start(started + 1)
        gate.finish(started + 1, 0.0)
        started += 1
    assert started == 1  # paced: a tenth of a second's worth at a time, at least one
    assert gate.overall_rate == 5
