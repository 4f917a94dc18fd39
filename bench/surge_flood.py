"""Surge and false-tip flood: do two real events still reach the desk fast, and first?

Issue 18: 2,000 reports in 10 minutes, 90 % from 50 hostile pseudonyms scattered over the
region and 10 % genuine around two real events; the two genuine incidents must reach
on-duty verifiers within 5 s at p99 and sit at the top of `/queue`.

Sereno runs as deployed (`running_bot`, long polling) against the HTTP Bot API double, on a
scratch database, with verifiers and coordinators on duty, over a region of 16
neighborhoods (a 4 × 4 grid of 1.5 km squares). Every report is played the way a person
makes it: the whole report conversation through updates (/report, the activity, a pin,
when, agents, vehicles, markings, details, skip the photo, Submit); a reporter refused by
the rate limit is told so at Submit, or at /report once the bot knows, and cancels.

- Hostile: 50 pseudonyms, 1,800 reports at random times, each at a random point of a random
  neighborhood, with random activities (urgent claims included), times and details.
- Genuine: 200 reporters (one report each, distinct pseudonyms) around two real events,
  within 300 m of each: a workplace raid (urgent) from minute 2, a checkpoint (high) from
  minute 4.5; mostly consistent details (a few say "agents present", another band, skip).

Time is compressed: the bot's clock runs `--speed` times faster than the wall (the 10
simulated minutes take 600 / speed s), so the rate limit, clustering and the unclaimed
pings see the 10 minutes; latencies are wall time, from a genuine reporter's Submit press
to the double receiving the incident's card for an on-duty verifier (first recipient, and
the last one). A baseline run plays the same genuine reports with no flood (fresh
database, same speed): the ratio is flood ÷ baseline, in the same run.

Afterwards: reports stored and refused, the desk queue (`DeskService.queue`, and `/queue`
through the double) with the genuine incidents' positions, and the cards (pings) desk
members received. The simulated people, the double and the bot share this process and two
cores: the figures show the whole machine under load. The send gate is raised to 1,000
msg/s and the per-chat update flood guard to 10,000 per window (as the other benches do):
compression multiplies per-chat and overall rates, and neither is what is measured here
(bench/flood.py measures the guard).

    python bench/surge_flood.py [--reports 2000] [--speed 10] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from sereno.bootstrap import Runtime, running_bot  # noqa: E402
from sereno.bot.render import ACTIVITY_LABELS, AGENT_LABELS, TIME_LABELS, UNIFORM_LABELS, VEHICLE_LABELS  # noqa: E402
from sereno.config import Settings  # noqa: E402
from sereno.double import BotApiDouble, FakeUser, SentMessage  # noqa: E402
from sereno.storage.admin import migrate, replace_neighborhoods  # noqa: E402
from sereno.storage.engine import make_engine  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory  # noqa: E402
from sereno.verify.intake import Submitted  # noqa: E402
from sereno.verify.members import Role  # noqa: E402
from sereno.verify.model import Activity, AgentCount, ReportDraft, TimeSeen, Uniform, VehicleCount  # noqa: E402
from sereno.verify.places import Neighborhood, parse_geojson  # noqa: E402
from sereno.verify.pseudonyms import Pseudonymizer  # noqa: E402
from sereno.verify.roster import RosterService  # noqa: E402

PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "777:BENCH-SURGE"
HMAC_KEY = "bench-surge-key-0123456789abcdef0123456789"
SIM_SECONDS = 600.0  # the 10 minutes of the issue
HOSTILE_SHARE = 0.9
HOSTILE_PSEUDONYMS = 50
TARGET_P99 = 5.0
STEP_TIMEOUT = 30.0
POLL = 0.01  # how often a simulated person looks at their chat (s)

# the region: a 4 × 4 grid of ~1.5 km squares
ORIGIN = (34.00, -118.30)  # south-west corner (lat, lon)
ROWS = COLS = 4
DLAT = 1500 / 111_320
DLON = 1500 / (111_320 * math.cos(math.radians(ORIGIN[0] + ROWS * DLAT / 2)))

HOSTILE_DETAILS = (
    "Dozens of agents going door to door, tell everyone",
    "ICE vans at the school, hide your kids",
    "They are grabbing people at the bus stop right now",
    "Checkpoint on every corner, do not drive",
    "Agents with rifles, I saw them take a family",
    "Raid at the market, spread this",
)


class Outcome(StrEnum):
    STORED = "stored"
    REFUSED_AT_SUBMIT = "refused at Submit"
    REFUSED_AT_START = "refused at /report"
    STALLED = "stalled (no answer in time)"


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    lat: float
    lon: float
    starts: float  # simulated seconds
    lasts: float
    activity: Activity
    agents: AgentCount
    vehicles: VehicleCount
    uniform: Uniform
    details: str


EVENTS = (
    Event(
        "A: workplace raid",
        ORIGIN[0] + 1.4 * DLAT,
        ORIGIN[1] + 1.6 * DLON,
        120.0,
        300.0,
        Activity.WORKPLACE,
        AgentCount.MANY,
        VehicleCount.MANY,
        Uniform.ICE,
        "Raid at the packing plant, agents at both gates",
    ),
    Event(
        "B: checkpoint",
        ORIGIN[0] + 2.6 * DLAT,
        ORIGIN[1] + 2.5 * DLON,
        270.0,
        300.0,
        Activity.CHECKPOINT,
        AgentCount.FEW,
        VehicleCount.FEW,
        Uniform.CBP,
        "Checkpoint by the bridge, cars stopped one by one",
    ),
)


@dataclass(frozen=True, slots=True)
class Planned:
    """One report to play: who, when (simulated seconds after the start), what."""

    user_id: int
    at: float
    event: int | None  # index into EVENTS; None: hostile
    activity: Activity | None
    time_seen: TimeSeen | None
    agents: AgentCount | None
    vehicles: VehicleCount | None
    uniform: Uniform | None
    details: str | None
    lat: float
    lon: float


@dataclass
class Played:
    plan: Planned
    outcome: Outcome
    pressed: float | None = None  # time.time() of the Submit press
    received: float | None = None  # time.time() when the reporter saw "Report received"
    stalled_on: str = ""  # what the person waited for in vain


@dataclass
class Figures:
    label: str
    played: list[Played]
    submitted: dict[int, Submitted]  # genuine user id → what the intake returned
    cards: list[tuple[float, int, str, bool]]  # (at, chat, incident id, unclaimed ping)
    staff_roles: dict[int, Role]
    queue: list[Any] = field(default_factory=list)
    queue_shown: list[str] = field(default_factory=list)  # incident ids of /queue's cards
    queue_header: str = ""
    stored_rows: int = 0
    wall: float = 0.0
    warnings: Counter[str] = field(default_factory=Counter)
    batched: int | None = None  # incidents held for batch review (None: no batch review in this version)
    other: dict[int, list[str]] = field(default_factory=dict)  # desk member → the other messages they got


class Tally(logging.Handler):
    """Counts the warnings and errors logged during a run, by message (instead of printing
    hundreds of tracebacks when the bot falls behind)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.seen[re.sub(r" \(trigger: [^)]*\)", "", message)] += 1


# ── the region and the plan ───────────────────────────────────────────────────────
def region() -> list[Neighborhood]:
    features = []
    for r in range(ROWS):
        for c in range(COLS):
            s, w = ORIGIN[0] + r * DLAT, ORIGIN[1] + c * DLON
            ring = [[w, s], [w + DLON, s], [w + DLON, s + DLAT], [w, s + DLAT], [w, s]]
            features.append(
                {
                    "type": "Feature",
                    "properties": {"id": f"grid-{r}-{c}", "name": f"Sector {chr(65 + r)}{c + 1}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return parse_geojson(json.dumps({"type": "FeatureCollection", "features": features}))


def near(rng: random.Random, lat: float, lon: float, radius_m: float) -> tuple[float, float]:
    distance = radius_m * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111_320
    dlon = distance * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def plan(reports: int, seed: int) -> tuple[list[Planned], list[Planned]]:
    """(hostile, genuine) reports, each list in time order."""
    rng = random.Random(seed)
    hostile_count = round(reports * HOSTILE_SHARE)
    genuine_count = reports - hostile_count
    hostile = []
    for n in range(hostile_count):
        r, c = rng.randrange(ROWS), rng.randrange(COLS)
        lat = ORIGIN[0] + (r + rng.uniform(0.05, 0.95)) * DLAT
        lon = ORIGIN[1] + (c + rng.uniform(0.05, 0.95)) * DLON
        activity = rng.choice([*Activity, Activity.ARREST, Activity.WORKPLACE, Activity.HOME_VISIT])  # urgent claims weigh more
        hostile.append(
            Planned(
                user_id=3_000_000 + n % HOSTILE_PSEUDONYMS,
                at=rng.uniform(0, SIM_SECONDS * 0.98),
                event=None,
                activity=activity,
                time_seen=rng.choice([TimeSeen.NOW, TimeSeen.NOW, TimeSeen.RECENT, TimeSeen.EARLIER_TODAY, None]),
                agents=rng.choice([*AgentCount, None]),
                vehicles=rng.choice([*VehicleCount, None]),
                uniform=rng.choice([*Uniform, None]),
                details=rng.choice([*HOSTILE_DETAILS, None]),
                lat=lat,
                lon=lon,
            )
        )
    genuine = []
    for n in range(genuine_count):
        index = n % len(EVENTS)
        event = EVENTS[index]
        lat, lon = near(rng, event.lat, event.lon, 300)
        odd = rng.random()  # mostly consistent: a few say less, or another band
        genuine.append(
            Planned(
                user_id=5_000_000 + n,
                at=event.starts + event.lasts * rng.random() ** 1.5,  # most early, a tail later
                event=index,
                activity=Activity.PRESENCE if odd < 0.1 else event.activity,
                time_seen=TimeSeen.RECENT if odd > 0.9 else TimeSeen.NOW,
                agents=AgentCount.UNSURE if 0.1 <= odd < 0.2 else event.agents,
                vehicles=None if 0.2 <= odd < 0.25 else event.vehicles,
                uniform=Uniform.UNKNOWN if 0.25 <= odd < 0.3 else event.uniform,
                details=None if odd > 0.8 else event.details,
                lat=lat,
                lon=lon,
            )
        )
    return sorted(hostile, key=lambda p: p.at), sorted(genuine, key=lambda p: p.at)


# ── a clock that runs fast ────────────────────────────────────────────────────────
class ScaledClock:
    """UTC time running `speed` times faster than the wall, from now."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._start = datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


# ── simulated people ──────────────────────────────────────────────────────────────
def recent(double: BotApiDouble, chat_id: int, count: int = 4) -> list[SentMessage]:
    """The last messages of a chat, without copying its whole history (a hostile chat holds
    hundreds, and hundreds of people look at theirs every few milliseconds)."""
    return double._messages._sent.get(chat_id, [])[-count:]  # noqa: SLF001


async def expect(user: FakeUser, *needles: str) -> str:
    """Wait for a bot message (sent or edited since the user's last action) containing one of
    `needles`; return that needle. Polls: waiting on the double's change event would wake
    every waiting person at every change."""
    since = user._last_action_seq  # noqa: SLF001
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        for message in reversed(recent(user.double, user.chat_id)):
            if message.deleted or message.changed_seq <= since or message.text is None:
                continue
            for needle in needles:
                if needle in message.text:
                    return needle
        if time.monotonic() > deadline:
            raise TimeoutError(f"{user} waited in vain for {needles}")
        await asyncio.sleep(POLL)


def label(labels: dict[Any, str], value: Any) -> str:
    return labels[value] if value is not None else "Skip"


async def play(user: FakeUser, p: Planned) -> Played:
    """One report conversation; what became of it."""
    try:
        await user.send_command("/report")
        if await expect(user, "What is happening?", "You have sent") == "You have sent":
            return Played(p, Outcome.REFUSED_AT_START)
        steps: list[tuple[Callable[[], Awaitable[int]], str]] = [
            (lambda: user.press(label(ACTIVITY_LABELS, p.activity)), "Where is it happening?"),
            (lambda: user.share_location(p.lat, p.lon), "When did you"),
            (lambda: user.press(label(TIME_LABELS, p.time_seen)), "How many agents"),
            (lambda: user.press(label(AGENT_LABELS, p.agents)), "How many vehicles"),
            (lambda: user.press(label(VEHICLE_LABELS, p.vehicles)), "What markings"),
            (lambda: user.press(label(UNIFORM_LABELS, p.uniform)), "Anything else"),
            ((lambda: user.send_text(p.details or "")) if p.details else (lambda: user.press("Skip")), "send a photo"),
            (lambda: user.press("Skip"), "Please check your report"),
        ]
        for act, answer in steps:
            await act()
            await expect(user, answer)
        pressed = time.time()
        await user.press("✅ Submit")
        if await expect(user, "Report received", "You have sent") == "You have sent":
            await user.send_command("/cancel")  # the draft is kept: drop it, as the next try would
            await expect(user, "Report cancelled")
            return Played(p, Outcome.REFUSED_AT_SUBMIT, pressed)
        return Played(p, Outcome.STORED, pressed, time.time())
    except TimeoutError as exc:
        waited = str(exc).split(" for ", 1)[-1]
        # the bot has not answered in time: drop whatever is open, as a person would, so that
        # the next report starts afresh (else every later /report meets the open one)
        try:
            await user.send_command("/cancel")
            await expect(user, "Report cancelled", "What would you like to do?")
        except TimeoutError:
            pass
        return Played(p, Outcome.STALLED, stalled_on=waited)


async def people(double: BotApiDouble, reports: Iterable[Planned], speed: float) -> list[Played]:
    """Play every report at its time (a person's reports one after another, late if the
    previous one is still going)."""
    by_person: dict[int, list[Planned]] = {}
    for p in reports:
        by_person.setdefault(p.user_id, []).append(p)
    started = time.monotonic()

    async def person(user_id: int, theirs: list[Planned]) -> list[Played]:
        user = double.user(user_id, f"R{user_id}", "en")
        done = []
        for p in theirs:
            await asyncio.sleep(max(0.0, started + p.at / speed - time.monotonic()))
            done.append(await play(user, p))
        return done

    results = await asyncio.gather(*(person(u, theirs) for u, theirs in by_person.items()))
    return [played for done in results for played in done]


# ── one run ───────────────────────────────────────────────────────────────────────
async def staff(url: str, clock: ScaledClock, verifiers: int, coordinators: int) -> dict[int, Role]:
    """Verifiers and coordinators on duty, reading English, covering every area."""
    engine = make_engine(url)
    roster = RosterService(SqlUnitOfWorkFactory(engine), clock, Pseudonymizer(HMAC_KEY.encode()))
    roles = {900_000 + n: Role.VERIFIER for n in range(verifiers)}
    roles |= {950_000 + n: Role.COORDINATOR for n in range(coordinators)}
    for user_id, role in roles.items():
        await roster.redeem((await roster.invite(None, role)).code, user_id, f"S{user_id}")
        await roster.update(user_id, on_duty=True, languages=("en",))
    await engine.dispose()
    return roles


def record_submissions(runtime: Runtime, genuine: set[int]) -> dict[int, Submitted]:
    """What the intake returns for each genuine reporter (which incident, whom to send the
    card): the service is wrapped, nothing else changes."""
    intake = runtime.services.intake
    submit = intake.submit
    seen: dict[int, Submitted] = {}

    async def recorded(draft: ReportDraft, user_id: int, chat_id: int, language: str) -> Submitted:
        result = await submit(draft, user_id, chat_id, language)
        if user_id in genuine:
            seen[user_id] = result
        return result

    intake.submit = recorded  # type: ignore[method-assign]
    return seen


def desk_cards(double: BotApiDouble, roles: dict[int, Role]) -> tuple[list[tuple[float, int, str, bool]], dict[int, list[str]]]:
    """Every incident card the double received for a desk member: (time, chat, incident
    id, whether it is an unclaimed ping); and the other messages desk members got (a surge
    summary, say), by member."""
    out = []
    other: dict[int, list[str]] = {}
    for call in double.calls_to("sendMessage"):
        chat = int(call.params.get("chat_id", 0))
        if chat not in roles:
            continue
        markup = call.params.get("reply_markup")
        markup = json.loads(markup) if isinstance(markup, str) else markup or {}
        data = [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]
        incident = next((d.split(":")[2] for d in data if d.startswith("d:") and d.count(":") >= 2), None)
        if incident is not None:
            out.append((call.at, chat, incident, "Nobody has claimed" in str(call.params.get("text", ""))))
        else:
            other.setdefault(chat, []).append(str(call.params.get("text", "")))
    return out, other


async def shown_queue(double: BotApiDouble, verifier: int) -> tuple[str, list[str]]:
    """/queue as a verifier sees it: the header, and the incidents of the cards shown."""
    user = double.user(verifier, f"S{verifier}")
    before = len(double.sent_messages(verifier))
    await user.send_command("/queue")
    header = await expect(user, "Open incidents", "The queue is empty")
    await asyncio.sleep(0)
    deadline = time.monotonic() + STEP_TIMEOUT
    shown: list[str] = []
    while time.monotonic() < deadline:
        after = double.sent_messages(verifier)[before:]
        heads = [m.text or "" for m in after if (m.text or "").startswith(header)]
        shown = []
        for m in after:
            data = [b.get("callback_data", "") for row in (m.reply_markup or {}).get("inline_keyboard", []) for b in row]
            shown += [d.split(":")[2] for d in data[:1] if d.startswith("d:")]
        count = int(heads[0].split(":")[1]) if heads and ":" in heads[0] else 0
        if len(shown) >= min(10, count):
            return (heads[0] if heads else header), shown
        await asyncio.sleep(0.05)
    return header, shown


async def run(
    label_: str, database: str, hostile: list[Planned], genuine: list[Planned], speed: float, verifiers: int, coordinators: int
) -> Figures:
    async with scratch_database(database, PG_ADMIN_URL) as url:
        if database == "postgres":
            await migrate(url)
        await replace_neighborhoods(url, region())
        clock = ScaledClock(speed)
        roles = await staff(url, clock, verifiers, coordinators)
        tally = Tally()
        logging.getLogger().addHandler(tally)
        async with BotApiDouble(TOKEN) as double:
            for user_id in roles:
                double.user(user_id, f"S{user_id}")
            settings = Settings(
                _env_file=None,
                telegram_token=TOKEN,
                telegram_api_url=double.api_url,
                database_url=url,
                hmac_key=HMAC_KEY,
                send_per_second=1000,
                flood_max_updates=10_000,
                hotline="555-0100",
            )
            async with running_bot(settings, clock=clock, poll_timeout=1) as runtime:
                submitted = record_submissions(runtime, {p.user_id for p in genuine})
                started = time.perf_counter()
                played = await people(double, [*hostile, *genuine], speed)
                wall = time.perf_counter() - started
                await asyncio.sleep(1.0)  # the last cards on their way
                cards, other = desk_cards(double, roles)  # before /queue sends its own
                first_verifier = min(u for u, r in roles.items() if r is Role.VERIFIER)
                desk = runtime.services.desk
                queue = await desk.queue(first_verifier)
                batched = len(await desk.batch(first_verifier)) if hasattr(desk, "batch") else None  # surge
                header, shown = await shown_queue(double, first_verifier)
                async with runtime.engine.connect() as conn:
                    stored_rows = (await conn.execute(text("SELECT count(*) FROM report"))).scalar_one()
        logging.getLogger().removeHandler(tally)
    return Figures(label_, played, submitted, cards, roles, queue, shown, header, stored_rows, wall, tally.seen, batched, other)


# ── the figures ───────────────────────────────────────────────────────────────────
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {pct(values, 0.5):6.2f} s  p95 {pct(values, 0.95):6.2f} s  p99 {pct(values, 0.99):6.2f} s  "
        f"max {max(values):6.2f} s  (n={len(values)})"
    )


@dataclass
class Latencies:
    reach: list[float]  # every genuine report: Submit → on the desk (its card sent, or stored in an incident sent before)
    stored: list[float]  # Submit → stored (the reporter told)
    first: list[float]  # Submit → the first desk member has the card
    last: list[float]  # Submit → the last recipient has it
    incidents: dict[int, str]  # event → the incident holding most of its genuine reports
    opened: dict[int, float | None]  # event → its first genuine Submit → its incident's first card
    spread_over: dict[int, Counter[str]]  # event → genuine reports per incident


def latencies(f: Figures) -> Latencies:
    first_card: dict[str, float] = {}
    for at, _chat, incident, _ping in f.cards:
        first_card[incident] = min(at, first_card.get(incident, at))
    pressed = {p.plan.user_id: p.pressed for p in f.played if p.plan.event is not None and p.outcome is Outcome.STORED}
    received = {p.plan.user_id: p.received for p in f.played if p.plan.event is not None and p.received is not None}
    first, last, reach, stored = [], [], [], []
    for user_id, result in f.submitted.items():
        press = pressed.get(user_id)
        if press is None or result.incident is None:
            continue
        told = received.get(user_id)
        if told is not None:
            stored.append(told - press)
        if not result.cards:  # no card of its own: on the desk once stored and its incident's card sent
            sent = first_card.get(result.incident.id)  # None: never sent (held for batch review)
            if told is not None:
                reach.append(math.inf if sent is None else max(told, sent) - press)
            continue
        wanted = {r.user_id for notice in result.cards for r in notice.to}
        got: dict[int, float] = {}
        for at, chat, incident, _ping in f.cards:
            if incident == result.incident.id and chat in wanted and at >= press and chat not in got:
                got[chat] = at
        first.append(min(got.values()) - press if got else math.inf)
        last.append(max(got.values()) - press if got and len(got) == len(wanted) else math.inf)
        reach.append(first[-1])
    spread_over: dict[int, Counter[str]] = {}
    opened: dict[int, float | None] = {}
    incidents: dict[int, str] = {}
    for index in range(len(EVENTS)):
        theirs = [p for p in f.played if p.plan.event == index and p.plan.user_id in f.submitted]
        counts = Counter(f.submitted[p.plan.user_id].incident.id for p in theirs if f.submitted[p.plan.user_id].incident)  # type: ignore[union-attr]
        spread_over[index] = counts
        if not counts:
            continue
        main = counts.most_common(1)[0][0]
        incidents[index] = main
        first_press = min(p.pressed for p in theirs if p.pressed is not None)
        opened[index] = first_card[main] - first_press if main in first_card else None
    return Latencies(reach, stored, first, last, incidents, opened, spread_over)


def report(f: Figures) -> Latencies:
    lat = latencies(f)
    hostile = [p for p in f.played if p.plan.event is None]
    genuine = [p for p in f.played if p.plan.event is not None]
    print(f"\n── {f.label}: {len(f.played)} reports in {f.wall:.1f} s wall ({SIM_SECONDS / 60:.0f} simulated minutes)")
    for name, group in (("hostile", hostile), ("genuine", genuine)):
        if group:
            counts = Counter(p.outcome for p in group)
            print(f"  {name:8} {len(group):5}: " + ", ".join(f"{counts[o]} {o.value}" for o in Outcome if counts[o]))
    print(f"  reports stored in the database: {f.stored_rows}")
    for waited, count in Counter(p.stalled_on for p in f.played if p.outcome is Outcome.STALLED).most_common(3):
        print(f"  stalled {count}× waiting for {waited}")
    joined = sum(1 for r in f.submitted.values() if not r.cards)
    print(f"  genuine Submit → on the desk (see below):               {spread(lat.reach)}")
    print(f"    Submit → stored, the reporter told:                   {spread(lat.stored)}")
    print(f"    Submit → its card at the first on-duty desk member:   {spread(lat.first)}")
    print(f"    Submit → its card at every recipient:                 {spread(lat.last)}")
    print(
        "    (a card goes out for a report that opens an incident or makes one more urgent: on the desk when the "
        f"first member has it; the other {joined} genuine reports are on the desk once stored and their "
        "incident's card sent)"
    )
    positions = {i.id: n for n, i in enumerate(f.queue, start=1)}
    by_id = {i.id: i for i in f.queue}
    for index, event in enumerate(EVENTS):
        main = lat.incidents.get(index)
        if main is None:
            print(f"  event {event.name}: no genuine report stored")
            continue
        incident = by_id.get(main)
        opened = lat.opened[index]
        reach = (
            "no card"
            if opened is None
            else (f"{opened:5.2f} s" if opened >= 0 else f"on the desk {-opened:.1f} s before (a hostile report opened it)")
        )
        others = sum(lat.spread_over[index].values()) - lat.spread_over[index][main]
        mixed = incident.report_count - lat.spread_over[index][main] if incident else 0
        counted = f"{incident.report_count} reports, {mixed} not genuine" if incident else "not open"
        tier = incident.tier.value if incident else "-"
        shown = f"card {f.queue_shown.index(main) + 1} of /queue" if main in f.queue_shown else "not among /queue's cards"
        print(
            f"  event {event.name}: first genuine Submit → its incident's first card {reach}; "
            f"queue position {positions.get(main, '-')} of {len(f.queue)} ({tier}, {counted}; {shown}); "
            f"{others} of its genuine reports in {len(lat.spread_over[index]) - 1} other incident(s)"
        )
    never = sum(1 for v in lat.reach if v == math.inf)
    if never:
        print(f"  genuine reports whose incident's card never went out (held for batch review): {never}")
    batch = f" ({f.batched} of them held for batch review, listed last)" if f.batched is not None else ""
    print(f"  open incidents in the queue: {len(f.queue)}{batch}; /queue says {f.queue_header!r}")
    tiers = Counter(i.tier.value for i in f.queue)
    print("  queue by tier: " + ", ".join(f"{tiers[t]} {t}" for t in ("urgent", "high", "routine")))
    for role in (Role.VERIFIER, Role.COORDINATOR):
        chats = [u for u, r in f.staff_roles.items() if r is role]
        cards = [c for c in f.cards if c[1] in chats]
        pings = sum(1 for c in cards if c[3])
        print(
            f"  {role.name.lower()}s ({len(chats)}): {len(cards)} cards received "
            f"({len(cards) / max(1, len(chats)):.0f} each: {len(cards) - pings} on a submission, {pings} unclaimed pings)"
        )
        texts = [text for chat in chats for text in f.other.get(chat, [])]
        if texts:
            first = texts[0].splitlines()[0][:70] if texts[0] else ""
            print(f"    and {len(texts)} other messages (the first begins {first!r})")
    for message, count in f.warnings.most_common(6):
        print(f"  logged {count}×: {message[:110]}")
    return lat


def at_top(f: Figures, lat: Latencies) -> bool:
    """Whether the genuine incidents are the first ones of the queue."""
    top = {i.id for i in f.queue[: len(EVENTS)]}
    return len(lat.incidents) == len(EVENTS) and set(lat.incidents.values()) == top


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2000, help="reports in the 10 minutes (90 %% hostile)")
    parser.add_argument("--speed", type=float, default=10.0, help="simulated seconds per wall second")
    parser.add_argument("--verifiers", type=int, default=6)
    parser.add_argument("--coordinators", type=int, default=2)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    hostile, genuine = plan(args.reports, args.seed)
    print(
        f"{args.reports} reports ({len(hostile)} from {HOSTILE_PSEUDONYMS} hostile pseudonyms, {len(genuine)} genuine "
        f"around {len(EVENTS)} events) over {SIM_SECONDS / 60:.0f} simulated minutes at {args.speed:g}x "
        f"({SIM_SECONDS / args.speed:.0f} s wall); {args.verifiers} verifiers and {args.coordinators} coordinators "
        f"on duty; {ROWS * COLS} neighborhoods; {args.database}; every report through the report conversation "
        "(updates through the Bot API double)"
    )
    alone = await run("baseline: the genuine reports alone", args.database, [], genuine, args.speed, *staff_of(args))
    quiet = report(alone)
    flooded = await run("flood", args.database, hostile, genuine, args.speed, *staff_of(args))
    flood = report(flooded)
    print()
    for q in (0.5, 0.99):
        base, under = pct(quiet.reach, q), pct(flood.reach, q)
        print(
            f"p{q * 100:.0f} genuine Submit → on the desk: {under:.2f} s under the flood, {base:.2f} s alone: "
            f"ratio {under / max(base, 1e-3):.1f}x"
        )
    p99 = pct(flood.reach, 0.99)
    top = at_top(flooded, flood)
    verdict = "meets" if p99 <= TARGET_P99 and top else "MISSES"
    print(
        f"flood: genuine reports on the desk within {p99:.2f} s at p99 ({'≤' if p99 <= TARGET_P99 else '>'} "
        f"{TARGET_P99:.0f} s); the genuine incidents {'are' if top else 'are NOT'} the top {len(EVENTS)} of the queue "
        f"— {verdict} the target"
    )


def staff_of(args: argparse.Namespace) -> tuple[int, int]:
    return args.verifiers, args.coordinators


if __name__ == "__main__":
    asyncio.run(main())
