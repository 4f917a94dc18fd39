"""Who may do what, through the Bot API double: every command and every button action ×
every kind of person (anonymous, reporter, trainee, verifier, coordinator, admin, revoked).

The table below is the policy as the code states it (sereno/verify/roster.py, sereno/verify/desk.py,
sereno/verify/publishing.py, sereno/verify/channels.py, sereno/verify/stats.py, the handlers' docstrings). Each
row runs in a freshly built world (people and incidents made through the services); each
cell gets its own fresh subject (an incident, an alert, a person to promote…), so one
person's allowed action never changes what the next person's press is about.

An allowed cell must get its normal answer; a refused cell must get a polite refusal (a
message or a callback answer), change nothing (the subject's rows and the shared tables
are compared before and after) and, when the refusal is the desk's, the roster's or the
alert service's, leave a `refused.*` audit event.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

import pytest
import yaml

from sereno.bootstrap import running_bot
from sereno.bot.callbacks import area_key
from sereno.bot.services import Services
from sereno.double import BotApiDouble, FakeUser, SentMessage
from sereno.storage.scratch import scratch_database
from sereno.verify.clock import ManualClock
from sereno.verify.incidents import Verdict
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.pseudonyms import Pseudonymizer
from tests.bot.conftest import Harness, seed_region, settings_for
from tests.conftest import PG_ADMIN_URL


class Who(StrEnum):
    ANONYMOUS = "anonymous"
    REPORTER = "reporter"
    TRAINEE = "trainee"
    VERIFIER = "verifier"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    REVOKED = "revoked"


WHO = tuple(Who)
IDS = {who: 9_100_001 + n for n, who in enumerate(WHO)}
HELPERS = (9_100_101, 9_100_102)  # two verifiers who decide the subjects' incidents
HARBOR = GeoPoint(34.0387, -118.2799)
HARBOR_KEY = area_key("harbor-view")
STARTER_DRILLS = Path(__file__).parents[2] / "sereno" / "data" / "drills.yaml"
OVERSIZED = "x" * 80  # far past Telegram's 64 bytes of callback data

#: Polite refusals a person may get (messages or callback answers).
REFUSALS = (
    "not allowed",
    "Only coordinators",
    "Only admins",
    "does not exist",
    "do not hold",
    "no longer active",
    "out of date",
    "closed or was already answered",
    "already on the desk",
    "not on the roster",
    "cannot change your own role",
    "Claim it first",
    "already been decided",
    "Only debunked",
    "already published",
    "was revoked",
    "Trainees practise on drills",
    "already gave a verdict",
    "has expired",
    "no longer open for you",
    "Only the person who went",
    "choose one of the times",
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": str(IDS[Who.ADMIN]), "reports_per_window": 1000, "flood_max_updates": 200}


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the demo region, copied for each row."""
    path = tmp_path_factory.mktemp("template") / "sereno.db"
    asyncio.run(seed_region(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> AsyncIterator[str]:
    """SQLite for every row; PostgreSQL only for the rows whose checks live in the database
    (see CASES). Either way migrated and seeded with the demo region."""
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "sereno.db")
        yield f"sqlite+aiosqlite:///{tmp_path / 'sereno.db'}"
        return
    async with scratch_database(request.param, PG_ADMIN_URL) as url:
        await seed_region(url)
        yield url


@pytest.fixture
async def bot(double: BotApiDouble, database_url: str, settings_overrides: dict[str, object]) -> AsyncIterator[Harness]:
    settings = settings_for(double, database_url, **settings_overrides)
    clock = ManualClock()
    async with running_bot(settings, clock=clock, poll_timeout=1) as runtime:
        yield Harness(double, settings, clock, runtime)


# ── the world ─────────────────────────────────────────────────────────────────────
@dataclass
class World:
    bot: Harness
    double: BotApiDouble
    users: dict[Who, FakeUser]
    homes: dict[Who, SentMessage]
    reporter_incident: str
    fresh_ids: Iterator[int] = field(default_factory=lambda: itertools.count(9_300_000))

    @property
    def services(self) -> Services:
        return self.bot.runtime.services

    async def incident(self, reporter: int | None = None) -> str:
        """A new open incident in Harbor View (the clock moves on so it is not clustered)."""
        self.bot.clock.advance(timedelta(hours=4))
        who = reporter if reporter is not None else next(self.fresh_ids)
        draft = ReportDraft(
            f"{time.monotonic_ns():032x}"[-32:],
            activity=Activity.PRESENCE,
            point=HARBOR,
            neighborhood_id="harbor-view",
            details="Two vans",
        )
        submitted = await self.services.intake.submit(draft, who, who, "en")
        assert submitted.incident is not None
        return submitted.incident.id

    async def decided(self, verdict: Verdict) -> str:
        incident_id = await self.incident()
        for helper in HELPERS:
            await self.services.desk.claim(helper, incident_id)
            await self.services.desk.decide(helper, incident_id, verdict, "checked")
        return incident_id

    async def person(self, role: Role) -> int:
        roster = self.services.roster
        user_id = next(self.fresh_ids)
        await roster.redeem((await roster.invite(None, role)).code, user_id, f"P{user_id}")
        return user_id


async def build_world(bot: Harness, double: BotApiDouble) -> World:
    roster = bot.runtime.services.roster
    for user_id in HELPERS:
        await roster.redeem((await roster.invite(None, Role.VERIFIER)).code, user_id, f"H{user_id}")
    for who, role in (
        (Who.TRAINEE, Role.TRAINEE),
        (Who.VERIFIER, Role.VERIFIER),
        (Who.COORDINATOR, Role.COORDINATOR),
        (Who.REVOKED, Role.VERIFIER),
    ):
        await roster.redeem((await roster.invite(None, role)).code, IDS[who], who.value)
    await roster.set_role(IDS[Who.ADMIN], IDS[Who.REVOKED], Role.REVOKED)
    users = {who: double.user(IDS[who], who.value.title(), "en") for who in WHO}
    world = World(bot, double, users, {}, "")
    world.reporter_incident = await world.incident(IDS[Who.REPORTER])
    for user in users.values():
        await user.send_command("/start")
    for who, user in users.items():
        world.homes[who] = await user.wait_text("Welcome to Sereno")
    return world


# ── the table ─────────────────────────────────────────────────────────────────────
Ctx = dict[str, str]
Prepare = Callable[[World, Who], Awaitable[Ctx]]


async def nothing(world: World, who: Who) -> Ctx:
    return {}


def holding(incident: str = "fresh") -> Prepare:
    """A fresh incident held by the person when the desk lets them claim it (verifiers and
    up: trainees claim only their practice drills), else by a helper."""

    async def prepare(world: World, who: Who) -> Ctx:
        incident_id = await world.incident()
        holder = IDS[who] if who in (Who.VERIFIER, Who.COORDINATOR, Who.ADMIN) else HELPERS[0]
        if incident == "other":
            holder = HELPERS[0]
        await world.services.desk.claim(holder, incident_id)
        return {"incident": incident_id}

    return prepare


async def fresh_incident(world: World, who: Who) -> Ctx:
    return {"incident": await world.incident()}


async def suggested_merge(world: World, who: Who) -> Ctx:
    """Two incidents about 1.5 km apart: the second carries a merge suggestion."""
    world.bot.clock.advance(timedelta(hours=4))
    ids = []
    for lat in (34.0500, 34.0635):
        user_id = next(world.fresh_ids)
        draft = ReportDraft(f"{time.monotonic_ns():032x}"[-32:], point=GeoPoint(lat, -118.2577))
        submitted = await world.services.intake.submit(draft, user_id, user_id, "en")
        assert submitted.incident is not None
        ids.append(submitted.incident.id)
    [row] = await world.bot.rows(f"SELECT incident_id FROM merge_suggestion WHERE other_incident_id = '{ids[0]}'")
    return {"incident": str(row["incident_id"]), "other": ids[0]}


def target(role: Role) -> Prepare:
    async def prepare(world: World, who: Who) -> Ctx:
        return {"target": str(await world.person(role))}

    return prepare


async def follow_up(world: World, who: Who, reporter: int = IDS[Who.REPORTER]) -> Ctx:
    """A question to the reporter about a new report of theirs."""
    incident_id = await world.incident(reporter)
    desk = world.services.desk
    await desk.claim(HELPERS[0], incident_id)
    result = await desk.decide(HELPERS[0], incident_id, Verdict.NEEDS_INFO, "Which vests?")
    [asked] = result.tell
    assert asked.follow_up_id is not None
    return {"incident": incident_id, "follow_up": asked.follow_up_id}


async def follow_up_of_someone_else(world: World, who: Who) -> Ctx:
    return await follow_up(world, who, next(world.fresh_ids))


async def active_alert(world: World, who: Who) -> Ctx:
    incident_id = await world.decided(Verdict.CONFIRMED)
    [row] = await world.bot.rows(f"SELECT id FROM alert WHERE incident_id = '{incident_id}'")
    return {"incident": incident_id, "alert": str(row["id"])}


async def debunked(world: World, who: Who) -> Ctx:
    return {"incident": await world.decided(Verdict.DEBUNKED)}


async def confirmed(world: World, who: Who) -> Ctx:
    return await active_alert(world, who)


async def subscribed(world: World, who: Who) -> Ctx:
    await world.services.subscriptions.subscribe(IDS[who], "en", ["harbor-view"])
    return {}


async def scenarios(world: World, who: Who) -> Ctx:
    """The starter drill scenarios, stored."""
    await world.services.training.import_scenarios(IDS[Who.ADMIN], yaml.safe_load(STARTER_DRILLS.read_text()))
    return {}


async def someone_elses_practice(world: World, who: Who) -> Ctx:
    """A practice drill of another trainee."""
    await scenarios(world, who)
    incident = await world.services.training.practice(await world.person(Role.TRAINEE), "en")
    return {"incident": incident.id}


async def own_practice(world: World, who: Who) -> Ctx:
    """The person's own practice drill (another trainee's for those off the desk)."""
    await scenarios(world, who)
    desk = who in (Who.TRAINEE, Who.VERIFIER, Who.COORDINATOR, Who.ADMIN)
    incident = await world.services.training.practice(IDS[who] if desk else await world.person(Role.TRAINEE), "en")
    return {"incident": incident.id}


async def disagreement_voted_on(world: World, who: Who) -> Ctx:
    """A high-tier incident the person voted Confirmed on (when they could) and a helper
    Debunked, so it went to the coordinators; for the others, two helpers disagreed."""
    incident_id = await world.incident()
    desk = world.services.desk
    voters = (IDS[who], HELPERS[0]) if who in (Who.VERIFIER, Who.COORDINATOR, Who.ADMIN) else HELPERS
    for voter, verdict in zip(voters, (Verdict.CONFIRMED, Verdict.DEBUNKED), strict=True):
        await desk.claim(voter, incident_id)
        await desk.decide(voter, incident_id, verdict, "checked")
    return {"incident": incident_id}


async def invite_of_a_revoked_coordinator(world: World, who: Who) -> Ctx:
    """A verifier invite issued by a coordinator who was revoked since."""
    coordinator = await world.person(Role.COORDINATOR)
    code = (await world.services.roster.invite(coordinator, Role.VERIFIER)).code
    await world.services.roster.set_role(IDS[Who.ADMIN], coordinator, Role.REVOKED)
    return {"code": code}


async def live_drill(world: World, who: Who) -> Ctx:
    """A live drill in the queue, started by the admin."""
    await scenarios(world, who)
    started = await world.services.training.inject_live(IDS[Who.ADMIN], "utility-crew-vests", "en")
    return {"incident": started.incident.id}


async def field_verifier(world: World) -> int:
    """A new verifier on duty, opted in as a field verifier."""
    person = await world.person(Role.VERIFIER)
    await world.services.roster.update(person, on_duty=True)
    await world.services.dispatch.opt_in(person, "harbor-view")
    return person


async def field_and_incident(world: World, who: Who) -> Ctx:
    """A fresh incident and a free field verifier to send to it."""
    await field_verifier(world)
    return await fresh_incident(world, who)


async def asked_dispatch(world: World, who: Who) -> Ctx:
    """A dispatch a helper sent, asking someone else."""
    person = await field_verifier(world)
    incident_id = await world.incident()
    sent = await world.services.dispatch.send(incident_id, HELPERS[0])
    return {"incident": incident_id, "dispatch": sent.dispatch.id, "person": str(person)}


async def in_field_dispatch(world: World, who: Who) -> Ctx:
    """A dispatch whose field verifier (someone else) accepted and is on the way."""
    ctx = await asked_dispatch(world, who)
    await world.services.dispatch.accept(ctx["dispatch"], int(ctx["person"]), 10)
    return ctx


Act = Callable[[World, FakeUser, Ctx], Awaitable[None]]


def command(text: str) -> Act:
    async def act(world: World, user: FakeUser, ctx: Ctx) -> None:
        await user.send_command(text.format(**ctx))

    return act


def press(data: str) -> Act:
    async def act(world: World, user: FakeUser, ctx: Ctx) -> None:
        await user.press_data(data.format(**ctx), world.homes[Who(user.first_name.lower())])

    return act


def press_then_type(data: str, answer: str) -> Act:
    async def act(world: World, user: FakeUser, ctx: Ctx) -> None:
        await user.press_data(data.format(**ctx), world.homes[Who(user.first_name.lower())])
        await user.wait_text("Type your answer")
        await user.send_text(answer)

    return act


async def invite_code(world: World, who: Who) -> Ctx:
    return {"code": (await world.services.roster.invite(None, Role.VERIFIER)).code}


async def give_reason(world: World, user: FakeUser, ctx: Ctx) -> None:
    await user.send_text("Seen from the corner")
    await reply(world, user, ("Recorded", "A second verifier", "Decided"))


def says(everyone: str, **others: str) -> dict[Who, str]:
    """The refusal each person must get: `everyone`'s, or the one named for their kind."""
    return {who: others.get(who.name.lower(), everyone) for who in WHO}


ALL = frozenset(WHO)
DESK = frozenset({Who.TRAINEE, Who.VERIFIER, Who.COORDINATOR, Who.ADMIN})
VERIFIERS = frozenset({Who.VERIFIER, Who.COORDINATOR, Who.ADMIN})
COORDINATORS = frozenset({Who.COORDINATOR, Who.ADMIN})
ADMINS = frozenset({Who.ADMIN})
NOBODY: frozenset[Who] = frozenset()
#: Shared tables whose rows a refusal must leave alone (volatile columns left out).
SHARED = (
    "SELECT user_id, role, on_duty, languages, neighborhoods FROM verifier ORDER BY user_id",
    "SELECT code, role, used_by FROM invite ORDER BY code",
    "SELECT count(*) AS n FROM verdict",
    "SELECT count(*) AS n FROM report",
    "SELECT count(*) AS n FROM alert",
    "SELECT count(*) AS n FROM outbox",
    "SELECT id, answer FROM follow_up ORDER BY id",
    "SELECT incident_id, status FROM merge_suggestion ORDER BY incident_id",
    "SELECT chat_id, language, active FROM subscriber ORDER BY chat_id",
    "SELECT chat_id, neighborhood_id FROM subscription ORDER BY chat_id, neighborhood_id",
    "SELECT neighborhood_id, chat_id FROM channel_link ORDER BY chat_id",
    "SELECT id FROM drill_scenario ORDER BY id",
    "SELECT id, verdict FROM drill_run ORDER BY id",
)


@dataclass(frozen=True)
class Row:
    """One action: who may do it, how to set it up and do it, and what it answers."""

    name: str
    allowed: frozenset[Who]
    act: Act
    ok: str | tuple[str, ...]
    prepare: Prepare = nothing
    audited: bool = True  # refusals come from the desk, roster or alert service
    then: Act | None = None  # the second step of an allowed action
    subject: tuple[str, ...] = ()  # SQL (formatted with the context) naming the subject's rows
    in_database: bool = False  # its decision is made by a service reading the database
    says: Mapping[Who, str] = field(default_factory=dict)  # the refusal some people must get

    @property
    def matrix(self) -> dict[Who, bool]:
        return {who: who in self.allowed for who in WHO}


INCIDENT_ROW = "SELECT id, status, claimed_by, verdict, escalated FROM incident WHERE id = '{incident}'"
ALERT_ROW = "SELECT id, state, revision FROM alert WHERE id = '{alert}'"
DISPATCH_ROW = "SELECT id, state, version FROM dispatch WHERE id = '{dispatch}'"
NOT_ON_THE_DESK = {"anonymous": "not allowed", "reporter": "not allowed", "revoked": "not allowed"}

ROWS: tuple[Row, ...] = (
    # everyone's commands
    Row("/start", ALL, command("/start"), "Welcome to Sereno", audited=False),
    Row("/report", ALL, command("/report"), "What is happening?", audited=False),
    Row("/lawyer", ALL, command("/lawyer"), "555-0100", audited=False),
    Row("/rights", ALL, command("/rights"), "right to remain silent", audited=False),
    Row("/language", ALL, command("/language"), "Choose your language", audited=False),
    Row("/help", ALL, command("/help"), "What I can do", audited=False),
    Row("/cancel", ALL, command("/cancel"), ("Try /report", "Nothing was sent"), audited=False),
    Row("/subscribe", ALL, command("/subscribe"), "Choose the neighborhoods", audited=False),
    Row("/mysubscriptions", ALL, command("/mysubscriptions"), "not subscribed", audited=False),
    Row("/unsubscribe", ALL, command("/unsubscribe"), "You get verified alerts", prepare=subscribed, audited=False),
    # the desk's commands
    Row(
        "/join CODE",
        frozenset({Who.ANONYMOUS, Who.REPORTER}),
        command("/join {code}"),
        "Welcome to the desk",
        prepare=invite_code,
        in_database=True,
        says=says("already on the desk", revoked="was revoked"),
    ),
    Row(
        "/join CODE issued by a coordinator revoked since",
        NOBODY,
        command("/join {code}"),
        "",
        prepare=invite_of_a_revoked_coordinator,
        in_database=True,
        says=says("already on the desk", revoked="was revoked", anonymous="has expired", reporter="has expired"),
    ),
    Row("/duty on", DESK, command("/duty on"), "You are on duty"),
    Row("/languages en es", DESK, command("/languages en es"), "Languages: en es"),
    Row("/areas all", DESK, command("/areas all"), "Areas: all"),
    Row("/queue", DESK, command("/queue"), "Open incidents", prepare=fresh_incident),
    Row("/invite trainee", COORDINATORS, command("/invite trainee"), "Invite code for a trainee"),
    Row("/invite verifier", COORDINATORS, command("/invite verifier"), "Invite code for a verifier"),
    Row("/invite coordinator", ADMINS, command("/invite coordinator"), "Invite code for a coordinator"),
    Row("/invite admin", ADMINS, command("/invite admin"), "Invite code for a"),
    Row("/roster", COORDINATORS, command("/roster"), "verifier ·"),
    Row(
        "/alerts",
        COORDINATORS,
        command("/alerts"),
        "Harbor View",
        prepare=active_alert,
        in_database=True,
        says=says("Only coordinators"),
    ),
    Row("/stats", COORDINATORS, command("/stats"), "Harbor View", says=says("Only coordinators")),
    Row("/export", COORDINATORS, command("/export"), "alerts from the last 30 days", prepare=active_alert),
    Row("/linkchannel", ADMINS, command("/linkchannel"), "Which neighborhood", says=says("Only admins")),
    Row("/drills", DESK, command("/drills"), "Your drills:"),
    Row("/surge", COORDINATORS, command("/surge"), "No neighborhood is in surge", says=says("not allowed")),
    Row(
        "/surge on",
        COORDINATORS,
        command("/surge on las-palmas"),
        "Surge mode is on",
        subject=("SELECT * FROM surge_override ORDER BY neighborhood_id",),
        in_database=True,
        says=says("not allowed"),
    ),
    Row("/batch", DESK, command("/batch"), "No incidents are waiting", says=says("not allowed")),
    Row(
        "/field on",
        DESK,
        command("/field on"),
        "You are a field verifier",
        subject=("SELECT user_id FROM field_verifier ORDER BY user_id",),
        in_database=True,
        says=says("not allowed"),
    ),
    Row("/dispatches", COORDINATORS, command("/dispatches"), "No open dispatches", says=says("not allowed")),
    # the desk's buttons
    Row(
        "d:claim",
        VERIFIERS,
        press("d:claim:{incident}"),
        "You hold this incident now",
        prepare=fresh_incident,
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says("not allowed", trainee="Trainees practise on drills"),
    ),
    Row(
        "d:claim of one's own practice drill",
        DESK,
        press("d:claim:{incident}"),
        "You hold this incident now",
        prepare=own_practice,
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says("not allowed"),
    ),
    Row(
        "d:claim of a live drill",
        VERIFIERS,
        press("d:claim:{incident}"),
        "You hold this incident now",
        prepare=live_drill,
        subject=(INCIDENT_ROW,),
        says=says("not allowed", trainee="Trainees practise on drills"),
    ),
    Row(
        "d:claim of a disagreement one voted on",
        NOBODY,
        press("d:claim:{incident}"),
        "",
        prepare=disagreement_voted_on,
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says(
            "not allowed",
            trainee="Trainees practise on drills",
            verifier="already gave a verdict",
            coordinator="already gave a verdict",
            admin="already gave a verdict",
        ),
    ),
    Row("d:photos", DESK, press("d:photos:{incident}"), "no photos", prepare=fresh_incident, says=says("not allowed")),
    Row("d:open", DESK, press("d:open:{incident}"), "Reports: 1", prepare=fresh_incident, says=says("not allowed")),
    Row(
        "d:reports",
        DESK,
        press("d:reports:{incident}"),
        "Reports of this incident in full",
        prepare=fresh_incident,
        says=says("not allowed"),
    ),
    Row(
        "d:release",
        VERIFIERS,
        press("d:release:{incident}"),
        "Released",
        prepare=holding(),
        subject=(INCIDENT_ROW,),
        says=says("not allowed", trainee="do not hold"),
    ),
    Row(
        "d:v:confirmed",
        VERIFIERS,
        press("d:v:{incident}:confirmed"),
        "Send a short reason",
        prepare=holding(),
        then=give_reason,
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says("not allowed", trainee="Trainees practise on drills"),
    ),
    Row(
        "d:v:needs_info",
        VERIFIERS,
        press("d:v:{incident}:needs_info"),
        "Type the question",
        prepare=holding(),
        subject=(INCIDENT_ROW,),
        says=says("not allowed", trainee="Trainees practise on drills"),
    ),
    Row(
        "d:merge",
        VERIFIERS,
        press("d:merge:{incident}"),
        "Merged",
        prepare=suggested_merge,
        subject=(INCIDENT_ROW, "SELECT id, status FROM incident WHERE id = '{other}'"),
        in_database=True,
        says=says("not allowed"),
    ),
    Row(
        "d:separate", VERIFIERS, press("d:separate:{incident}"), "Kept separate", prepare=suggested_merge, subject=(INCIDENT_ROW,)
    ),
    Row(
        "role:promote trainee",
        COORDINATORS,
        press("role:{target}:verifier"),
        "· verifier ·",
        prepare=target(Role.TRAINEE),
        says=says("not allowed"),
    ),
    Row(
        "role:revoke verifier",
        COORDINATORS,
        press("role:{target}:revoked"),
        "· revoked ·",
        prepare=target(Role.VERIFIER),
        says=says("not allowed"),
    ),
    Row(
        "role:make coordinator",
        ADMINS,
        press("role:{target}:coordinator"),
        "· coordinator ·",
        prepare=target(Role.VERIFIER),
        says=says("not allowed"),
    ),
    Row(
        "role:revoke coordinator",
        ADMINS,
        press("role:{target}:revoked"),
        "· revoked ·",
        prepare=target(Role.COORDINATOR),
        says=says("not allowed"),
    ),
    Row(
        "f:answer",
        frozenset({Who.REPORTER}),
        press_then_type("f:{follow_up}", "They said POLICE"),
        "passed on",
        prepare=follow_up,
        audited=False,
    ),
    Row(
        "a:u:still_active",
        COORDINATORS,
        press("a:u:{alert}:still_active"),
        "messages queued",
        prepare=active_alert,
        subject=(ALERT_ROW,),
        in_database=True,
        says=says("Only coordinators"),
    ),
    Row(
        "a:u:all_clear",
        COORDINATORS,
        press("a:u:{alert}:all_clear"),
        "messages queued",
        prepare=active_alert,
        subject=(ALERT_ROW,),
    ),
    Row(
        "a:c",
        COORDINATORS,
        press("a:c:{incident}"),
        "Correction queued",
        prepare=debunked,
        in_database=True,
        says=says("Only coordinators"),
    ),
    Row("c:<key>", ADMINS, press(f"c:{HARBOR_KEY}"), "post this there", says=says("Only admins")),
    Row(
        "dr:practice", DESK, press("dr:practice"), "PRACTICE DRILL", prepare=scenarios, in_database=True, says=says("not allowed")
    ),
    Row("dr:records", COORDINATORS, press("dr:records"), "Nobody has done a drill yet", says=says("not allowed")),
    Row("dr:live", COORDINATORS, press("dr:live"), "Choose a scenario", prepare=scenarios, says=says("not allowed")),
    Row(
        "dr:inject",
        COORDINATORS,
        press("dr:inject:utility-crew-vests"),
        "Live drill started",
        prepare=scenarios,
        in_database=True,
        says=says("not allowed"),
    ),
    Row(
        "dr:end",
        COORDINATORS,
        press("dr:end:{incident}"),
        "Live drill ended",
        prepare=live_drill,
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says("not allowed"),
    ),
    Row("dr:import", COORDINATORS, press("dr:import"), "Send the scenario file", says=says("not allowed")),
    # everyone's buttons
    Row("s:t", ALL, press(f"s:t:{HARBOR_KEY}"), "Choose the neighborhoods", audited=False),
    Row("s:r", ALL, press(f"s:r:{HARBOR_KEY}"), "not subscribed", prepare=subscribed, audited=False),
    Row("s:all", ALL, press("s:all"), "no more alerts", prepare=subscribed, audited=False),
    Row("s:loc", ALL, press("s:loc"), "Share a location", audited=False),
    Row("s:done", ALL, press("s:done"), "not subscribed", audited=False),
    Row("lang:es", ALL, press("lang:es"), "Sereno ayuda", audited=False),
    Row("m:help", ALL, press("m:help"), "What I can do", audited=False),
    Row("m:language", ALL, press("m:language"), "Choose your language", audited=False),
    Row("m:lawyer", ALL, press("m:lawyer"), "555-0100", audited=False),
    Row("m:rights", ALL, press("m:rights"), "right to remain silent", audited=False),
    Row("m:report", ALL, press("m:report"), "What is happening?", audited=False),
    Row("legal:", ALL, press("legal:harbor-view"), "Legal help in Harbor View", audited=False),
    # forged callback data: refused for everyone, admins included
    Row("forged d:claim of a made-up incident", NOBODY, press("d:claim:no-such-incident"), ""),
    Row("forged d:claim truncated", NOBODY, press("d:claim"), "", audited=False),  # unreadable: never reaches the desk
    Row("forged d:claim oversized", NOBODY, press(f"d:claim:{OVERSIZED}"), "", audited=False),
    Row(
        "forged d:v on someone else's claim",
        NOBODY,
        press("d:v:{incident}:confirmed"),
        "",
        prepare=holding("other"),
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says(
            "not allowed",
            trainee="Trainees practise on drills",
            verifier="do not hold",
            coordinator="do not hold",
            admin="do not hold",
        ),
    ),
    Row(
        "forged d:release of someone else's claim",
        NOBODY,
        press("d:release:{incident}"),
        "",
        prepare=holding("other"),
        subject=(INCIDENT_ROW,),
    ),
    Row(
        "forged d:v with a made-up verdict",
        NOBODY,
        press("d:v:{incident}:published"),
        "",
        prepare=holding(),
        audited=False,
        subject=(INCIDENT_ROW,),
    ),
    Row(
        "forged d:merge without a suggestion",
        NOBODY,
        press("d:merge:{incident}"),
        "",
        prepare=fresh_incident,
        subject=(INCIDENT_ROW,),
    ),
    Row(
        "forged role: on oneself",
        NOBODY,
        press("role:{me}:admin"),
        "",
        says=says("not allowed", coordinator="own role", admin="own role"),
    ),
    Row(
        "forged role: on an unknown person",
        NOBODY,
        press("role:9999999:verifier"),
        "",
        says=says("not allowed", coordinator="not on the roster", admin="not on the roster"),
    ),
    Row("forged role: on an admin", NOBODY, press("role:{admin}:revoked"), ""),
    Row(
        "forged role: with a made-up role",
        NOBODY,
        press("role:{target}:superuser"),
        "",
        prepare=target(Role.TRAINEE),
        audited=False,
    ),
    Row(
        "forged f: of someone else's question",
        NOBODY,
        press_then_type("f:{follow_up}", "hello"),
        "",
        prepare=follow_up_of_someone_else,
        audited=False,
    ),
    Row("forged f: garbage", NOBODY, press(f"f:{OVERSIZED}"), "", audited=False),
    Row("forged a:u of a made-up alert", NOBODY, press("a:u:no-such-alert:all_clear"), ""),
    Row(
        "forged a:u with a made-up update",
        NOBODY,
        press("a:u:{alert}:retract"),
        "",
        prepare=active_alert,
        audited=False,
        subject=(ALERT_ROW,),
    ),
    Row("forged a:c of a confirmed incident", NOBODY, press("a:c:{incident}"), "", prepare=confirmed),
    Row(
        "forged d:claim of someone else's practice drill",
        NOBODY,
        press("d:claim:{incident}"),
        "",
        prepare=someone_elses_practice,
        subject=(INCIDENT_ROW,),
        in_database=True,
        says=says(
            "not allowed",
            trainee="does not exist",
            verifier="does not exist",
            coordinator="does not exist",
            admin="does not exist",
        ),
    ),
    Row(
        "forged d:reports of someone else's practice drill",
        NOBODY,
        press("d:reports:{incident}"),
        "",
        prepare=someone_elses_practice,
        in_database=True,
        says=says(
            "not allowed",
            trainee="does not exist",
            verifier="does not exist",
            coordinator="does not exist",
            admin="does not exist",
        ),
    ),
    Row("forged d:reports of a made-up incident", NOBODY, press("d:reports:no-such-incident"), ""),
    Row(
        "forged dr:inject of a made-up scenario",
        NOBODY,
        press("dr:inject:no-such-scenario"),
        "",
        says=says("not allowed", coordinator="does not exist", admin="does not exist"),
    ),
    Row(
        "x:send",
        VERIFIERS,
        press("x:send:{incident}"),
        "Asking the nearest field verifier",
        prepare=field_and_incident,
        subject=("SELECT count(*) AS n FROM dispatch",),
        in_database=True,
        says=says("not allowed"),
    ),
    Row(
        "x:close",
        COORDINATORS,
        press("x:close:{dispatch}"),
        "Closed.",
        prepare=asked_dispatch,
        subject=(DISPATCH_ROW,),
        in_database=True,
        says=says("not allowed"),
    ),
    Row(
        "forged o: going in someone else's place",
        NOBODY,
        press("o:{dispatch}:go:10"),
        "",
        prepare=asked_dispatch,
        subject=(DISPATCH_ROW,),
        in_database=True,
        says=says("no longer open for you", **NOT_ON_THE_DESK),
    ),
    Row(
        "forged o: with a made-up ETA",
        NOBODY,
        press("o:{dispatch}:go:7"),
        "",
        prepare=asked_dispatch,
        subject=(DISPATCH_ROW,),
        says=says("choose one of the times", **NOT_ON_THE_DESK),
    ),
    Row(
        "forged ci: for someone else in the field",
        NOBODY,
        press("ci:{dispatch}:safe"),
        "",
        prepare=in_field_dispatch,
        subject=(DISPATCH_ROW,),
        in_database=True,
        says=says("Only the person who went"),
    ),
    Row(
        "forged os: for someone else's dispatch",
        NOBODY,
        press("os:{dispatch}:finding:confirmed"),
        "",
        prepare=in_field_dispatch,
        subject=(DISPATCH_ROW, "SELECT count(*) AS n FROM on_site_report"),
        says=says("no longer open for you"),
    ),
    Row("forged c: with an unknown key", NOBODY, press("c:0000000g"), "", audited=False),
    Row("forged s:t with an unknown key", NOBODY, press("s:t:00000000"), "", audited=False),
    Row("forged garbage", NOBODY, press("\u202e;DROP TABLE incident;--"), "", audited=False),
    Row("forged oversized", NOBODY, press("d:" + OVERSIZED * 2), "", audited=False),
)
CASES = [pytest.param(row, "sqlite", id=f"{row.name}-sqlite") for row in ROWS] + [
    pytest.param(row, "postgres", id=f"{row.name}-postgres", marks=pytest.mark.postgres) for row in ROWS if row.in_database
]


def test_the_matrix_is_the_documented_policy() -> None:
    """A few cells spelled out, so the table above cannot drift into nonsense."""
    by_name = {row.name: row.matrix for row in ROWS}
    assert not by_name["d:claim"][Who.TRAINEE] and by_name["d:claim of one's own practice drill"][Who.TRAINEE]
    assert not by_name["d:merge"][Who.TRAINEE] and not by_name["d:claim of a live drill"][Who.TRAINEE]
    assert by_name["/invite verifier"][Who.COORDINATOR] and not by_name["/invite coordinator"][Who.COORDINATOR]
    assert not any(by_name["d:claim"][who] for who in (Who.ANONYMOUS, Who.REPORTER, Who.REVOKED))
    assert not by_name["/join CODE"][Who.REVOKED] and not by_name["/join CODE"][Who.VERIFIER]
    assert [who for who, ok in by_name["f:answer"].items() if ok] == [Who.REPORTER]
    assert len(ROWS) * len(WHO) == sum(len(row.matrix) for row in ROWS)


# ── checking one cell ─────────────────────────────────────────────────────────────
async def reply(world: World, user: FakeUser, wanted: tuple[str, ...], since: int | None = None) -> str:
    """The first answer (callback answer or message since the person's last action) holding
    one of `wanted`."""
    seq = user._last_action_seq if since is None else since
    query = user.last_callback_query_id

    def find() -> str | None:
        if query is not None:
            answer = world.double.callback_answers.get(query)
            text = str((answer or {}).get("text") or "")
            if any(w in text for w in wanted):
                return text
        for message in user.messages():
            if message.changed_seq > seq and message.text and any(w in message.text for w in wanted):
                return message.text
        return None

    return await world.double.wait_until(find, 5.0, description=f"{user} to be answered with one of {wanted}")


async def snapshot(world: World, subject: tuple[str, ...], ctx: Mapping[str, str]) -> list[object]:
    return [await world.bot.rows(sql.format(**ctx)) for sql in (*SHARED, *subject)]


def actor(world: World, who: Who) -> str:
    """How the trail names the person: desk members (revoked ones too) by id, anyone else
    by pseudonym — never by Telegram id."""
    if who in (Who.ANONYMOUS, Who.REPORTER):
        return f"person:{Pseudonymizer(world.bot.settings.require_hmac_key())(IDS[who])}"
    return f"verifier:{IDS[who]}"


async def refusals(world: World, who: Who) -> int:
    [row] = await world.bot.rows(
        f"SELECT count(*) AS n FROM audit_event WHERE action LIKE 'refused.%' AND actor = '{actor(world, who)}'"
    )
    return int(row["n"])  # type: ignore[call-overload]


@pytest.mark.parametrize(("row", "database_url"), CASES, indirect=["database_url"])
async def test_each_person_may_do_exactly_what_the_policy_allows(row: Row, bot: Harness, double: BotApiDouble) -> None:
    world = await build_world(bot, double)
    for who in WHO:
        user = world.users[who]
        ctx = {"me": str(user.id), "admin": str(IDS[Who.ADMIN]), **await row.prepare(world, who)}
        before = await snapshot(world, row.subject, ctx)
        audited_before = await refusals(world, who)
        user.last_callback_query_id = None
        await row.act(world, user, ctx)
        if who in row.allowed:
            ok = row.ok if isinstance(row.ok, tuple) else (row.ok,)
            await reply(world, user, ok)
            if row.then is not None:
                await row.then(world, user, ctx)
            continue
        said = await reply(world, user, REFUSALS)
        assert row.says.get(who, "") in said, f"{row.name}: {who} was told {said!r}"
        assert await snapshot(world, row.subject, ctx) == before, f"{row.name}: {who}'s refused press changed state"
        if row.audited:
            assert await refusals(world, who) > audited_before, f"{row.name}: {who}'s refusal was not audited"
    outsiders = ", ".join(f"'verifier:{IDS[who]}'" for who in (Who.ANONYMOUS, Who.REPORTER))
    assert await bot.rows(f"SELECT action FROM audit_event WHERE action LIKE 'refused.%' AND actor IN ({outsiders})") == []
