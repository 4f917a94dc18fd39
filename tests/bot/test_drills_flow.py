"""Training through the Bot API double (SQLite and PostgreSQL): a coordinator imports the
scenarios in chat, a trainee works a practice drill with the desk's own buttons and gets
feedback, a trainee meeting the bar is proposed and promoted by a coordinator, and a live
drill reaches nobody but the desk."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from sereno.double import BotApiDouble, FakeUser
from tests.bot.conftest import Harness
from tests.bot.test_desk_flow import join_desk

ADMIN, ANA, BEN, TOMAS, ROSA = 8_100_001, 8_100_002, 8_100_003, 8_100_004, 8_100_005
CHANNEL = -100_810_000
STARTER = Path(__file__).parents[2] / "sereno" / "data" / "drills.yaml"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": str(ADMIN), "certify_min_drills": 2, "certify_min_accuracy_percent": 0}


async def import_starter(admin: FakeUser) -> None:
    await admin.send_command("/drills")
    await admin.press("Import scenarios", message=await admin.wait_text("Your drills:"))
    await admin.wait_text("Send the scenario file")
    await admin.send_document(STARTER.read_bytes(), "drills.yaml", "application/yaml")
    await admin.wait_text("Imported 16 scenario(s): 16 new, 0 replaced.")


async def join_as_trainee(double: BotApiDouble, admin: FakeUser) -> FakeUser:
    await admin.send_command("/invite trainee")
    code = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", (await admin.wait_text("Invite code for a trainee")).text)
    assert code is not None
    tomas = double.user(TOMAS, "Tomas", "en")
    await tomas.send_command(f"/join {code.group()}")
    await tomas.wait_text("Welcome to the desk as trainee")
    return tomas


async def work_practice_drill(tomas: FakeUser, verdict: str = "✅ Confirmed") -> str:
    """Start a practice drill, claim it, decide it; returns the feedback."""
    await tomas.send_command("/drills")
    await tomas.press("Practice a drill", message=await tomas.wait_text("Your drills:"))
    card = await tomas.wait_text("PRACTICE DRILL")
    await tomas.press("Claim", message=card)
    await tomas.wait_text("Claimed until")
    await tomas.press(verdict)
    await tomas.wait_text("Send a short reason")
    await tomas.send_text("Vests say city works, no agency markings")
    return (await tomas.wait_text("Why:")).text


async def test_a_trainee_works_a_practice_drill_with_the_desk_buttons_and_gets_feedback(
    bot: Harness, double: BotApiDouble
) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    tomas = await join_as_trainee(double, admin)
    feedback = await work_practice_drill(tomas)
    assert ("Right" in feedback) != ("Not quite" in feedback)
    assert "You claimed it after" in feedback and "1 drill, " in feedback
    assert await bot.rows("SELECT id FROM outbox") == [] and await bot.rows("SELECT id FROM alert") == []
    [run] = await bot.rows("SELECT kind, person, verdict FROM drill_run")
    assert run == {"kind": "training", "person": TOMAS, "verdict": "confirmed"}
    ana = await join_desk(double, admin, ANA, "Ana")
    await ana.send_command("/queue")
    await ana.wait_text("The queue is empty.")  # practice never shows in the live queue


async def test_a_malformed_scenario_file_gets_a_clear_error_and_stores_nothing(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    await admin.send_command("/drills")
    await admin.press("Import scenarios", message=await admin.wait_text("Your drills:"))
    await admin.send_document(b"scenarios:\n  - id: Bad Id\n", "mine.yaml", "application/yaml")
    error = await admin.wait_text("That file could not be used, nothing was stored")
    assert "scenarios[0].id" in error.text
    await admin.send_command("/drills")
    await admin.press("Import scenarios", message=await admin.wait_text("Your drills:"))
    await admin.send_document(b"{not json", "mine.json", "application/json")
    await admin.wait_text("it is not valid YAML or JSON")
    assert len(await bot.rows("SELECT id FROM drill_scenario")) == 16


async def test_a_coordinator_downloads_the_stored_scenarios_and_imports_them_back_unchanged(
    bot: Harness, double: BotApiDouble
) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    await admin.send_command("/drills")
    await admin.press("Download scenarios", message=await admin.wait_text("Your drills:"))
    sent = await admin.wait_text("Drill scenarios: 16")
    assert sent.document and sent.file is not None and sent.file.data is not None
    data = sent.file.data
    await admin.send_command("/drills")
    await admin.press("Import scenarios", message=await admin.wait_text("Your drills:"))
    await admin.send_document(data, "drills.yaml", "application/yaml")
    await admin.wait_text("Imported 16 scenario(s): 0 new, 16 replaced.")


async def test_someone_off_the_desk_cannot_train_or_import(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    rosa = double.user(ROSA, "Rosa", "en")
    await rosa.send_command("/drills")
    await rosa.wait_text("You are not allowed to do that")
    await rosa.press_data("dr:practice", rosa.last_message())  # type: ignore[arg-type]
    assert "not allowed" in str((await rosa.wait_callback_answer()).get("text"))
    await rosa.press_data("dr:inject:utility-crew-vests", rosa.last_message())  # type: ignore[arg-type]
    assert "not allowed" in str((await rosa.wait_callback_answer()).get("text"))
    assert await bot.rows("SELECT id FROM incident") == []


async def test_a_trainee_who_meets_the_bar_is_proposed_and_a_coordinator_promotes_them(
    bot: Harness, double: BotApiDouble
) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    tomas = await join_as_trainee(double, admin)
    await work_practice_drill(tomas)
    await work_practice_drill(tomas, "❌ Debunked")
    proposal = await admin.wait_text("meets the bar to become a verifier")
    assert "Tomas" in proposal.text and "2 drills" in proposal.text
    await admin.press("Make verifier", message=proposal)
    await admin.wait_callback_answer()
    for _ in range(50):
        [person] = await bot.rows(f"SELECT role FROM verifier WHERE user_id = {TOMAS}")
        if person["role"] == 2:
            break
        await asyncio.sleep(0.05)
    assert person["role"] == 2  # verifier
    promoted = await bot.rows("SELECT action FROM audit_event WHERE action IN ('drills.proposed', 'role.verifier')")
    assert sorted(r["action"] for r in promoted) == ["drills.proposed", "role.verifier"]


async def test_a_live_drill_is_handled_as_real_and_reaches_no_chat_but_the_desks(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    ana, ben = await join_desk(double, admin, ANA, "Ana"), await join_desk(double, admin, BEN, "Ben")
    services = bot.runtime.services
    await services.channels.link(None, "cedar-heights", CHANNEL, "Cedar Heights alerts", "en")
    rosa = double.user(ROSA, "Rosa", "en")
    await services.subscriptions.subscribe(ROSA, "en", ["cedar-heights"])
    await admin.send_command("/drills")
    await admin.press("Live drill", message=await admin.wait_text("Your drills:"))
    await admin.press("Plain-clothes arrest outside the county courthouse", message=await admin.wait_text("Choose a scenario"))
    started = await admin.wait_text("Live drill started")
    assert "2 verifier(s)" in started.text
    cards = [await person.wait_text("Reports: 3", since_last_action=False) for person in (ana, ben)]
    assert all("DRILL" not in card.text for card in cards)
    await admin.send_command("/queue")
    assert "LIVE DRILL" in (await admin.wait_text("Reports: 3")).text  # coordinators know
    for person, card, after in zip((ana, ben), cards, ("Recorded.", "Decided: Confirmed"), strict=True):
        await person.press("Claim", message=card)
        await person.wait_text("Claimed until")
        await person.press("✅ Confirmed")
        await person.wait_text("Send a short reason")
        await person.send_text("Court clerk confirmed agents in the hallway")
        await person.wait_text(after)
    told = [await person.wait_text("was a live drill", since_last_action=False) for person in (ana, ben)]
    assert all("nothing was published" in message.text for message in told)
    report = await admin.wait_text("Live drill decided", since_last_action=False)
    assert "Desk verdict: Confirmed (right)" in report.text and "First claim after" in report.text
    await asyncio.sleep(0.5)  # a broadcaster would have sent by now
    assert await bot.rows("SELECT id FROM outbox") == [] and await bot.rows("SELECT id FROM alert") == []
    desk_chats = {ADMIN, ANA, BEN}
    assert {m.chat_id for m in double.sent_messages()} <= desk_chats
    assert rosa.messages() == []


async def test_a_coordinator_ends_a_live_drill_nobody_decided(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    await import_starter(admin)
    ana = await join_desk(double, admin, ANA, "Ana")
    await admin.send_command("/drills")
    await admin.press("Live drill", message=await admin.wait_text("Your drills:"))
    await admin.press("Plain-clothes arrest outside the county courthouse", message=await admin.wait_text("Choose a scenario"))
    await admin.wait_text("Live drill started")
    card = await ana.wait_text("Reports: 3", since_last_action=False)
    await ana.press("Claim", message=card)
    await ana.wait_text("Claimed until")
    await admin.send_command("/drills")
    await admin.press("Live drill", message=await admin.wait_text("Your drills:"))
    listing = await admin.wait_text("Live drills:")
    assert "Plain-clothes arrest outside the county courthouse: open" in listing.text
    await admin.press("End: Plain-clothes arrest outside the county courthouse"[:60], message=listing)
    report = await admin.wait_text("Live drill ended before the desk decided")
    assert "First claim after" in report.text and "Verdicts given: 0." in report.text
    await ana.wait_text("was a live drill", since_last_action=False)
    [incident] = await bot.rows("SELECT status, claimed_by FROM incident")
    assert incident == {"status": "withdrawn", "claimed_by": None}
    assert await bot.rows("SELECT id FROM outbox") == []
