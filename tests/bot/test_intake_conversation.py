"""The reporter's whole conversation, through the Bot API double, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sereno.bot.i18n import LANGUAGE_NAMES, translator
from sereno.double import BotApiDouble, FakeUser
from sereno.storage.sealing import ContactSeal
from tests.bot.conftest import HOTLINE, Harness, jpeg_with_gps
from tests.conftest import TEST_HMAC_KEY

REPORTER = 5_550_001


async def answer(user: FakeUser, question: str, button: str) -> None:
    """Wait for the question, then press the answer."""
    await user.wait_text(question)
    await user.press(button)


async def start_in(user: FakeUser, language: str) -> None:
    """/start when the user's app speaks `language` (greeted in it), else /language and pick it."""
    if user.language_code == language:
        await user.send_command("/start")
    else:
        user.catch_up()
        await user.send_command("/language")
        await user.press("English" if language == "en" else "Español", message=await user.next_message())
    await user.wait_text("Your privacy" if language == "en" else "Su privacidad")


async def test_english_report_with_pin_and_photo_is_stored_safely(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(REPORTER, "Ana", "en")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await ana.wait_text("What is happening?")
    await ana.press("Checkpoint or vehicle stop")
    await ana.wait_text("Where is it happening?")
    assert any(b.request_location for b in ana.buttons())
    await ana.share_location(34.0565, -118.2577, horizontal_accuracy=12)
    await ana.wait_text("Got it: Las Palmas.")
    await ana.wait_text("When did you see it?")
    await ana.press("Happening now")
    await ana.wait_text("How many agents")
    await ana.press("3–5")
    await ana.wait_text("How many vehicles?")
    await ana.press("2–3")
    await ana.wait_text("What markings")
    await ana.press("ICE")
    await ana.wait_text("Anything else")
    await ana.send_text("Two unmarked SUVs by the bus stop")
    await ana.wait_text("send a photo")
    await ana.send_photo(jpeg_with_gps())
    await ana.wait_text("Photo received")
    await ana.press("Continue")
    summary = await ana.wait_text("Please check your report")
    for expected in (
        "Checkpoint or vehicle stop",
        "Las Palmas (shared location)",
        "Happening now",
        "3–5",
        "2–3",
        "ICE",
        "Two unmarked SUVs",
        "1 attached",
    ):
        assert expected in summary.text
    await ana.press("✅ Submit")
    done = await ana.wait_text("Report received")
    assert "SR-" in done.text and HOTLINE in done.text and "remain silent" in done.text

    [report] = await bot.rows("SELECT * FROM report")
    assert report["ref_code"] in done.text
    assert (report["activity"], report["neighborhood_id"], report["tier"]) == ("checkpoint", "las-palmas", "high")
    assert str(REPORTER) not in " ".join(str(v) for v in report.values())
    [contact] = await bot.rows("SELECT * FROM report_contact")
    assert ContactSeal(TEST_HMAC_KEY.encode()).open(bytes(contact["sealed_chat"]), report["id"]) == REPORTER
    [media] = await bot.rows("SELECT * FROM media")
    assert media["report_id"] == report["id"]
    kept = Image.open(io.BytesIO(media["content"]))
    assert not kept.getexif() and "exif" not in kept.info
    assert b"SecretPhone" not in media["content"]


@pytest.mark.parametrize(("app_language", "language"), [("es", "es"), ("pt-BR", "pt"), ("zh-hans", "zh"), ("ar", "ar")])
async def test_start_greets_in_the_telegram_apps_language_and_keeps_it(
    bot: Harness, double: BotApiDouble, app_language: str, language: str
) -> None:
    t = translator(language)
    person = double.user(REPORTER + 2, "Luz", app_language)
    await person.send_command("/start")
    greeting = await person.wait_text(t("Please do not send names, faces or license plates."))
    assert LANGUAGE_NAMES[language] in greeting.text and "English" not in greeting.text
    assert t("📝 Report activity") in person.buttons(greeting)
    person.language_code = "en"  # the app changes language: the one greeted in is kept
    await person.send_command("/report")
    await person.wait_text(t("What is happening?"))


async def test_start_in_a_language_without_a_catalog_offers_every_language(bot: Harness, double: BotApiDouble) -> None:
    person = double.user(REPORTER + 3, "Jonas", "de")
    await person.send_command("/start")
    chooser = await person.wait_text("Welcome to Sereno. Please choose your language.")
    assert "Le damos la bienvenida a Sereno" in chooser.text and "Español" in person.buttons(chooser)


async def test_the_language_button_of_the_greeting_changes_the_language(bot: Harness, double: BotApiDouble) -> None:
    luis = double.user(REPORTER + 1, "Luis", "es")
    await luis.send_command("/start")
    await luis.wait_text("Su privacidad")
    await luis.press("Idioma")
    await luis.press("English", message=await luis.wait_text("Elija su idioma"))
    await luis.wait_text("Your privacy")
    await luis.send_command("/report")
    await luis.wait_text("What is happening?")


async def test_spanish_report_with_typed_ambiguous_place_and_skips(bot: Harness, double: BotApiDouble) -> None:
    luis = double.user(REPORTER + 1, "Luis", "es")
    await start_in(luis, "es")
    await luis.send_command("/report")
    await luis.wait_text("¿Qué está pasando?")
    await luis.press("Omitir")
    await luis.wait_text("¿Dónde está pasando?")
    await luis.send_text("cerca del 90907")
    await luis.wait_text("más de un vecindario")
    assert {"Riverside", "Eastfield"} <= set(luis.buttons())
    await luis.press("Eastfield")
    await luis.wait_text("Vecindario: Eastfield")
    for question in ("¿Cuándo lo vio?", "¿Cuántos agentes", "¿Cuántos vehículos?", "¿Qué letreros", "algo más", "foto"):
        await answer(luis, question, "Omitir")
    summary = await luis.wait_text("revise su reporte")
    assert "cerca del 90907 → Eastfield" in summary.text
    await luis.press("✅ Enviar")
    done = await luis.wait_text("Reporte recibido")
    assert "SR-" in done.text and HOTLINE in done.text
    [report] = await bot.rows("SELECT language, neighborhood_id, activity, tier FROM report")
    assert report == {"language": "es", "neighborhood_id": "eastfield", "activity": None, "tier": "routine"}


async def test_edit_from_the_summary_changes_one_answer(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(REPORTER, "Ana", "en")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await answer(ana, "What is happening?", "Agents present or gathering")
    await ana.wait_text("Where is it happening?")
    await ana.send_text("Old Mill")
    await ana.wait_text("Got it: Old Mill.")
    for question, label in (
        ("When did you", "Earlier today"),
        ("How many agents", "1–2"),
        ("How many vehicles", "1"),
        ("What markings", "Plain clothes"),
        ("Anything else", "Skip"),
        ("send a photo", "Skip"),
    ):
        await answer(ana, question, label)
    await ana.wait_text("Please check your report")
    await ana.press("✏️ Edit")
    await ana.wait_text("Which answer do you want to change?")
    await ana.press("When")
    await ana.wait_text("When did you see it?")
    await ana.press("Happening now")
    summary = await ana.wait_text("Please check your report")
    assert "Happening now" in summary.text and "Old Mill" in summary.text
    await ana.press("✅ Submit")
    await ana.wait_text("Report received")
    [report] = await bot.rows("SELECT time_seen, tier FROM report")
    assert report == {"time_seen": "now", "tier": "high"}


async def test_cancel_works_at_any_step_and_stores_nothing(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(REPORTER, "Ana", "en")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await answer(ana, "What is happening?", "Arrest or detention happening")
    await ana.wait_text("Where is it happening?")
    await ana.send_command("/cancel")
    await ana.wait_text("Report cancelled. Nothing was sent.")
    assert await bot.rows("SELECT * FROM report") == []


async def test_lawyer_now_shows_the_hotline_at_once_without_losing_the_report(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(REPORTER, "Ana", "en")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await ana.wait_text("What is happening?")
    await ana.press("⚖️ Someone needs a lawyer now")
    hotline = await ana.wait_text("call the legal hotline now")
    assert HOTLINE in hotline.text
    await ana.send_command("/lawyer")
    await ana.wait_text(HOTLINE)
    await ana.press("Arrest or detention happening")
    await ana.wait_text("Where is it happening?")


async def test_help_and_language_work_inside_a_report(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(REPORTER, "Ana", "en")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await ana.wait_text("What is happening?")
    await ana.send_command("/help")
    await ana.wait_text("/report – report")
    await ana.send_command("/language")
    await ana.wait_text("Choose your language")
    await ana.press("Español")
    await ana.wait_text("Su privacidad")
    await ana.send_command("/report")
    await ana.wait_text("Tiene un reporte sin terminar")
