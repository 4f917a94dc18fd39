"""Telegram delivers updates at least once: every kind of update Sereno handles, delivered
again (with its own update id, out of order, to the same process or to a restarted one /
another replica on the same database) must change nothing and say nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from sereno.bootstrap import Runtime, running_bot
from sereno.double import BotApiDouble, FakeUser
from sereno.verify.clock import ManualClock
from sereno.verify.incidents import Verdict
from sereno.verify.members import Role
from tests.bot.conftest import HOTLINE, Harness, seed_region, settings_for
from tests.bot.test_intake_bad_input import finish, skip_after_place
from tests.bot.test_intake_conversation import answer, start_in

ADMIN, ANA, BEN, ROSA, MARIA = 8_200_001, 8_200_002, 8_200_003, 8_200_004, 8_200_005
CHANNEL = -1_009_876_543
SENDS = ("sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup")
#: What must not change when an update comes again (volatile columns left out).
STATE = (
    "SELECT count(*) AS n FROM report",
    "SELECT id, status, claimed_by, verdict, escalated FROM incident ORDER BY id",
    "SELECT incident_id, verifier_id, verdict FROM verdict ORDER BY incident_id, verifier_id",
    "SELECT user_id, role, on_duty, languages FROM verifier ORDER BY user_id",
    "SELECT code, used_by FROM invite ORDER BY code",
    "SELECT chat_id, language, active FROM subscriber ORDER BY chat_id",
    "SELECT chat_id, neighborhood_id FROM subscription ORDER BY chat_id, neighborhood_id",
    "SELECT id, answer FROM follow_up ORDER BY id",
    "SELECT id, state, revision FROM alert ORDER BY id",
    "SELECT count(*) AS n FROM outbox",
    "SELECT neighborhood_id, chat_id FROM channel_link ORDER BY chat_id",
    "SELECT action, count(*) AS n FROM audit_event GROUP BY action ORDER BY action",
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": str(ADMIN)}


@dataclass
class Story:
    """The people of the scenario and every update they pushed, in order."""

    admin: FakeUser
    ana: FakeUser
    rosa: FakeUser
    maria: FakeUser
    channel_posts: list[int]

    @property
    def people(self) -> list[FakeUser]:
        return [self.admin, self.ana, self.rosa, self.maria]

    @property
    def updates(self) -> list[int]:
        return sorted([*self.channel_posts, *(u for p in self.people for u in p.update_ids)])


async def link_channel(double: BotApiDouble, admin: FakeUser) -> int:
    await admin.send_command("/linkchannel")
    await admin.press("Harbor View", message=await admin.wait_text("Which neighborhood"))
    command = str((await admin.wait_text("/linkchannel ")).text).splitlines()[-1]
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    double.set_chat_member(CHANNEL, double.bot_user["id"], "administrator")
    post = {
        "channel_post": {
            "message_id": 1,
            "date": int(time.time()),
            "text": command,
            "chat": {"id": CHANNEL, "type": "channel", "title": "Harbor View alerts"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 12}],
        }
    }
    update_id = double.push_update(post)
    await admin.wait_text("Linked Harbor View alerts")
    return update_id


async def join(admin: FakeUser, person: FakeUser) -> None:
    await admin.send_command("/invite verifier")
    code = str((await admin.wait_text("Invite code for a verifier")).text).split(": ")[1].split()[0]
    await person.send_command(f"/join {code}")
    await person.wait_text("Welcome to the desk as verifier")
    await person.send_command("/languages en")
    await person.wait_text("Languages: en")
    await person.send_command("/areas all")
    await person.wait_text("Areas: all")
    await person.send_command("/duty on")
    await person.wait_text("You are on duty")


async def report(rosa: FakeUser) -> None:
    await start_in(rosa, "en")
    await rosa.press("📝 Report activity")
    await answer(rosa, "What is happening?", "Skip")
    await rosa.wait_text("Where is it happening?")
    await rosa.share_location(34.0387, -118.2799)  # Harbor View
    await skip_after_place(rosa, details=False)
    await rosa.send_text("Two vans, agents in vests")
    await rosa.wait_text("Noted.")
    await finish(rosa)


async def play(runtime: Runtime, double: BotApiDouble) -> Story:
    """Every kind of update: commands, buttons, typed answers, a shared pin, a channel post."""
    admin, ana = double.user(ADMIN, "Admin", "en"), double.user(ANA, "Ana", "en")
    rosa, maria = double.user(ROSA, "Rosa", "en"), double.user(MARIA, "Maria", "en")
    channel_post = await link_channel(double, admin)
    await join(admin, ana)
    await maria.send_command("/subscribe")
    await maria.press("Harbor View", message=await maria.wait_text("Choose the neighborhoods"))
    await double.wait_for(lambda m: "✅ Harbor View" in str(m.reply_markup), chat_id=MARIA)
    await maria.send_command("/language")
    await maria.press("Español", message=await maria.wait_text("Choose your language"))
    await maria.wait_text("Su privacidad")
    await report(rosa)
    card = await ana.wait_text("Reports: 1", since_last_action=False)
    await ana.press("Claim", message=card)
    await ana.wait_text("Claimed until")
    await ana.press("💬 Needs more info")
    await ana.wait_text("Type the question")
    await ana.send_text("Did the vests say ICE?")
    await ana.wait_text("Question sent to 1 reporter")
    await rosa.press("Answer", message=await rosa.wait_text("Did the vests say ICE?", since_last_action=False))
    await rosa.wait_text("Type your answer")
    await rosa.send_text("Yes, ICE")
    await rosa.wait_text("Your answer was passed on")
    # a second verifier (made through the services) confirms, then the admin as well, by buttons
    services = runtime.services
    await services.roster.redeem((await services.roster.invite(None, Role.VERIFIER)).code, BEN, "Ben")
    [incident] = await services.desk.queue(BEN)
    await services.desk.claim(BEN, incident.id)
    await services.desk.decide(BEN, incident.id, Verdict.CONFIRMED, "seen")
    await admin.send_command("/queue")
    await admin.press("Claim", message=await admin.wait_text("Reports: 1"))
    await admin.wait_text("Claimed until")
    await admin.press("✅ Confirmed")
    await admin.wait_text("Send a short reason")
    await admin.send_text("Confirmed by phone")
    await admin.wait_text("Decided: Confirmed")
    await rosa.wait_text("Update on your report", since_last_action=False)
    await maria.wait_text("Alerta verificada", since_last_action=False)
    await admin.send_command("/alerts")
    await admin.press("Still active", message=await admin.wait_text("Harbor View: "))
    await admin.wait_text("messages queued")
    await double.wait_for(lambda m: "still going on" in (m.text or ""), chat_id=CHANNEL)
    await maria.wait_text("continúa", since_last_action=False)
    return Story(admin, ana, rosa, maria, [channel_post])


async def observed(runtime: Runtime, double: BotApiDouble) -> tuple[list[object], Counter[tuple[str, object]]]:
    """The database's state and how many sends and edits each chat got."""
    async with runtime.engine.connect() as conn:
        state: list[object] = [[dict(r) for r in (await conn.execute(text(sql))).mappings()] for sql in STATE]
    calls: Counter[tuple[str, object]] = Counter(
        (call.method, call.params.get("chat_id")) for method in SENDS for call in double.calls_to(method)
    )
    return state, calls


async def deliver_again(double: BotApiDouble, story: Story) -> None:
    """Every update of the story once more, newest first (out of order), then wait until
    each person's next message was answered (one person's updates are handled in order)."""
    for update_id in reversed(story.updates):
        double.redeliver(update_id)
    for update_id in story.updates:
        await double.wait_confirmed(update_id)
    await asyncio.sleep(0.3)  # the broadcaster and announcements run beside the updates
    for person in story.people:
        await person.send_command("/lawyer")
        await person.wait_text(HOTLINE)


def assert_same(
    state: list[object], again: list[object], calls: Counter[tuple[str, object]], calls_again: Counter[tuple[str, object]]
) -> None:
    changed = {sql: (before, after) for sql, before, after in zip(STATE, state, again, strict=True) if before != after}
    assert not changed, changed
    assert calls_again == calls, (calls_again - calls, calls - calls_again)


def without_sentinels(calls: Counter[tuple[str, object]], story: Story) -> Counter[tuple[str, object]]:
    return calls - Counter({("sendMessage", person.chat_id): 1 for person in story.people})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the guard is in memory here
async def test_every_update_delivered_again_changes_nothing_and_says_nothing(bot: Harness, double: BotApiDouble) -> None:
    story = await play(bot.runtime, double)
    await asyncio.sleep(0.3)
    state, calls = await observed(bot.runtime, double)
    await deliver_again(double, story)
    again, calls_again = await observed(bot.runtime, double)
    assert_same(state, again, calls, without_sentinels(calls_again, story))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    await seed_region(database_url)
    yield database_url


async def test_updates_delivered_again_to_a_restarted_bot_change_nothing(database: str, double: BotApiDouble) -> None:
    """A crash before the offset was confirmed, or a second replica behind the webhook, sees
    the same updates again."""
    settings = settings_for(double, database, admin_ids=str(ADMIN))
    clock = ManualClock()
    async with running_bot(settings, clock=clock, poll_timeout=1) as first:
        story = await play(first, double)
        await asyncio.sleep(0.3)
        state, calls = await observed(first, double)
    async with running_bot(settings, clock=clock, poll_timeout=1) as second:
        await deliver_again(double, story)
        again, calls_again = await observed(second, double)
    assert_same(state, again, calls, without_sentinels(calls_again, story))
