"""Fuzzing the real Application: tens of thousands of generated updates — random and hostile
text, commands, forged buttons, odd places, bogus photos, edits, channel posts, membership
changes and update kinds nobody handles — as whole per-person sequences, so conversations
get deep. Nothing may crash, nobody without authority may change the desk's state, and
everything the bot says must read as a sensible message."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.bot.offline_app import (
    ErrorLog,
    OfflineBot,
    buttons,
    message,
    offline_bot,
    press,
    private,
    user,
)

ADMIN = 1
SEED_REPORTER = 7_000
FUZZ_USERS = range(20_000, 20_400)
GROUPS = (-100_111, -100_222, -42)
TARGET_UPDATES = int(os.environ.get("SERENO_FUZZ_UPDATES", "12000"))
COLLECT = bool(os.environ.get("SERENO_FUZZ_COLLECT"))

# ── text ─────────────────────────────────────────────────────────────────────────────
RTL = ["مرحبا بكم في الحي", "שלום עליכם", "‏اعتقال قرب المحطة‏", "‮evil‬", "ICE ‫عند‬ المدرسة"]
ZERO_WIDTH = ["\u200b", "\u200c\u200d", "\ufeff", "\u2060", "\u00ad", "\u180e", "\u200b" * 50]
TRICKY = [
    "",
    " ",
    "\n\n",
    "None",
    "{name}",
    "{0}",
    "%s",
    "%(x)s",
    "{",
    "}",
    "\x00",
    "\u0000abc",
    "🙂" * 30,
    "Traceback (most recent call last):",
    "<b>bold</b>",
    "*_`[",
    "Skip",
    "Omitir",
    "Pick a neighborhood",
    "Elegir un vecindario",
    "Old Mill",
    "90907",
    "cerca del 90907",
    "Las Palmas",
    "las palmas",
    "99999",
    "Continue",
    "✅ Submit",
    "📝 Report activity",
    "English",
    "Español",
    "/",
    "//",
    "@",
    "\ud7ff",
    "a" * 4097,
    "ñ" * 600,
    "\r\n" * 300,
]
KNOWN_COMMANDS = [
    "start",
    "report",
    "cancel",
    "lawyer",
    "hotline",
    "rights",
    "help",
    "language",
    "subscribe",
    "mysubscriptions",
    "unsubscribe",
    "join",
    "duty",
    "languages",
    "areas",
    "queue",
    "invite",
    "roster",
    "alerts",
    "stats",
    "export",
    "linkchannel",
]

short_text = st.text(max_size=60)
long_text = st.tuples(st.text(min_size=1, max_size=20), st.integers(1000, 10_000)).map(
    lambda p: (p[0] * (p[1] // len(p[0]) + 1))[: p[1]]
)
any_text = st.one_of(
    short_text,
    short_text,
    st.sampled_from(TRICKY),
    st.sampled_from(RTL),
    long_text,
    st.lists(st.sampled_from(ZERO_WIDTH + RTL + ["x", " ", "ICE"]), max_size=20).map("".join),
)
command_name = st.one_of(
    st.sampled_from(KNOWN_COMMANDS), st.sampled_from(KNOWN_COMMANDS), st.from_regex(r"[a-z_]{1,20}", fullmatch=True)
)
command_args = st.one_of(
    st.just(""),
    short_text,
    st.sampled_from(
        [
            "on",
            "off",
            "all",
            "en es",
            "xx",
            "trainee",
            "verifier",
            "coordinator",
            "admin",
            "las-palmas old-mill",
            "ABCD1234",
            "-1",
            "99999999999999999999",
            "²",
            "١٢",
            "7 ²",
            "csv ²",
            "cap 9999999999999999999999",
        ]
    ),
)
command_text = st.builds(
    lambda name, suffix, args: f"/{name}{suffix}" + (f" {args}" if args else ""),
    command_name,
    st.sampled_from(["", "", "", "@sereno_bench_bot", "@other_bot", "@"]),
    command_args,
)


# ── callback data ────────────────────────────────────────────────────────────────────
def forged_templates(incidents: list[str], alerts: list[str]) -> st.SearchStrategy[str]:
    ids = st.one_of(
        st.sampled_from(incidents or ["x"]),
        st.sampled_from(alerts or ["0"]),
        st.uuids().map(str),
        st.integers(-(10**20), 10**20).map(str),
        short_text,
    )
    users = st.sampled_from([ADMIN, SEED_REPORTER, 20_000, 0, -1, 2**63, "²", "١", "0x1", " 1"]).map(str)
    value = st.one_of(
        st.sampled_from(
            [
                "confirmed",
                "debunked",
                "unverifiable",
                "needs_info",
                "admin",
                "coordinator",
                "verifier",
                "revoked",
                "update",
                "clear",
                "active",
                "all_clear",
                "en",
                "es",
                "submit",
                "edit",
                "cancel",
                "summary",
                "now",
                "checkpoint",
                "1",
                "",
            ]
        ),
        short_text,
    )
    prefix = st.sampled_from(
        [
            "d:claim",
            "d:v",
            "d:release",
            "d:merge",
            "d:separate",
            "d:info",
            "a:u",
            "a:c",
            "a",
            "r",
            "f",
            "s:t",
            "s:r",
            "s:loc",
            "s:done",
            "s:all",
            "c",
            "lang",
            "legal",
            "m",
            "r:do",
            "r:activity",
            "r:where",
            "r:nb",
            "r:skip",
            "r:edit",
            "r:lawyer",
            "role",
            "d",
            "",
            "x",
        ]
    )
    data = st.one_of(
        st.builds(lambda p, i, v: f"{p}:{i}:{v}", prefix, ids, value),
        st.builds(lambda p, i: f"{p}:{i}", prefix, ids),
        st.builds(lambda u, v: f"role:{u}:{v}", users, value),
        st.builds(lambda p, i, v, n: f"{p}:{i}:{v}"[:n], prefix, ids, value, st.integers(0, 12)),  # truncated
        st.builds(lambda p, i, v, n: f"{p}:{i}:{v}" * n, prefix, ids, value, st.integers(20, 200)),  # oversized
        st.binary(max_size=64).map(lambda b: b.decode("latin-1")),  # binary-ish
        st.sampled_from(
            [
                "m:report",
                "m:lawyer",
                "m:rights",
                "m:help",
                "m:language",
                "lang:en",
                "lang:es",
                "lang:zz",
                "c:deadbeef",
                "c:0000000",
                "legal:",
                "legal:las-palmas",
                "s:t:ffffffff",
            ]
        ),
    )
    return data


# ── places ───────────────────────────────────────────────────────────────────────────
locations = st.one_of(
    st.sampled_from(
        [
            (90.0, 0.0),
            (-90.0, 0.0),
            (90.0, 180.0),
            (-90.0, -180.0),
            (0.0, 180.0),
            (0.0, -180.0),
            (34.0565, -118.2577),
            (34.0565, 179.9999),
            (51.5, -0.1),
            (0.0, 0.0),
            (91.0, 0.0),
            (0.0, 181.0),
            (-1000.0, 1000.0),
            (1e300, -1e300),
        ]
    ),
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.floats(33.9, 34.2), st.floats(-118.4, -118.1)),
)

# ── actions: one person's sequence ──────────────────────────────────────────────────
action = st.one_of(
    st.tuples(st.just("press"), st.integers(0, 30)),  # a button the bot showed last (keeps conversations going)
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("press_old"), st.integers(0, 50), st.integers(0, 30)),  # a stale keyboard
    st.tuples(st.just("text"), any_text),
    st.tuples(st.just("command"), command_text),
    st.tuples(st.just("forged"), st.integers(0, 10**6), st.sampled_from(["shown", "shown", "none", "other"])),
    st.tuples(st.just("location"), locations, st.one_of(st.none(), st.floats(0, 1500), st.just(-5.0))),
    st.tuples(st.just("photo"), st.text(max_size=40), st.one_of(st.none(), st.integers(0, 2**31))),
    st.tuples(st.just("document"), st.sampled_from(["image/jpeg", "image/png", "video/mp4", "application/pdf", None])),
    st.tuples(
        st.just("media"),
        st.sampled_from(
            [
                "video",
                "voice",
                "audio",
                "sticker",
                "contact",
                "dice",
                "location_live",
                "venue",
                "new_chat_members",
                "left_chat_member",
                "caption_only",
            ]
        ),
    ),
    st.tuples(st.just("edited"), any_text),
    st.tuples(st.just("channel_post"), st.one_of(any_text, st.builds(lambda a: f"/linkchannel {a}", short_text))),
    st.tuples(st.just("my_chat_member"), st.sampled_from(["member", "kicked", "left", "administrator"])),
    st.tuples(
        st.just("odd"),
        st.sampled_from(
            ["inline_query", "poll_answer", "chat_join_request", "chat_member", "message_reaction", "empty", "shipping_query"]
        ),
    ),
    st.tuples(st.just("redeliver")),
)
person = st.fixed_dictionaries(
    {
        "user": st.sampled_from(FUZZ_USERS),
        "language": st.sampled_from([None, "en", "es", "fr", "ar", "zh-hans", "", "es-MX", "EN"]),
        "chat": st.sampled_from(["private"] * 4 + list(GROUPS)),
        "actions": st.lists(action, min_size=5, max_size=60),
    }
)
batch = st.lists(person, min_size=1, max_size=5)

COORDINATOR, VERIFIER = 2, 3
STAFF = (ADMIN, COORDINATOR, VERIFIER)
STAFF_UPDATES = int(os.environ.get("SERENO_FUZZ_STAFF_UPDATES", "4000"))
staff_command = st.sampled_from(
    [
        "/duty on",
        "/duty off",
        "/queue",
        "/roster",
        "/alerts",
        "/stats",
        "/stats ²",
        "/stats 0",
        "/stats 99999999999999999999",
        "/export",
        "/export csv ²",
        "/invite",
        "/invite trainee",
        "/invite verifier",
        "/invite coordinator",
        "/invite admin",
        "/areas all",
        "/areas las-palmas",
        "/areas nowhere",
        "/languages en es",
        "/languages xx",
        "/linkchannel",
        "/join ABCD-EFGH",
        "/subscribe",
        "/mysubscriptions",
    ]
)
staff_action = st.one_of(
    action,
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("command"), staff_command),
    st.tuples(st.just("command"), staff_command),
)
staff_person = st.fixed_dictionaries(
    {
        "user": st.sampled_from(STAFF),
        "language": st.sampled_from([None, "en", "es"]),
        "chat": st.sampled_from(["private"] * 6 + list(GROUPS)),
        "actions": st.lists(staff_action, min_size=5, max_size=60),
    }
)
staff_batch = st.tuples(
    st.lists(staff_person, min_size=1, max_size=2, unique_by=lambda p: p["user"]), st.lists(person, min_size=1, max_size=3)
).map(lambda pair: pair[0] + pair[1])


class Fuzzer:
    """Turns abstract actions into updates for the running bot and checks its replies."""

    def __init__(self, bot: OfflineBot, incidents: list[str], alerts: list[str]) -> None:
        self.bot = bot
        self.processed = 0
        self.inputs: set[str] = set()
        self.checked = 0
        self.forged = forged_templates(incidents, alerts)
        self.forged_pool: list[str] = []

    def chat_of(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["chat"] == "private":
            return private(p["user"])
        return {"id": p["chat"], "type": "supergroup" if p["chat"] < -100_000 else "group", "title": "Fuzz group"}

    def payload(self, p: dict[str, Any], act: tuple[Any, ...], last: dict[str, Any] | None) -> dict[str, Any] | None:
        uid = self.bot.update_id()
        sender = user(p["user"], p["language"])
        chat = self.chat_of(p)
        kind = act[0]
        shown_all = self.bot.request.keyboards.get(chat["id"], [])
        if kind == "press":
            if not shown_all:
                return message(uid, sender, chat, "/start")
            shown = shown_all[-1]
            data = buttons(shown)
            return press(uid, sender, shown, data[act[1] % len(data)]) if data else None
        if kind == "press_old":
            if not shown_all:
                return None
            shown = shown_all[-1 - act[1] % len(shown_all)]
            data = buttons(shown)
            return press(uid, sender, shown, data[act[2] % len(data)]) if data else None
        if kind == "text":
            self.inputs.add(act[1])
            return message(uid, sender, chat, act[1])
        if kind == "command":
            self.inputs.add(act[1])
            return message(uid, sender, chat, act[1])
        if kind == "forged":
            data = self.forged_pool[act[1] % len(self.forged_pool)]
            self.inputs.add(data)
            where = act[2]
            shown = shown_all[-1] if where == "shown" and shown_all else None
            if where == "other":
                shown = {"message_id": act[1], "date": int(time.time()), "chat": chat, "text": "old"}
            return press(uid, sender, shown, data)
        if kind == "location":
            (lat, lon), accuracy = act[1], act[2]
            loc: dict[str, Any] = {"latitude": lat, "longitude": lon}
            if accuracy is not None:
                loc["horizontal_accuracy"] = accuracy
            return message(uid, sender, chat, location=loc)
        if kind == "photo":
            size: dict[str, Any] = {"file_id": act[1] or "x", "file_unique_id": "u", "width": 10, "height": 10}
            if act[2] is not None:
                size["file_size"] = act[2]
            return message(uid, sender, chat, photo=[size])
        if kind == "document":
            doc: dict[str, Any] = {"file_id": "bogus-doc", "file_unique_id": "d", "file_name": "x.bin"}
            if act[1]:
                doc["mime_type"] = act[1]
            return message(uid, sender, chat, document=doc)
        if kind == "media":
            return message(uid, sender, chat, **MEDIA[act[1]](uid))
        if kind == "edited":
            self.inputs.add(act[1])
            body = message(uid, sender, chat, act[1])["message"]
            body["edit_date"] = int(time.time())
            return {"update_id": uid, "edited_message": body}
        if kind == "channel_post":
            self.inputs.add(act[1])
            body = message(uid, sender, {"id": -1_009_999, "type": "channel", "title": "News"}, act[1])["message"]
            del body["from"]
            return {"update_id": uid, "channel_post": body}
        if kind == "my_chat_member":
            bot_user = {"id": 999000, "is_bot": True, "first_name": "Sereno"}
            return {
                "update_id": uid,
                "my_chat_member": {
                    "chat": chat,
                    "from": sender,
                    "date": int(time.time()),
                    "old_chat_member": {"status": "member", "user": bot_user},
                    "new_chat_member": {"status": act[1], "user": bot_user, "until_date": 0}
                    if act[1] == "kicked"
                    else _member(act[1], bot_user),
                },
            }
        if kind == "odd":
            return ODD[act[1]](uid, sender, chat)
        if kind == "redeliver":
            return last
        raise AssertionError(kind)

    async def play(self, people: list[dict[str, Any]]) -> None:
        await asyncio.gather(*(self.play_one(p) for p in people))

    async def play_one(self, p: dict[str, Any]) -> None:
        last: dict[str, Any] | None = None
        for act in p["actions"]:
            payload = self.payload(p, act, last)
            if payload is None:
                continue
            await self.bot.feed(payload)
            self.processed += 1
            last = payload

    def check_replies(self) -> None:
        """Everything said since the last check reads as a sensible message."""
        said = self.bot.request.said[self.checked :]
        self.checked = len(self.bot.request.said)
        for item in said:
            if item.method == "answercallbackquery":
                if item.text is not None:
                    assert 0 < len(item.text) <= 200, item
                    self.sensible(item.text, item)
                continue
            assert item.text is not None and item.text.strip(), item
            limit = 1024 if item.method in ("senddocument", "sendphoto") else 4096
            assert len(item.text) <= limit, (item.method, len(item.text), item.text[:200])
            self.sensible(item.text, item)
            for row in (item.markup or {}).get("inline_keyboard", []):
                for b in row:
                    assert b.get("text", "").strip(), item
                    if "callback_data" in b:
                        assert 1 <= len(b["callback_data"].encode()) <= 64, b
            for row in (item.markup or {}).get("keyboard", []):
                for b in row:
                    label = b if isinstance(b, str) else b.get("text", "")
                    assert label.strip(), item

    def sensible(self, said: str, item: object) -> None:
        for pattern in (r"Traceback|Exception|Error:", r"\bNone\b(?! seen)", r"\{[A-Za-z_0-9]*\}", r"%\(\w+\)s", r"%s"):
            for found in re.findall(pattern, said):
                assert any(found in sent for sent in self.inputs), f"{found!r} in a reply: {item}"


def _member(status: str, bot_user: dict[str, Any]) -> dict[str, Any]:
    if status == "administrator":
        return {
            "status": status,
            "user": bot_user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": False,
            "can_manage_video_chats": False,
            "can_restrict_members": False,
            "can_promote_members": False,
            "can_change_info": False,
            "can_invite_users": False,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
        }
    return {"status": status, "user": bot_user}


MEDIA = {
    "video": lambda u: {"video": {"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1, "duration": 1}},
    "voice": lambda u: {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 1}},
    "audio": lambda u: {"audio": {"file_id": "a", "file_unique_id": "a", "duration": 1}},
    "sticker": lambda u: {
        "sticker": {
            "file_id": "s",
            "file_unique_id": "s",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
    },
    "contact": lambda u: {"contact": {"phone_number": "+15550100", "first_name": "X"}},
    "dice": lambda u: {"dice": {"emoji": "🎲", "value": 3}},
    "location_live": lambda u: {"location": {"latitude": 34.05, "longitude": -118.25, "live_period": 60}},
    "venue": lambda u: {
        "venue": {"location": {"latitude": 34.05, "longitude": -118.25}, "title": "Old Mill", "address": "x"},
        "location": {"latitude": 34.05, "longitude": -118.25},
    },
    "new_chat_members": lambda u: {"new_chat_members": [{"id": 999000, "is_bot": True, "first_name": "Sereno"}]},
    "left_chat_member": lambda u: {"left_chat_member": {"id": 5, "is_bot": False, "first_name": "X"}},
    "caption_only": lambda u: {"caption": "{name} None Traceback"},
}

ODD = {
    "inline_query": lambda u, s, c: {"update_id": u, "inline_query": {"id": str(u), "from": s, "query": "x", "offset": ""}},
    "poll_answer": lambda u, s, c: {
        "update_id": u,
        "poll_answer": {"poll_id": "p", "user": s, "option_ids": [0], "option_persistent_ids": ["0"]},
    },
    "chat_join_request": lambda u, s, c: {
        "update_id": u,
        "chat_join_request": {"chat": c, "from": s, "user_chat_id": s["id"], "date": int(time.time())},
    },
    "chat_member": lambda u, s, c: {
        "update_id": u,
        "chat_member": {
            "chat": c,
            "from": s,
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": s},
            "new_chat_member": {"status": "member", "user": s},
        },
    },
    "message_reaction": lambda u, s, c: {
        "update_id": u,
        "message_reaction": {
            "chat": c,
            "message_id": 1,
            "user": s,
            "date": int(time.time()),
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": "👍"}],
        },
    },
    "empty": lambda u, s, c: {"update_id": u},
    "shipping_query": lambda u, s, c: {
        "update_id": u,
        "shipping_query": {
            "id": str(u),
            "from": s,
            "invoice_payload": "x",
            "shipping_address": {
                "country_code": "US",
                "state": "",
                "city": "x",
                "street_line1": "x",
                "street_line2": "",
                "post_code": "1",
            },
        },
    },
}


# ── the test ─────────────────────────────────────────────────────────────────────────
async def seed(bot: OfflineBot) -> dict[str, Any]:
    """A desk to attack: an admin, an unused invite, and two reports (so incidents exist)."""
    from sereno.verify.members import Role

    invite = await bot.runtime.services.roster.invite(ADMIN, Role.VERIFIER)
    sender, chat = user(SEED_REPORTER), private(SEED_REPORTER)
    script: list[str | tuple[str, ...]] = [
        "/start",
        "/report",
        ":activity:checkpoint",
        "pin",
        ":when:now",
        ":agents:3-5",
        ":vehicles:2-3",
        ":uniform:ice",
        ":skip:details",
        ":skip:photo",
        ":do:submit",
    ]
    for _ in range(2):
        for step in script:
            uid = bot.update_id()
            if step == "pin":
                await bot.feed(message(uid, sender, chat, location={"latitude": 34.0565, "longitude": -118.2577}))
            elif isinstance(step, str) and step.startswith("/"):
                await bot.feed(message(uid, sender, chat, step))
            else:
                shown = bot.request.keyboards[SEED_REPORTER][-1]
                data = next(d for d in buttons(shown) if d.endswith(str(step)))
                await bot.feed(press(uid, sender, shown, data))
    await asyncio.sleep(0.2)
    return {"invite": invite.code}


async def make_staff(bot: OfflineBot) -> None:
    """A coordinator and a verifier beside the admin, all on duty everywhere."""
    from sereno.verify.members import Role

    roster = bot.runtime.services.roster
    for person, role in ((COORDINATOR, Role.COORDINATOR), (VERIFIER, Role.VERIFIER)):
        invite = await roster.invite(ADMIN, role)
        await roster.redeem(invite.code, person, f"staff{person}")
    for person in STAFF:
        for command in ("/duty on", "/areas all", "/languages en es"):
            await bot.feed(message(bot.update_id(), user(person), private(person), command))


async def desk_state(bot: OfflineBot) -> dict[str, Any]:
    return {
        "verifiers": await bot.rows("SELECT user_id, role, languages, neighborhoods, on_duty FROM verifier ORDER BY user_id"),
        "invites": await bot.rows("SELECT code, used_by FROM invite ORDER BY code"),
        "claims": await bot.rows("SELECT id FROM incident WHERE claimed_by IS NOT NULL OR first_claimed_at IS NOT NULL"),
        "decided": await bot.rows("SELECT id FROM incident WHERE verdict IS NOT NULL OR decided_at IS NOT NULL"),
        "verdicts": await bot.rows("SELECT * FROM verdict"),
        "alerts": await bot.rows("SELECT id FROM alert"),
        "outbox": await bot.rows("SELECT id FROM outbox"),
        "follow_ups": await bot.rows("SELECT id FROM follow_up"),
        "channels": await bot.rows("SELECT * FROM channel_link"),
    }


@pytest.mark.slow
def test_fuzzed_updates_never_crash_never_grant_authority_and_read_well(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    errors = ErrorLog()
    import logging

    logging.getLogger().addHandler(errors)
    started = time.perf_counter()
    context = offline_bot(
        tmp_path, admin_ids=str(ADMIN), flood_max_updates=120, reports_per_window=20, send_group_per_minute=1_000_000
    )  # 20 a minute per group is Telegram's, not under test
    bot = loop.run_until_complete(context.__aenter__())
    try:
        loop.run_until_complete(seed(bot))
        before = loop.run_until_complete(desk_state(bot))
        incidents = [r["id"] for r in loop.run_until_complete(bot.rows("SELECT id FROM incident"))]
        assert incidents, "the seed reports opened no incident"
        fuzzer = Fuzzer(bot, incidents, [])
        seen_errors = 0

        def fuzz_until(target: int, people: st.SearchStrategy[list[dict[str, Any]]]) -> None:
            @settings(
                max_examples=120, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
            )
            @given(people=people, forged=st.lists(fuzzer.forged, min_size=1, max_size=20))
            def run(people: list[dict[str, Any]], forged: list[str]) -> None:
                nonlocal seen_errors
                fuzzer.forged_pool = forged
                loop.run_until_complete(fuzzer.play(people))
                fuzzer.check_replies()
                if COLLECT:
                    print(f"{fuzzer.processed} updates, {time.perf_counter() - started:.1f} s", flush=True)
                new = bot.errors[seen_errors:]
                seen_errors = len(bot.errors)
                if not COLLECT:
                    assert not new, [(repr(u), repr(e)) for u, e in new]

            while fuzzer.processed < target:
                run()

        # 1. people without any role: whatever they send, the desk must not move
        fuzz_until(TARGET_UPDATES, batch)
        loop.run_until_complete(asyncio.sleep(0.3))
        assert loop.run_until_complete(desk_state(bot)) == before
        unprivileged = fuzzer.processed
        # 2. the desk itself (an admin, a coordinator, a verifier) fuzzed alongside reporters:
        #    authority is theirs, but nothing may crash and every reply must still read well
        loop.run_until_complete(make_staff(bot))
        fuzz_until(unprivileged + STAFF_UPDATES, staff_batch)
        loop.run_until_complete(asyncio.sleep(0.3))
        if COLLECT:
            import collections
            import traceback

            kinds = collections.Counter((i.method, (i.text or "")[:70]) for i in bot.request.said)
            for k, n in kinds.most_common(80):
                print(n, k)
            sites = {}
            for u, e in bot.errors:
                tb = traceback.extract_tb(e.__traceback__)[-1] if e is not None and e.__traceback__ else None
                sites.setdefault((type(e).__name__, str(tb)), (u, e))
            for key, (u, e) in sites.items():
                print("ERROR SITE", key, repr(e)[:300], repr(u))
        fuzzer.check_replies()
        assert not bot.errors, bot.errors[:3]
        assert not errors.records, [r.getMessage() for r in errors.records[:5]]
        reports = loop.run_until_complete(bot.rows("SELECT count(*) AS n FROM report"))[0]["n"]
        elapsed = time.perf_counter() - started
        print(
            f"\nfuzzed {fuzzer.processed} updates in {elapsed:.1f} s; {len(bot.request.said)} replies checked; "
            f"{reports} reports stored; desk state unchanged after the first {unprivileged} (no role)"
        )
        assert unprivileged >= TARGET_UPDATES
    finally:
        logging.getLogger().removeHandler(errors)
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()
