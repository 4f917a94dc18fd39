"""`sereno demo`: the bot against a local Bot API double, on a throw-away SQLite database,
with two scripted reporters (English and Spanish); prints both conversations."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import text

from bot.app import running_bot
from sereno.double import BotApiDouble, FakeUser
from sereno.settings import Settings
from storage.admin import replace_neighborhoods
from storage.scratch import scratch_database
from verify.places import parse_geojson

DEMO_REGION = Path(__file__).with_name("data") / "demo_region.geojson"
DEMO_TOKEN = "424242:DEMO-not-a-real-token"
DEMO_HOTLINE = "555-0100 (fictional demo number)"
SHOWN_METHODS = ("sendMessage", "editMessageText", "sendPhoto")


class Script:
    """Plays one reporter and writes the chat as a transcript."""

    def __init__(self, double: BotApiDouble, user: FakeUser, out: TextIO) -> None:
        self.double = double
        self.user = user
        self.out = out
        self._seen = 0

    def _bot_lines(self) -> None:
        calls = [c for c in self.double.calls if c.method in SHOWN_METHODS and c.ok
                 and str(c.params.get("chat_id")) == str(self.user.chat_id)]
        for call in calls[self._seen:]:
            label = "Sereno (updates its message)" if call.method == "editMessageText" else "Sereno"
            self._write(f"  🤖 {label}:", str(call.params.get("text", "")))
            buttons = _buttons(call.params.get("reply_markup"))
            if buttons:
                self.out.write(textwrap.indent(textwrap.fill("  ".join(f"[{b}]" for b in buttons), 86), " " * 6) + "\n")
        self._seen = len(calls)

    def _write(self, who: str, text: str) -> None:
        self.out.write(f"{who}\n")
        for line in text.splitlines() or [""]:
            self.out.write(textwrap.indent(textwrap.fill(line, 86) if line else "", " " * 6) + "\n")

    async def _then(self, expect: str) -> None:
        await self.user.wait_text(expect, timeout=10)
        self._bot_lines()
        self.out.write("\n")

    async def say(self, text: str, expect: str) -> None:
        """The reporter types `text`; wait for a bot message containing `expect`."""
        self._write(f"  👤 {self.user.user_dict['first_name']}:", text)
        await (self.user.send_command(text) if text.startswith("/") else self.user.send_text(text))
        await self._then(expect)

    async def tap(self, button: str, expect: str) -> None:
        """The reporter taps `button`."""
        self._write(f"  👤 {self.user.user_dict['first_name']}:", f"(taps [{button}])")
        await self.user.press(button)
        await self._then(expect)

    async def pin(self, lat: float, lon: float, expect: str) -> None:
        """The reporter shares a location."""
        self._write(f"  👤 {self.user.user_dict['first_name']}:", "(shares a location pin)")
        await self.user.share_location(lat, lon, horizontal_accuracy=15)
        await self._then(expect)


def _buttons(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]


async def english_reporter(script: Script) -> None:
    await script.say("/start", "choose your language")
    await script.tap("English", "Your privacy")
    await script.tap("📝 Report activity", "What is happening?")
    await script.tap("Arrest or detention happening", "Where is it happening?")
    await script.pin(34.0380, -118.2577, "When did you see it?")
    await script.tap("Happening now", "How many agents")
    await script.tap("3–5", "How many vehicles")
    await script.tap("2–3", "What markings")
    await script.tap("ICE", "Anything else")
    await script.say("Two unmarked grey SUVs outside the laundromat, agents in vests", "send a photo")
    await script.tap("Skip", "Please check your report")
    await script.tap("✅ Submit", "Report received")


async def spanish_reporter(script: Script) -> None:
    await script.say("/start", "choose your language")
    await script.tap("Español", "Su privacidad")
    await script.say("/report", "¿Qué está pasando?")
    await script.tap("Agentes presentes o reuniéndose", "¿Dónde está pasando?")
    await script.say("Cerca del parque de La Palma", "¿Cuándo lo vio?")
    await script.tap("Hace menos de 30 minutos", "¿Cuántos agentes")
    await script.tap("1–2", "¿Cuántos vehículos?")
    await script.tap("1", "¿Qué letreros")
    await script.tap("Ropa de civil", "algo más")
    await script.tap("Omitir", "foto")
    await script.tap("Omitir", "revise su reporte")
    await script.tap("✅ Enviar", "Reporte recibido")


async def run_demo(out: TextIO) -> list[str]:
    """Play both reporters; returns their reference codes in order."""
    logging.getLogger("telegram").setLevel(logging.WARNING)
    codes: list[str] = []
    async with scratch_database("sqlite") as url:
        await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text(encoding="utf-8")))
        async with BotApiDouble(DEMO_TOKEN) as double:
            settings = Settings(
                _env_file=None, telegram_token=DEMO_TOKEN, telegram_api_url=double.api_url, database_url=url,
                hmac_key="demo-only-hmac-key-not-for-production-use", hotline=DEMO_HOTLINE,
                hotline_name="Puerto Sereno Legal Aid", region_name="Puerto Sereno (fictional)",
            )
            out.write("Sereno demo: a local stand-in for Telegram, the demo region 'Puerto Sereno' (fictional),\n"
                      "a throw-away SQLite database. Two community members report what they see.\n\n")
            async with running_bot(settings, poll_timeout=1) as runtime:
                for title, user, play in (
                    ("Ana reports in English", double.user(100001, "Ana", "en"), english_reporter),
                    ("Luis reporta en español", double.user(100002, "Luis", "es"), spanish_reporter),
                ):
                    out.write(f"━━ {title} " + "━" * (70 - len(title)) + "\n\n")
                    script = Script(double, user, out)
                    await play(script)
                    async with runtime.engine.connect() as conn:
                        code = (await conn.execute(text("SELECT ref_code FROM report ORDER BY created_at DESC"))).first()
                    codes.append(str(code[0]) if code else "")
        out.write("━" * 76 + "\n")
        out.write(f"Reference codes: {', '.join(codes)} — both reports are stored under pseudonyms,\n"
                  "waiting for trained verifiers.\n")
    return codes
