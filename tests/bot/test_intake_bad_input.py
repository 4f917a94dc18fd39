"""Bad input gets a clear answer in the person's language, and nothing stored is lost."""

from __future__ import annotations

import asyncio
import io
import math
from datetime import timedelta

import pytest
from PIL import Image

from sereno.bootstrap import running_bot
from sereno.double import BotApiDouble, FakeUser
from sereno.verify.clock import ManualClock
from tests.bot.conftest import Harness, jpeg_with_gps, seed_region, settings_for
from tests.bot.test_intake_conversation import answer, start_in

USER = 6_660_001


async def skip_after_place(user: FakeUser, *, details: bool = True) -> None:
    """Skip the questions between the place and the photo (the details one too, unless told)."""
    for question in ("When did you", "How many agents", "How many vehicles", "What markings"):
        await answer(user, question, "Skip")
    await user.wait_text("Anything else")
    if details:
        await user.press("Skip")


async def to_place(user: FakeUser) -> None:
    """From the menu to the place question, as a workplace operation."""
    await user.press("📝 Report activity")
    await answer(user, "What is happening?", "Workplace operation")
    await user.wait_text("Where is it happening?")


async def to_details(user: FakeUser) -> None:
    """From the menu to the details question, skipping everything before it."""
    await user.press("📝 Report activity")
    await answer(user, "What is happening?", "Skip")
    await user.wait_text("Where is it happening?")
    await user.send_text("Skip")
    await skip_after_place(user, details=False)


async def finish(user: FakeUser) -> str:
    """From the photo question to a submitted report; returns the confirmation text."""
    await answer(user, "send a photo", "Skip")
    await answer(user, "Please check your report", "✅ Submit")
    return (await user.wait_text("Report received")).text


async def test_overlong_details_are_bounded_and_the_reporter_is_told(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_details(ana)
    await ana.send_text("x" * 5000)
    await ana.wait_text("I kept the first 1,000 characters")
    await finish(ana)
    [row] = await bot.rows("SELECT details FROM report")
    assert len(str(row["details"])) == 1000


async def test_emoji_only_or_blank_details_are_refused_and_the_step_repeats(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_details(ana)
    await ana.send_text("🚨🚨🚨")
    await ana.wait_text("Please describe it in words")
    await ana.send_text("\u200b\u200b")
    await ana.wait_text("Please describe it in words")
    await ana.send_sticker()
    await ana.wait_text("I couldn't use that here")
    await ana.send_text("van\x00 with\x07 tinted windows\u202e")
    await ana.wait_text("Noted.")
    await finish(ana)
    [row] = await bot.rows("SELECT details FROM report")
    assert row["details"] == "van with tinted windows"


async def test_place_text_is_cleaned_and_a_place_with_no_words_is_asked_again(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await answer(ana, "What is happening?", "Skip")
    await ana.wait_text("Where is it happening?")
    await ana.send_text("📍📍")
    await ana.wait_text("I couldn't read a place in that")
    await ana.send_text("Somewhere\u200b unknown\x01")
    await ana.wait_text("I couldn't find that place")
    await ana.press("Harbor View")
    await ana.wait_text("Neighborhood: Harbor View")
    await skip_after_place(ana)
    await finish(ana)
    [row] = await bot.rows("SELECT place_text, neighborhood_id FROM report")
    assert row == {"place_text": "Somewhere unknown", "neighborhood_id": "harbor-view"}


async def test_a_pin_outside_the_region_is_said_and_still_accepted(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_place(ana)
    await ana.share_location(40.7128, -74.0060)
    await ana.wait_text("outside the area this network covers (Puerto Sereno). We will still take your report.")
    await skip_after_place(ana)
    await finish(ana)
    [row] = await bot.rows("SELECT neighborhood_id, lat, lon FROM report")
    assert row == {"neighborhood_id": None, "lat": 40.7128, "lon": -74.006}


IMPOSSIBLE_PINS = [(999.0, -118.2577), (34.0565, 200.0), (math.nan, -118.2577), (34.0565, math.inf)]


@pytest.mark.parametrize(("lat", "lon"), IMPOSSIBLE_PINS, ids=["lat 999", "lon 200", "NaN", "Infinity"])
async def test_a_pin_that_is_no_place_is_refused_politely_and_the_question_stays_open(
    bot: Harness, double: BotApiDouble, lat: float, lon: float
) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_place(ana)
    await ana.share_location(lat, lon)
    await ana.wait_text("That location could not be read. Share your location again")
    await ana.share_location(34.0565, -118.2577)
    await ana.wait_text("Got it: Las Palmas.")
    await skip_after_place(ana)
    await finish(ana)
    [row] = await bot.rows("SELECT neighborhood_id, lat, lon FROM report")
    assert row == {"neighborhood_id": "las-palmas", "lat": 34.0565, "lon": -118.2577}


@pytest.mark.parametrize(("lat", "lon"), IMPOSSIBLE_PINS, ids=["lat 999", "lon 200", "NaN", "Infinity"])
async def test_subscribing_with_a_pin_that_is_no_place_is_refused_politely(
    bot: Harness, double: BotApiDouble, lat: float, lon: float
) -> None:
    maria = double.user(USER + 1, "Maria")
    await maria.send_command("/subscribe")
    await maria.wait_text("Choose the neighborhoods")
    await maria.press("📍 Use my location")
    await maria.wait_text("Share a location")
    await maria.share_location(lat, lon)
    await maria.wait_text("That location could not be read.")
    assert await bot.rows("SELECT * FROM subscription") == []
    await maria.share_location(34.0564, -118.2568)
    await maria.wait_text("Added Las Palmas")


def png_of_42_megapixels() -> bytes:
    """A 7,000 × 6,000 one-bit PNG: about 5 KB on disk, 126 MB once decoded as RGB."""
    out = io.BytesIO()
    Image.new("1", (7000, 6000)).save(out, format="PNG")
    return out.getvalue()


async def to_photo(user: FakeUser) -> None:
    """From the menu to the photo question."""
    await to_details(user)
    await user.press("Skip")
    await user.wait_text("send a photo")


async def submit_counting_photos(bot: Harness, user: FakeUser) -> int:
    """Continue from the photo question and submit; the photos the summary and the database
    count (asserted equal)."""
    await user.press("Continue")
    summary = (await user.wait_text("Please check your report")).text  # the message is edited on Submit
    await user.press("✅ Submit")
    await user.wait_text("Report received")
    stored = len(await bot.rows("SELECT id FROM media"))
    assert f"{stored} attached" in summary
    return stored


async def test_a_picture_of_too_many_pixels_is_refused_as_a_document_or_a_photo_and_the_draft_kept(
    bot: Harness, double: BotApiDouble
) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_photo(ana)
    await ana.send_photo(jpeg_with_gps())
    await ana.wait_text("Photo received")
    huge = png_of_42_megapixels()
    await ana.send_document(huge, "huge.png", "image/png")
    await ana.wait_text("That picture is too large to open safely (more than 40 megapixels)")
    await ana.send_photo(huge)
    await ana.wait_text("That picture is too large to open safely (more than 40 megapixels)")
    assert await submit_counting_photos(bot, ana) == 1


async def test_a_photo_telegram_says_is_too_large_is_refused_without_downloading_it(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_photo(ana)
    size = {"file_id": "AgACAgEAAxkBAAIhuge", "file_unique_id": "AQADhuge", "width": 13370, "height": 13370, "file_size": 695_000}
    message = {"message_id": 900, "from": ana.user_dict, "chat": ana.chat_dict, "date": 0, "photo": [size]}
    double.push_update({"message": message})
    await ana.wait_text("That picture is too large to open safely", since_last_action=False)
    assert double.calls_to("getFile") == []


async def test_a_photo_beyond_the_most_a_report_holds_is_refused_and_the_others_kept(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_photo(ana)
    for _ in range(bot.settings.photos_per_report):
        await ana.send_photo(jpeg_with_gps())
        await ana.wait_text("Photo received")
    await ana.send_photo(jpeg_with_gps())
    await ana.wait_text("A report can hold 5 photos. Press Continue to check your report.")
    assert await submit_counting_photos(bot, ana) == 5


async def test_unknown_commands_are_answered_inside_and_outside_a_report(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await ana.send_command("/frobnicate")
    await ana.wait_text("I don't know that command. Try /report")
    await ana.press("📝 Report activity")
    await ana.wait_text("What is happening?")
    await ana.send_command("/frobnicate")
    reminder = await ana.wait_text("I don't know that command. Your report is still open.")
    assert "What is happening?" in reminder.text


async def test_buttons_from_old_messages_and_forged_data_change_nothing(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    first_question = await ana.wait_text("What is happening?")
    await ana.press("Checkpoint or vehicle stop")
    await ana.wait_text("Where is it happening?")
    # the first question's message was edited: press its old button by its data anyway
    await ana.press_data("r:activity:arrest", first_question)
    await ana.wait_text("That button is from an earlier message")
    await ana.press_data("r:activity:parade", ana.last_message())  # type: ignore[arg-type]
    await ana.wait_text("That button is from an earlier message")
    await ana.press_data("x" * 64, ana.last_message())  # type: ignore[arg-type]
    await ana.wait_text("no longer")
    await ana.send_command("/cancel")
    await ana.wait_text("Report cancelled")
    await ana.press_data("r:do:submit", first_question)
    await ana.wait_text("no longer")
    assert await bot.rows("SELECT * FROM report") == []


async def test_an_update_delivered_twice_makes_one_report(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await to_details(ana)
    details = await ana.send_text("one van")
    await ana.wait_text("Noted.")
    double.redeliver(details)
    await answer(ana, "send a photo", "Skip")
    await ana.wait_text("Please check your report")
    submit = await ana.press("✅ Submit")
    await ana.wait_text("Report received")
    double.redeliver(submit)
    await double.wait_confirmed(submit)
    await ana.send_command("/help")
    await ana.wait_text("What I can do")
    assert len(await bot.rows("SELECT * FROM report")) == 1
    assert sum("Noted." in str(call.params.get("text")) for call in double.calls_to("sendMessage")) == 1


async def test_a_flood_is_throttled_with_one_notice_and_others_are_unaffected(bot: Harness, double: BotApiDouble) -> None:
    flooder, ana = double.user(USER + 9, "F"), double.user(USER, "Ana")
    await start_in(ana, "en")
    for n in range(200):
        await flooder.send_text(f"spam {n}")
    await to_details(ana)
    await ana.send_text("calm report")
    await ana.wait_text("Noted.")
    await finish(ana)
    await flooder.wait_text("You are sending messages very fast", since_last_action=False)
    notices = [m for m in flooder.messages() if "very fast" in m.text]
    assert len(notices) == 1
    assert len(flooder.messages()) <= bot.settings.flood_max_updates + 1


async def test_an_idle_report_is_closed_politely(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await answer(ana, "What is happening?", "Checkpoint or vehicle stop")
    await ana.wait_text("Where is it happening?")
    bot.clock.advance(timedelta(minutes=bot.settings.conversation_timeout_minutes + 1))
    [job] = bot.runtime.application.job_queue.get_jobs_by_name("close-idle-drafts")  # type: ignore[union-attr]
    await job.run(bot.runtime.application)
    await ana.wait_text("Your unfinished report was closed after 30 minutes without an answer. Nothing was sent.")
    await ana.share_location(34.0565, -118.2577)
    await ana.wait_text("What would you like to do?")
    await ana.send_command("/report")
    await ana.wait_text("What is happening?")


async def test_a_report_in_progress_survives_a_restart(double: BotApiDouble, database_url: str) -> None:
    await seed_region(database_url)
    settings = settings_for(double, database_url)
    ana = double.user(USER, "Ana", "es")
    async with running_bot(settings, clock=ManualClock(), poll_timeout=1):
        await start_in(ana, "es")
        await ana.press("📝 Reportar actividad")
        await answer(ana, "¿Qué está pasando?", "Operativo en un lugar de trabajo")
        await ana.wait_text("¿Dónde está pasando?")
        await ana.send_text("Las Palmas")
        await ana.wait_text("¿Cuándo lo vio?")
    await asyncio.sleep(0)
    async with running_bot(settings, clock=ManualClock(), poll_timeout=1) as second:
        await ana.press("Está pasando ahora")
        await ana.wait_text("¿Cuántos agentes")
        for question in ("¿Cuántos agentes", "¿Cuántos vehículos?", "¿Qué letreros", "algo más", "foto"):
            await answer(ana, question, "Omitir")
        summary = await ana.wait_text("revise su reporte")
        assert "Las Palmas" in summary.text and "Operativo en un lugar de trabajo" in summary.text
        await ana.press("✅ Enviar")
        await ana.wait_text("Reporte recibido")
        async with second.engine.connect() as conn:
            from sqlalchemy import text

            rows = (await conn.execute(text("SELECT activity, neighborhood_id, language FROM report"))).all()
        assert rows == [("workplace", "las-palmas", "es")]
