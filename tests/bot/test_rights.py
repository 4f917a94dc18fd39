"""/rights and the legal help of /help, through the Bot API double, with the shipped
(fictional) resources file: every number the bot shows comes from configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sereno.double import BotApiDouble, FakeUser
from sereno.verify.resources import load_resources
from tests.bot.conftest import HOTLINE, Harness
from tests.bot.test_intake_conversation import answer, start_in

EXAMPLE = Path(__file__).resolve().parents[2] / "sereno" / "data" / "resources.example.toml"
USER = 7_770_001
#: Anything that looks like a phone number: a run of at least 7 digits, spaces, -, ( ).
PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s()\-]{5,}\d")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"resources_file": EXAMPLE}


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def configured_numbers() -> set[str]:
    """Every phone number in the configuration: the settings' hotline and the file's."""
    resources = load_resources(EXAMPLE)
    numbers = {HOTLINE}
    for nb_id in (None, *resources.neighborhoods):
        hotline = resources.hotline_for(nb_id)
        numbers |= {hotline.number} if hotline else set()
        numbers |= {org.phone for org in resources.legal_aid_for(nb_id)}
    return {digits(n) for n in numbers}


def assert_only_configured_numbers(user: FakeUser) -> None:
    shown = {digits(m) for msg in user.messages() for m in PHONE_LIKE.findall(msg.text or "")}
    assert shown, "no phone number was shown at all"
    assert shown <= configured_numbers(), shown - configured_numbers()


async def test_rights_card_in_english_is_calm_accurate_and_short(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER, "Ana", "en")
    await start_in(ana, "en")
    await ana.send_command("/rights")
    card = await ana.wait_text("Know your rights")
    for fact in (
        "not legal advice",
        "right to remain silent",
        "Do not open the door",
        "warrant signed by a judge",
        "I-200 or I-205",
        "slide any warrant under the door",
        "Am I free to leave?",
        "Do not sign anything",
        "do not show false documents",
        "Do not run, argue or resist",
        "I do not consent to your entry or to a search",
        "If not, say that you want to remain silent and to speak to a lawyer",
        "carry them with you",
        "Different rules apply at the border and at immigration checkpoints",
        "government does not provide one",
        "notarios",
        "DOJ-accredited representatives",
        "Legal hotline (Puerto Sereno Rapid Response Legal Line (fictional)): 555-0100",
    ):
        assert fact in (card.text or ""), fact
    assert len(card.text or "") < 4096 and "parse_mode" not in card.params
    assert "🛡️ Know your rights" in ana.buttons()
    await ana.press("🛡️ Know your rights")
    await ana.wait_text("Am I free to leave?")
    published = [c.params for c in double.calls_to("setMyCommands")]
    assert any("rights" in str(p.get("commands")) for p in published)
    assert_only_configured_numbers(ana)


async def test_rights_card_in_spanish(bot: Harness, double: BotApiDouble) -> None:
    luis = double.user(USER + 1, "Luis", "es")
    await start_in(luis, "es")
    await luis.send_command("/rights")
    card = await luis.wait_text("Conozca sus derechos")
    for fact in (
        "no es asesoría legal",
        "derecho a guardar silencio",
        "No abra la puerta",
        "orden judicial firmada por un juez",
        "I-200 o I-205",
        "¿Soy libre de irme?",
        "No firme nada",
        "documentos falsos",
        "«notarios»",
        "acreditados por el Departamento de Justicia",
        "No corra, no discuta y no se resista",
        "No doy mi consentimiento",
        "hablar con un abogado",
        "puestos de control migratorio",
        "555-0100",
    ):
        assert fact in (card.text or ""), fact
    assert "remain silent" not in (card.text or "")


async def test_help_shows_region_legal_aid_then_a_chosen_neighborhoods(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER + 2, "Ana", "en")
    await start_in(ana, "en")
    await ana.send_command("/help")
    help_text = (await ana.wait_text("What I can do")).text or ""
    for expected in (
        "/rights – know your rights",
        "555-0100",
        "Puerto Sereno Immigrant Legal Center (fictional): 555-0110",
        "https://example.org/legal-center",
        "Languages: English, Spanish",
        "Free consultations",
        "Beware of “notarios”",
        "Choose yours",
    ):
        assert expected in help_text, expected
    assert "Las Palmas Community Legal Services" not in help_text
    assert {"Las Palmas", "Harbor View", "Northgate", "📝 Report activity"} <= set(ana.buttons())

    await ana.press("Las Palmas")
    local = (await ana.wait_text("Legal help in Las Palmas")).text or ""
    order = [
        local.index(name)
        for name in (
            "Las Palmas Community Legal Services",
            "Eastside Immigration Attorneys",
            "Puerto Sereno Immigrant Legal Center",
        )
    ]
    assert order == sorted(order)
    assert "555-0130" in local and "+1 555-0131" in local and "Legal hotline (Puerto Sereno" in local
    assert "Beware of “notarios”" in local

    await ana.press("Harbor View", message=ana.messages()[-2])
    harbor = (await ana.wait_text("Legal help in Harbor View")).text or ""
    assert "Legal hotline (Harbor View Rapid Response (fictional)): 555-0120" in harbor
    assert "(555) 555-0121" in harbor and "555-0100" not in harbor
    assert_only_configured_numbers(ana)


async def test_help_in_spanish_names_languages_and_notes_in_spanish(bot: Harness, double: BotApiDouble) -> None:
    luis = double.user(USER + 3, "Luis", "es")
    await start_in(luis, "es")
    await luis.send_command("/help")
    await luis.wait_text("Lo que puedo hacer")
    await luis.press("Las Palmas")
    local = (await luis.wait_text("Ayuda legal en Las Palmas")).text or ""
    assert "Idiomas: español, inglés" in local and "Citas por teléfono" in local
    assert "Consultas gratuitas" in local and "Cuidado con los «notarios»" in local


async def test_a_forged_neighborhood_button_gets_the_region_wide_help(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER + 4, "Ana", "en")
    await start_in(ana, "en")
    await ana.send_command("/help")
    shown = await ana.wait_text("What I can do")
    await ana.press_data("legal:../../etc", shown)
    reply = (await ana.wait_text("Beware of “notarios”")).text or ""
    assert "Legal help in" not in reply and "555-0110" in reply and "555-0130" not in reply
    await ana.wait_callback_answer()
    assert_only_configured_numbers(ana)


async def test_rights_inside_a_report_keeps_it_and_the_report_gets_its_neighborhoods_hotline(
    bot: Harness, double: BotApiDouble
) -> None:
    ana = double.user(USER + 5, "Ana", "en")
    await start_in(ana, "en")
    await ana.press("📝 Report activity")
    await answer(ana, "What is happening?", "Agents present or gathering")
    await ana.wait_text("Where is it happening?")
    await ana.send_command("/rights")
    await ana.wait_text("Am I free to leave?")
    await ana.send_text("Harbor View")
    await ana.wait_text("Got it: Harbor View.")
    for question in ("When did you", "How many agents", "How many vehicles", "What markings", "Anything else", "send a photo"):
        await answer(ana, question, "Skip")
    await answer(ana, "Please check your report", "✅ Submit")
    done = (await ana.wait_text("Report received")).text or ""
    assert "555-0120" in done and "555-0100" not in done


async def test_lawyer_uses_the_files_hotline(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER + 6, "Ana", "en")
    await start_in(ana, "en")
    await ana.send_command("/lawyer")
    text = (await ana.wait_text("call the legal hotline now")).text or ""
    assert "Legal hotline (Puerto Sereno Rapid Response Legal Line (fictional)): 555-0100" in text


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_without_a_resources_file_help_keeps_the_hotline_setting(bot: Harness, double: BotApiDouble) -> None:
    ana = double.user(USER + 7, "Ana", "en")
    await start_in(ana, "en")
    await ana.send_command("/help")
    text = (await ana.wait_text("What I can do")).text or ""
    assert f"Legal hotline (Demo Legal Aid): {HOTLINE}" in text and "Beware of “notarios”" in text
    assert "Legal aid organizations" not in text and "Choose yours" not in text
    assert "Las Palmas" not in ana.buttons()
    await ana.send_command("/rights")
    await ana.wait_text(f"Legal hotline (Demo Legal Aid): {HOTLINE}")
    assert_only_configured_numbers(ana)


async def test_help_shows_the_legal_aid_of_the_subscribed_neighborhood_and_language_follows(
    bot: Harness, double: BotApiDouble
) -> None:
    rosa = double.user(USER + 9, "Rosa", "en")
    await start_in(rosa, "en")
    await rosa.send_command("/subscribe")
    await rosa.wait_text("Choose the neighborhoods")
    await rosa.press("Harbor View")
    await double.wait_for(lambda m: "✅ Harbor View" in str(m.reply_markup), chat_id=rosa.chat_id)
    await rosa.send_command("/help")
    help_text = (await rosa.wait_text("What I can do")).text or ""
    assert "Legal hotline (Harbor View Rapid Response (fictional)): 555-0120" in help_text
    await rosa.send_command("/language")
    await rosa.press("Español", message=await rosa.wait_text("Choose your language"))
    await rosa.wait_text("Su privacidad")
    assert await bot.rows(f"SELECT language FROM subscriber WHERE chat_id = {rosa.chat_id}") == [{"language": "es"}]
