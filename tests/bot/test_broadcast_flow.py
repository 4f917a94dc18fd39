"""Broadcasting through the Bot API double, on SQLite and PostgreSQL: linking channels,
subscribing, fan-out in each language, lifecycle, expiry, rumor control, and Telegram's
limits (429, 403, a lost channel)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import Counter
from datetime import timedelta

import pytest

from sereno.double import BotApiDouble, FakeUser, SentMessage
from sereno.verify.desk import Outcome
from sereno.verify.incidents import Verdict
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from tests.bot.conftest import HOTLINE, Harness

ADMIN, ANA, BEN, COORD = 8_100_001, 8_100_002, 8_100_003, 8_100_004
CHANNEL = -1_001_234_567
HARBOR = GeoPoint(34.0387, -118.2799)  # the centre of Harbor View in the demo region


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": str(ADMIN)}


async def staff(bot: Harness) -> None:
    roster = bot.runtime.services.roster
    for user, role in ((ANA, Role.VERIFIER), (BEN, Role.VERIFIER), (COORD, Role.COORDINATOR)):
        await roster.redeem((await roster.invite(None, role)).code, user, str(user))


async def incident(bot: Harness, reports: int = 1, details: str = "Two vans, agents in vests") -> str:
    services = bot.runtime.services
    incident_id = ""
    for n in range(reports):
        draft = ReportDraft(
            f"{time.monotonic_ns():032x}"[-32:],
            activity=Activity.PRESENCE,
            point=HARBOR,
            neighborhood_id="harbor-view",
            details=details,
        )
        submitted = await services.intake.submit(draft, 500 + n, 500 + n, "en")
        assert submitted.incident is not None
        incident_id = submitted.incident.id
    return incident_id


async def decide(bot: Harness, incident_id: str, verdict: Verdict) -> None:
    desk = bot.runtime.services.desk
    for person in (ANA, BEN):
        await desk.claim(person, incident_id)
        result = await desk.decide(person, incident_id, verdict, "checked on site")
    assert result.outcome is Outcome.DECIDED
    bot.runtime.services.broadcast_queued()


async def link_channel(bot: Harness, double: BotApiDouble, chat_id: int = CHANNEL) -> None:
    double.add_chat(chat_id, type="channel", title="Harbor View alerts")
    double.set_chat_member(chat_id, double.bot_user["id"], "administrator")
    await bot.runtime.services.channels.link(None, "harbor-view", chat_id, "Harbor View alerts", "en")


async def subscriber(bot: Harness, double: BotApiDouble, user_id: int, language: str) -> FakeUser:
    await bot.runtime.services.subscriptions.subscribe(user_id, language, ["harbor-view"])
    return double.user(user_id, f"Sub {user_id}", language)


async def messages_to(double: BotApiDouble, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
    """Wait until `chat_id` holds `count` messages from the bot; return them (oldest first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = double.sent_messages(chat_id)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{chat_id} got {len(double.sent_messages(chat_id))} messages, expected {count}")


async def test_linking_a_channel_needs_an_admin_and_the_bots_rights(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    verifier = double.user(ANA, "Ana", "en")
    await verifier.send_command("/linkchannel")
    await verifier.wait_text("Only admins can link channels")
    admin = double.user(ADMIN, "Admin", "en")
    await admin.send_command("/linkchannel")
    await admin.wait_text("Which neighborhood")
    await admin.press("Harbor View")
    command = (await admin.wait_text("/linkchannel ")).text.splitlines()[-1]
    assert re.fullmatch(r"/linkchannel [A-Za-z0-9_-]{24}", command)
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    post = {
        "channel_post": {
            "message_id": 1,
            "date": int(time.time()),
            "text": command,
            "chat": {"id": CHANNEL, "type": "channel", "title": "Harbor View alerts"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 12}],
        }
    }
    double.push_update(post)
    missing = await admin.wait_text("I cannot post alerts in Harbor View alerts")
    assert "be an administrator, post messages, edit messages" in missing.text
    double.set_chat_member(CHANNEL, double.bot_user["id"], "administrator", can_edit_messages=False)
    double.push_update(post)
    await double.wait_for(lambda m: "I need to: edit messages." in (m.text or ""), chat_id=ADMIN)
    double.set_chat_member(CHANNEL, double.bot_user["id"], "administrator")
    double.push_update(post)
    await admin.wait_text("Linked Harbor View alerts to Harbor View")
    assert "receive verified alerts for Harbor View" in (await messages_to(double, CHANNEL, 1))[-1].text
    forged = {**post, "channel_post": {**post["channel_post"], "text": command[:-3] + "abc"}}
    double.push_update(forged)
    await double.wait_for(lambda m: "not valid" in (m.text or ""), chat_id=CHANNEL)
    assert await bot.rows("SELECT neighborhood_id, chat_id, problem FROM channel_link") == [
        {"neighborhood_id": "harbor-view", "chat_id": CHANNEL, "problem": None}
    ]


def channel_post(chat_id: int, title: str, text: str, message_id: int = 1) -> dict[str, object]:
    return {
        "channel_post": {
            "message_id": message_id,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": chat_id, "type": "channel", "title": title},
            "entities": [{"type": "bot_command", "offset": 0, "length": 12}],
        }
    }


async def link_command(admin: FakeUser) -> str:
    await admin.send_command("/linkchannel")
    await admin.press("Harbor View", message=await admin.wait_text("Which neighborhood"))
    return (await admin.wait_text("/linkchannel ")).text.splitlines()[-1]


async def test_a_link_command_names_nobody_works_once_in_the_first_chat_it_is_posted_in_and_is_then_deleted(
    bot: Harness, double: BotApiDouble
) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    command = await link_command(admin)
    token = command.split()[1]
    assert str(ADMIN) not in command and "harbor" not in command
    [stored] = await bot.rows("SELECT token_hash, admin_id FROM channel_link_token")
    assert stored == {"token_hash": hashlib.sha256(token.encode()).hexdigest(), "admin_id": ADMIN}
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    double.push_update(channel_post(CHANNEL, "Harbor View alerts", command))  # the bot cannot post there yet
    await admin.wait_text("I cannot post alerts in Harbor View alerts")
    elsewhere = -1_009_999_999  # someone copies the command from the channel into a chat of theirs
    double.add_chat(elsewhere, type="channel", title="Copycat")
    double.set_chat_member(elsewhere, double.bot_user["id"], "administrator")
    double.push_update(channel_post(elsewhere, "Copycat", command))
    await double.wait_for(lambda m: "posted in another chat first" in (m.text or ""), chat_id=elsewhere)
    double.set_chat_member(CHANNEL, double.bot_user["id"], "administrator")
    double.push_update(channel_post(CHANNEL, "Harbor View alerts", command))
    await admin.wait_text("Linked Harbor View alerts to Harbor View")
    deleted = await double.wait_for_call("deleteMessage")
    assert deleted.ok and (deleted.params["chat_id"], deleted.params["message_id"]) == (CHANNEL, 1)
    double.push_update(channel_post(CHANNEL, "Harbor View alerts", command, message_id=5))
    await double.wait_for(lambda m: "already used" in (m.text or ""), chat_id=CHANNEL)
    assert await bot.rows("SELECT chat_id FROM channel_link") == [{"chat_id": CHANNEL}]
    refused = await bot.rows("SELECT actor, subject FROM audit_event WHERE action = 'refused.channel.link_token' ORDER BY id")
    assert refused == [{"actor": "outsider", "subject": "other_chat"}, {"actor": "outsider", "subject": "used_token"}]


async def test_when_the_bot_cannot_delete_the_link_command_the_admin_is_asked_to(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    command = await link_command(admin)
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    double.set_chat_member(CHANNEL, double.bot_user["id"], "administrator", can_delete_messages=False)
    double.push_update(channel_post(CHANNEL, "Harbor View alerts", command))
    await admin.wait_text("Linked Harbor View alerts to Harbor View")
    await admin.wait_text("please delete it there yourself")
    assert not (await double.wait_for_call("deleteMessage")).ok


async def test_subscribing_with_buttons_and_a_shared_location(bot: Harness, double: BotApiDouble) -> None:
    maria = double.user(7_000_001, "Maria", "en")
    await maria.send_command("/subscribe")
    await maria.wait_text("Choose the neighborhoods")
    await maria.press("Harbor View")
    await double.wait_for(lambda m: "✅ Harbor View" in str(m.reply_markup), chat_id=maria.chat_id)
    await maria.press("📍 Use my location")
    await maria.wait_text("Share a location")
    await maria.share_location(34.0564, -118.2568)  # Las Palmas
    await maria.wait_text("Added Las Palmas")
    await maria.wait_text("You get verified alerts for")
    await maria.send_command("/mysubscriptions")
    listed = await maria.wait_text("You get verified alerts for")
    assert "Harbor View" in listed.text and "Las Palmas" in listed.text
    await maria.press("Remove Harbor View")
    await maria.wait_text("You get verified alerts for: Las Palmas.")
    await maria.press_data("s:t:00000000", listed)  # a forged neighborhood
    assert "out of date" in str((await maria.wait_callback_answer()).get("text"))
    await maria.send_command("/unsubscribe")
    await maria.wait_text("You get verified alerts for: Las Palmas.")
    await maria.press("Stop all alerts")
    await maria.wait_text("You will get no more alerts")
    assert await bot.rows("SELECT * FROM subscriber") == [] and await bot.rows("SELECT * FROM subscription") == []


async def test_a_confirmed_incident_reaches_the_channel_and_subscribers_once_in_their_language(
    bot: Harness, double: BotApiDouble
) -> None:
    await staff(bot)
    await link_channel(bot, double)
    english, spanish = await subscriber(bot, double, 7_000_001, "en"), await subscriber(bot, double, 7_000_002, "es")
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    [post] = await messages_to(double, CHANNEL, 1)
    [en] = await messages_to(double, english.chat_id, 1)
    [es] = await messages_to(double, spanish.chat_id, 1)
    for text in (post.text, en.text):
        assert text is not None and "Verified alert: Harbor View" in text and "by 2 trained verifiers" in text
        assert HOTLINE in text and "slide any warrant under it" in text and "signed by a judge" in text
        assert "Two vans" not in text and "vests" not in text  # the report's own words never go public
    assert es.text is not None and "Harbor View" in es.text and "Alerta verificada" in es.text
    await asyncio.sleep(0.5)
    assert Counter(m.chat_id for m in double.sent_messages() if m.chat_id in (CHANNEL, english.chat_id, spanish.chat_id)) == {
        CHANNEL: 1,
        english.chat_id: 1,
        spanish.chat_id: 1,
    }
    [row] = await bot.rows("SELECT count(*) AS n FROM outbox WHERE state = 'sent'")
    assert row["n"] == 3


async def test_coordinators_update_and_clear_alerts_and_expired_ones_are_marked(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    await link_channel(bot, double)
    follower = await subscriber(bot, double, 7_000_001, "en")
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    [post] = await messages_to(double, CHANNEL, 1)
    [alert_message] = await messages_to(double, follower.chat_id, 1)
    verifier = double.user(ANA, "Ana", "en")
    await verifier.send_command("/alerts")
    await verifier.wait_text("Only coordinators")
    coordinator = double.user(COORD, "Coord", "en")
    await coordinator.send_command("/alerts")
    await coordinator.wait_text("Harbor View: Agents present or gathering")
    await coordinator.press("Still active")
    await coordinator.wait_text("2 messages queued")
    update = (await messages_to(double, follower.chat_id, 2))[-1]
    assert "still going on" in (update.text or "") and update.reply_to is not None
    assert update.reply_to["message_id"] == alert_message.message_id
    await double.wait_for(lambda m: "still going on" in (m.text or ""), chat_id=CHANNEL)
    await coordinator.send_command("/alerts")
    await coordinator.wait_text("Harbor View: Agents present")
    await coordinator.press("All clear")
    await coordinator.wait_text("All clear")
    cleared = (await messages_to(double, follower.chat_id, 3))[-1]
    assert "activity has ended" in (cleared.text or "")
    edited = double.sent_message(CHANNEL, post.message_id)
    assert edited is not None and edited.edited and "All clear" in (edited.text or "")
    assert len(double.sent_messages(CHANNEL)) == 1  # the channel's post was edited, never reposted
    # a second alert expires: its channel post is edited to say so, the subscriber is not messaged
    bot.clock.advance(timedelta(hours=4))
    second = await incident(bot)
    await decide(bot, second, Verdict.CONFIRMED)
    newest = (await messages_to(double, CHANNEL, 2))[-1]
    await messages_to(double, follower.chat_id, 4)
    bot.clock.advance(timedelta(hours=4, minutes=1))
    assert len(await bot.runtime.services.alerts.expire_due()) == 1
    bot.runtime.services.broadcast_queued()
    await double.wait_for(lambda m: m.message_id == newest.message_id and "expired" in (m.text or ""), chat_id=CHANNEL)
    await asyncio.sleep(0.3)
    assert len(double.sent_messages(follower.chat_id)) == 4


async def test_a_debunked_rumor_that_spread_gets_a_calm_correction_in_the_channel(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    await link_channel(bot, double)
    follower = await subscriber(bot, double, 7_000_001, "en")
    await decide(bot, await incident(bot, reports=3), Verdict.DEBUNKED)
    [correction] = await messages_to(double, CHANNEL, 1)
    assert "Rumor check: Harbor View" in (correction.text or "") and "not confirmed" in (correction.text or "")
    await asyncio.sleep(0.3)
    assert double.sent_messages(follower.chat_id) == []  # subscribers only ever get verified alerts


@pytest.mark.parametrize("settings_overrides", [{"admin_ids": str(ADMIN), "send_per_second": 30}])
async def test_the_broadcaster_keeps_telegrams_limits_obeys_429_and_handles_403_and_lost_channels(
    bot: Harness, double: BotApiDouble
) -> None:
    double.enforce_limits(global_per_second=30, private_per_second=1, group_per_minute=20)
    admin = double.user(ADMIN, "Admin", "en")  # has talked to the bot before
    await staff(bot)
    await link_channel(bot, double)
    lost = -1_009_999
    await link_channel(bot, double, lost)
    double.block(lost)  # the bot was removed from that channel
    followers = [await subscriber(bot, double, 7_000_000 + n, "en") for n in range(40)]
    double.block(followers[0].chat_id)
    double.force_429(times=1, retry_after=1)
    started = time.monotonic()
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    await double.wait_until(lambda: double.count_429 == 1, description="the forced 429")
    await asyncio.sleep(1.0)
    bot.clock.advance(timedelta(seconds=1))  # the database's retry time (the bot's clock is manual)
    for follower in followers[1:]:
        await messages_to(double, follower.chat_id, 1)
    await messages_to(double, CHANNEL, 1)
    elapsed = time.monotonic() - started
    warning = await admin.wait_text("I can no longer post alerts in Harbor View alerts", since_last_action=False)
    assert "Harbor View" in warning.text
    assert double.count_429 == 1  # the forced one only: our own pacing never tripped the limits
    assert elapsed >= 1.0  # the retry_after was obeyed
    for _ in range(50):
        rows = await bot.rows("SELECT state, count(*) AS n FROM outbox GROUP BY state ORDER BY state")
        if {r["state"] for r in rows} <= {"sent", "failed"}:
            break
        await asyncio.sleep(0.1)
    assert rows == [{"state": "failed", "n": 2}, {"state": "sent", "n": 40}]
    [blocked] = await bot.rows(f"SELECT active FROM subscriber WHERE chat_id = {followers[0].chat_id}")
    assert not blocked["active"]
    [flag] = await bot.rows(f"SELECT problem FROM channel_link WHERE chat_id = {lost}")
    assert flag["problem"]
    assert all(len(double.sent_messages(f.chat_id)) == 1 for f in followers[1:])


async def test_stats_are_for_coordinators(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    verifier = double.user(ANA, "Ana", "en")
    await verifier.send_command("/stats")
    await verifier.wait_text("Only coordinators")
    coordinator = double.user(COORD, "Coord", "en")
    await coordinator.send_command("/stats 400")
    await coordinator.wait_text("followed by a number of days")
    await coordinator.send_command("/stats 30")
    figures = await coordinator.wait_text("Desk statistics from")
    assert "Reports: 1. Incidents: 1 (still open: 0)." in figures.text and "Confirmed 1" in figures.text


async def test_coordinators_export_alerts_as_a_file(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    verifier = double.user(ANA, "Ana", "en")
    await verifier.send_command("/export")
    await verifier.wait_text("Only coordinators can export")
    coordinator = double.user(COORD, "Coord", "en")
    await coordinator.send_command("/export pdf")
    await coordinator.wait_text("followed by a format")
    await coordinator.send_command("/export csv 7")
    document = await double.wait_for(lambda m: m.document, chat_id=COORD)
    assert document.caption and "1 alert from the last 7 days" in document.caption  # plural forms
    content = (document.file_bytes or b"").decode()
    assert "Harbor View" in content and "Two vans" not in content and "vests" not in content
    [audit] = await bot.rows("SELECT actor, subject FROM audit_event WHERE action = 'export'")
    assert audit == {"actor": f"verifier:{COORD}", "subject": "csv"}


async def test_a_channel_can_carry_one_post_in_several_languages(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    await bot.runtime.services.channels.link(None, "harbor-view", CHANNEL, "Harbor View alerts", "en+es")
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    [post] = await messages_to(double, CHANNEL, 1)
    english, spanish = (post.text or "").split("— — —")
    assert "Verified alert: Harbor View" in english and "Alerta verificada: Harbor View" in spanish


@pytest.mark.parametrize("settings_overrides", [{"admin_ids": str(ADMIN), "channel_posts": "per_language"}])
async def test_a_channel_can_carry_one_post_per_language_and_the_all_clear_edits_each_in_its_own(
    bot: Harness, double: BotApiDouble
) -> None:
    headlines = {"en": "Verified alert: Harbor View", "es": "Alerta verificada: Harbor View", "ar": "تنبيه موثَّق"}
    all_clear = {"en": "All clear", "es": "Todo despejado", "ar": "انتهى النشاط"}
    await staff(bot)
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    await bot.runtime.services.channels.link(None, "harbor-view", CHANNEL, "Harbor View alerts", "en+es+ar")
    follower = await subscriber(bot, double, 7_000_001, "es")
    await decide(bot, await incident(bot), Verdict.CONFIRMED)
    posts = await messages_to(double, CHANNEL, 3)
    [alert_message] = await messages_to(double, follower.chat_id, 1)
    post_in = {language: [p for p in posts if headline in (p.text or "")] for language, headline in headlines.items()}
    assert all(len(found) == 1 for found in post_in.values()), post_in  # one post per language, each once
    assert not any("— — —" in (p.text or "") for p in posts)  # none of them combined
    coordinator = double.user(COORD, "Coord", "en")
    await coordinator.send_command("/alerts")
    await coordinator.wait_text("Harbor View: Agents present")
    await coordinator.press("All clear")
    await coordinator.wait_text("4 messages queued")  # three edits and the subscriber's reply
    await double.wait_until(
        lambda: all(all_clear[language] in (found[0].text or "") and found[0].edited for language, found in post_in.items()),
        description="each channel post edited with the all-clear in its own language",
    )
    for language, [post] in post_in.items():
        others = [text for other, text in all_clear.items() if other != language]
        assert headlines[language] in (post.text or "") and not any(text in (post.text or "") for text in others)
    cleared = (await messages_to(double, follower.chat_id, 2))[-1]
    assert "Todo despejado" in (cleared.text or "") and cleared.reply_to is not None
    assert cleared.reply_to["message_id"] == alert_message.message_id
    await asyncio.sleep(0.3)
    assert len(double.sent_messages(CHANNEL)) == 3 and len(double.sent_messages(follower.chat_id)) == 2
