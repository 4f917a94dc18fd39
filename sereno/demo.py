"""`sereno demo`: the bot against a local Bot API double, on a throw-away SQLite database.
Two verifiers join the desk by invite; the coordinator links a neighborhood channel; two
neighbors subscribe (one in Spanish); two community members (English and Spanish) report
the same event; the desk merges the second report into the first incident, two verifiers
confirm it, both reporters are told the outcome, the verified alert reaches the channel
and the subscribers, and later the all-clear. A rumor the desk debunks gets a calm
correction in the channel. A verifier sends a field verifier to look at a new report: he
goes, reports what he sees from the scene, and checks in safe. Last, a new volunteer joins
as a trainee and works a practice drill with the desk's own buttons, then gets the answer
and why. Every chat is printed as a transcript."""

from __future__ import annotations

import logging
import re
import textwrap
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

import yaml

from sereno.bootstrap import Runtime, replace_neighborhoods, running_bot, scratch_database
from sereno.config import Settings
from sereno.data import DEMO_REGION, STARTER_DRILLS
from sereno.double import BotApiDouble, FakeUser
from sereno.verify.incidents import Verdict
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.places import parse_geojson
from sereno.verify.refcodes import ALPHABET, LENGTH, PREFIX

DEMO_TOKEN = "424242:DEMO-not-a-real-token"
DEMO_HOTLINE = "555-0100 (fictional demo number)"
SHOWN_METHODS = ("sendMessage", "editMessageText", "sendPhoto")
REF_CODE = re.compile(rf"{PREFIX}[{ALPHABET}]{{{LENGTH}}}")


class Script:
    """Plays one person and writes their chat as a transcript."""

    def __init__(self, double: BotApiDouble, user: FakeUser, out: TextIO) -> None:
        self.double = double
        self.user = user
        self.chat_id = user.chat_id
        self.name = str(user.user_dict["first_name"])
        self.out = out
        self._seen = 0

    def _calls(self) -> list[Any]:
        return [
            c
            for c in self.double.calls
            if c.method in SHOWN_METHODS and c.ok and str(c.params.get("chat_id")) == str(self.chat_id)
        ]

    def _bot_lines(self) -> None:
        calls = self._calls()
        for call in calls[self._seen :]:
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
        self._write(f"  👤 {self.name}:", text)
        await (self.user.send_command(text) if text.startswith("/") else self.user.send_text(text))
        await self._then(expect)

    async def tap(self, button: str, expect: str, *, on: str | None = None) -> None:
        """The person taps `button` (on the latest message containing `on`, if given)."""
        self._write(f"  👤 {self.name}:", f"(taps [{button}])")
        message = next((m for m in reversed(self.user.messages()) if on in (m.text or "")), None) if on else None
        await self.user.press(button, message=message)
        await self._then(expect)

    async def receive(self, expect: str) -> None:
        """Wait, without acting, until the bot sends this person something containing
        `expect`, then print what arrived."""
        seen = self._seen
        await self.double.wait_until(
            lambda: any(expect in str(c.params.get("text", "")) for c in self._calls()[seen:]),
            timeout=10,
            description=f"{expect!r} for {self.name}",
        )
        self.out.write(f"  📬 {self.name} receives:\n")
        self._bot_lines()
        self.out.write("\n")

    def reference_code(self) -> str:
        """The reference code in the latest message that gave this person one."""
        for message in reversed(self.user.messages()):
            if found := REF_CODE.search(message.text or ""):
                return found.group()
        raise AssertionError(f"{self.name} was given no reference code")

    async def pin(self, lat: float, lon: float, expect: str) -> None:
        """The reporter shares a location."""
        self._write(f"  👤 {self.name}:", "(shares a location pin)")
        await self.user.share_location(lat, lon, horizontal_accuracy=15)
        await self._then(expect)


class Channel(Script):
    """A neighborhood channel: only shows what the bot posts there."""

    def __init__(self, double: BotApiDouble, chat_id: int, title: str, out: TextIO) -> None:
        self.double = double
        self.chat_id = chat_id
        self.title = self.name = title
        self.out = out
        self._seen = 0
        double.add_chat(chat_id, type="channel", title=title)

    def post(self, text: str) -> None:
        """An admin posts `text` in the channel."""
        self._write(f"  📣 (an admin posts in {self.title}):", text)
        self.double.push_update(
            {
                "channel_post": {
                    "message_id": len(self._calls()) + 1,
                    "date": 0,
                    "text": text,
                    "chat": {"id": self.chat_id, "type": "channel", "title": self.title},
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
                }
            }
        )


def _buttons(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]


async def invite(admin: Script, role: str) -> str:
    """The coordinator asks for an invite code for `role`; returns the code."""
    await admin.say(f"/invite {role}", f"Invite code for a {role}")
    code = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", admin.user.messages()[-1].text or "")
    assert code is not None
    return code.group()


async def desk_joins(admin: Script, marta: Script, jon: Script) -> None:
    for verifier in (marta, jon):
        await verifier.say(f"/join {await invite(admin, 'verifier')}", "Welcome to the desk")
        await verifier.say("/languages en es", "Languages")
        await verifier.say("/duty on", "You are on duty")


async def channel_is_linked(admin: Script, channel: Channel, place: str) -> None:
    await admin.say("/linkchannel", "Which neighborhood")
    await admin.tap(place, "post this there")
    command = (admin.user.messages()[-1].text or "").splitlines()[-1]
    channel.double.set_chat_member(channel.chat_id, channel.double.bot_user["id"], "administrator")
    channel.post(command)
    await channel.receive("will receive verified alerts")
    await admin.receive("Linked")


async def neighbors_subscribe(sofia: Script, carmen: Script) -> None:
    await sofia.say("/start", "Your privacy")
    await sofia.say("/subscribe", "Choose the neighborhoods")
    await sofia.tap("Mission Flats", "Choose the neighborhoods")
    await sofia.tap("Done", "You get verified alerts for: Mission Flats")
    await carmen.say("/start", "Su privacidad")
    await carmen.say("/subscribe", "Elija los vecindarios")
    await carmen.tap("Mission Flats", "Elija los vecindarios")
    await carmen.tap("Listo", "Mission Flats")


async def english_reporter(script: Script) -> None:
    await script.say("/start", "Your privacy")
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
    await script.say("/start", "Su privacidad")
    await script.say("/report", "¿Qué está pasando?")
    await script.tap("Agentes presentes o reuniéndose", "¿Dónde está pasando?")
    await script.say("Cerca de la Misión, por la lavandería", "¿Cuándo lo vio?")
    await script.tap("Está pasando ahora", "¿Cuántos agentes")
    await script.tap("3–5", "¿Cuántos vehículos?")
    await script.tap("2–3", "¿Qué letreros")
    await script.tap("ICE", "algo más")
    await script.tap("Omitir", "foto")
    await script.tap("Omitir", "revise su reporte")
    await script.tap("✅ Enviar", "Reporte recibido")


async def desk_verifies(marta: Script, jon: Script) -> None:
    await marta.receive("Possibly the same event")
    await marta.tap("Merge", "Reports: 2", on="Possibly the same event")
    await marta.tap("Claim", "Claimed until", on="Reports: 2")
    await marta.tap("✅ Confirmed", "Send a short reason")
    await marta.say("Saw the vests and the SUVs from across the street", "A second verifier must agree")
    await jon.say("/queue", "Reports: 2")
    await jon.tap("Claim", "Claimed until", on="Reports: 2")
    await jon.tap("✅ Confirmed", "Send a short reason")
    await jon.say("A trusted responder on site confirms", "Decided: Confirmed")


async def run_demo(out: TextIO, database_url: str | None = None) -> list[str]:
    """Play the whole story (on a throw-away SQLite database unless `database_url` names an
    empty one); returns the two scripted reporters' reference codes in order."""
    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
    codes: list[str] = []
    async with _database(database_url) as url:
        await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text(encoding="utf-8")))
        async with BotApiDouble(DEMO_TOKEN) as double:
            settings = Settings(
                _env_file=None,
                telegram_token=DEMO_TOKEN,
                telegram_api_url=double.api_url,
                database_url=url,
                hmac_key="demo-only-hmac-key-not-for-production-use",
                hotline=DEMO_HOTLINE,
                hotline_name="Puerto Sereno Legal Aid",
                region_name="Puerto Sereno (fictional)",
                admin_ids="100000",
            )
            out.write(
                "Sereno demo: a local stand-in for Telegram, the demo region 'Puerto Sereno' (fictional),\n"
                "a throw-away SQLite database. Two community members report what they see; trained\n"
                "verifiers check it before anything else happens.\n\n"
            )
            async with running_bot(settings, poll_timeout=1) as runtime:
                admin, marta, jon = (
                    Script(double, double.user(uid, name, "en"), out)
                    for uid, name in ((100000, "Coordinator"), (100010, "Marta"), (100011, "Jon"))
                )
                ana = Script(double, double.user(100001, "Ana", "en"), out)
                luis = Script(double, double.user(100002, "Luis", "es"), out)
                sofia = Script(double, double.user(100003, "Sofia", "en"), out)
                carmen = Script(double, double.user(100004, "Carmen", "es"), out)
                channel = Channel(double, -1001000000001, "Puerto Sereno alerts", out)
                _section(out, "The desk: a coordinator invites two verifiers")
                await desk_joins(admin, marta, jon)
                _section(out, "The coordinator links the neighborhood channel")
                await channel_is_linked(admin, channel, "Mission Flats")
                await channel_is_linked(admin, channel, "Old Mill")
                _section(out, "Two neighbors subscribe to Mission Flats")
                await neighbors_subscribe(sofia, carmen)
                _section(out, "Ana reports in English")
                await english_reporter(ana)
                _section(out, "Luis reporta en español")
                await spanish_reporter(luis)
                _section(out, "The desk merges the two reports and verifies them")
                await desk_verifies(marta, jon)
                _section(out, "Both reporters are told the outcome")
                await ana.receive("Update on your report")
                await luis.receive("Novedades sobre su reporte")
                codes = [ana.reference_code(), luis.reference_code()]
                _section(out, "The verified alert reaches the channel and the subscribers")
                await channel.receive("Verified alert: Mission Flats")
                await sofia.receive("Verified alert: Mission Flats")
                await carmen.receive("Alerta verificada")
                _section(out, "Later, the coordinator posts the all-clear")
                await admin.say("/alerts", "Mission Flats")
                await admin.tap("All clear", "messages queued")
                await channel.receive("All clear")
                await sofia.receive("activity has ended")
                await carmen.receive("Todo despejado")
                _section(out, "A rumor in Old Mill is debunked and corrected")
                await rumor_is_debunked(runtime, double, marta, jon)
                await channel.receive("Rumor check: Old Mill")
                _section(out, "Eyes on the ground: a field verifier is sent to look")
                await field_verifier_is_sent(runtime, double, marta, jon, admin)
                _section(out, "A new volunteer trains on a practice drill")
                await trainee_practises(runtime, admin, Script(double, double.user(100012, "Teo", "en"), out))
        out.write("━" * 76 + "\n")
        out.write(
            f"Reference codes: {', '.join(codes)} — one incident, confirmed by two verifiers; both\n"
            "reporters were told, and their contact details are gone. The alert reached one channel and\n"
            "two subscribers, then the all-clear; a debunked rumor got a correction. A field verifier\n"
            "was sent to look, reported from the scene and checked in safe. A new trainee worked a\n"
            "practice drill, which nobody else saw, and got feedback.\n"
        )
    return codes


async def rumor_is_debunked(runtime: Runtime, double: BotApiDouble, marta: Script, jon: Script) -> None:
    """Three neighbors report a checkpoint in Old Mill; two verifiers find a utility crew;
    the three are told, like every reporter."""
    marta.out.write(
        "  (three people report a checkpoint in Old Mill; Marta and Jon check with a shop owner\n"
        "   and the city: it is a utility crew)\n\n"
    )
    services = runtime.services
    incident_id = ""
    for n in range(3):
        neighbor = double.user(200_000 + n, f"Neighbor {n + 1}", "en")
        draft = ReportDraft(
            uuid.uuid4().hex, activity=Activity.CHECKPOINT, point=GeoPoint(34.0574, -118.2130), neighborhood_id="old-mill"
        )
        submitted = await services.intake.submit(draft, neighbor.user_dict["id"], neighbor.chat_id, "en")
        assert submitted.incident is not None
        incident_id = submitted.incident.id
    for verifier in (marta, jon):
        await services.desk.claim(verifier.user.chat_id, incident_id)
        result = await services.desk.decide(verifier.user.chat_id, incident_id, Verdict.DEBUNKED, "a utility crew, not agents")
        await runtime.notifier.verdict(runtime.application.bot, result)
    services.broadcast_queued()


async def field_verifier_is_sent(runtime: Runtime, double: BotApiDouble, marta: Script, jon: Script, admin: Script) -> None:
    """Jon opts in as a field verifier; a neighbor reports agents in Las Palmas; Marta taps
    Send someone; Jon goes (10 min), reports from the scene what he sees (SALUTE), and
    checks in safe. His report is his verdict; the coordinator sees who went."""
    await jon.say("/field on", "You are a field verifier")
    marta.out.write("  (a neighbor reports agents gathering in Las Palmas)\n\n")
    las_palmas = runtime.services.places.gazetteer.get("las-palmas")
    assert las_palmas is not None
    neighbor = double.user(200_010, "Neighbor", "en")
    draft = ReportDraft(uuid.uuid4().hex, activity=Activity.PRESENCE, point=las_palmas.centroid, neighborhood_id="las-palmas")
    submitted = await runtime.services.intake.submit(draft, neighbor.user_dict["id"], neighbor.chat_id, "en")
    await runtime.notifier.submitted(runtime.application.bot, submitted)
    await marta.receive("Agents present or gathering")
    await jon.receive("Agents present or gathering")
    await marta.tap("🚶 Send someone", "asking someone to go", on="Agents present or gathering")
    await jon.receive("Can you go and look?")
    await jon.tap("10 min", "When you have looked, tap what you found.")
    await marta.receive("is on the way")
    await jon.tap("✅ Confirmed: I can see it", "Size: how many agents?")
    await jon.tap("3–5", "How many vehicles?")
    await jon.tap("1", "Activity: what are they doing?")
    await jon.tap("Agents present or gathering", "Uniform: what markings?")
    await jon.tap("ICE", "Equipment: what vehicles or gear?")
    await jon.tap("Unmarked SUV", "Direction of travel?")
    await jon.tap("Not moving", "In a few words")
    await jon.say("Agents standing by an unmarked SUV at the park entrance", "send one photo")
    await jon.tap("Send without photo", "Your on-site report (confirmed)")
    await marta.receive("The on-site report for the incident")
    await admin.say("/dispatches", "Jon")
    await jon.tap("🏠 I'm safe and gone", "Your visit is closed")


async def trainee_practises(runtime: Runtime, admin: Script, teo: Script) -> None:
    """The coordinator loads the starter scenarios and invites a trainee, who works one
    practice drill: claim, verdict, reason, then the answer and why."""
    admin.out.write(
        "  (the coordinator loads the 16 starter drill scenarios: /drills → Import scenarios, or\n"
        "   `sereno admin import-drills sereno/data/drills.yaml`)\n\n"
    )
    scenarios = yaml.safe_load(STARTER_DRILLS.read_text(encoding="utf-8"))
    await runtime.services.training.import_scenarios(admin.user.chat_id, scenarios)
    await teo.say(f"/join {await invite(admin, 'trainee')}", "Welcome to the desk as trainee")
    await teo.say("/drills", "Your drills:")
    await teo.tap("Practice a drill", "PRACTICE DRILL")
    await teo.tap("Claim", "Claimed until", on="PRACTICE DRILL")
    await teo.tap("✅ Confirmed", "Send a short reason")
    await teo.say("Several vehicles and agents in marked vests, seen by more than one person", "Why:")


@asynccontextmanager
async def _database(url: str | None) -> AsyncIterator[str]:
    if url is not None:
        yield url
        return
    async with scratch_database("sqlite") as scratch:
        yield scratch


def _section(out: TextIO, title: str) -> None:
    out.write(f"━━ {title} " + "━" * max(4, 70 - len(title)) + "\n\n")
