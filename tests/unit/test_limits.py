"""The send gate: Telegram's sliding windows kept on our side, counting a send from its
start until its answer plus the window."""

from __future__ import annotations

from verify.limits import INF, SendGate, SendLimits

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
