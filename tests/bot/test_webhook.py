"""`sereno run --webhook`: the secret token, duplicate updates, /healthz (also with the
database down, on PostgreSQL, and with an alert stuck in the outbox) and /metrics."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib.metadata import version
from typing import Any

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from sereno.bootstrap import Runtime, running_bot
from sereno.double import BotApiDouble
from sereno.storage.migrate import head_revision
from sereno.verify.clock import ManualClock
from sereno.web.server import MAX_BODY
from tests.bot.conftest import seed_region, settings_for
from tests.conftest import PG_ADMIN_URL

SECRET = "s3cret_token-for-tests"
USER = 7_300_001


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(double: BotApiDouble, database_url: str) -> AsyncIterator[tuple[Runtime, str]]:
    await seed_region(database_url)
    port = free_port()
    settings = settings_for(
        double,
        database_url,
        webhook_secret=SECRET,
        web_host="127.0.0.1",
        web_port=port,
        webhook_url="https://sereno.example.org/telegram",
    )
    async with running_bot(settings, clock=ManualClock(), webhook=True) as runtime:
        yield runtime, f"http://127.0.0.1:{port}"


def start_update(update_id: int, text: str = "/start") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": USER, "type": "private", "first_name": "Ana"},
            "from": {"id": USER, "is_bot": False, "first_name": "Ana", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def post(base: str, body: object, secret: str | None = SECRET) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session, session.post(f"{base}/telegram", json=body, headers=headers) as response:
        return response.status


async def get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}{path}", headers=headers) as response:
        return response.status, await response.text()


async def test_updates_need_the_secret_token_and_are_processed_once(served: tuple[Runtime, str], double: BotApiDouble) -> None:
    _, base = served
    [hook] = [c for c in double.calls_to("setWebhook")]
    assert hook.params["url"] == "https://sereno.example.org/telegram" and hook.params["secret_token"] == SECRET
    double.user(USER, "Ana", "en")
    assert await post(base, start_update(1), secret=None) == 403
    assert await post(base, start_update(2), secret="wrong") == 403
    assert await post(base, {"not": "an update"}) == 400
    await asyncio.sleep(0.3)
    assert double.sent_messages(USER) == []  # nothing was processed
    assert await post(base, start_update(3)) == 200
    assert await post(base, start_update(3)) == 200  # Telegram may deliver twice
    await double.wait_for(lambda m: "Welcome to Sereno" in (m.text or ""), chat_id=USER)
    await asyncio.sleep(0.3)
    assert len(double.sent_messages(USER)) == 1


async def post_raw(base: str, body: bytes) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/telegram", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        ) as response,
    ):
        return response.status


NOT_UPDATES = [
    b"null",
    b"[]",
    b"[1, 2]",
    b"42",
    b'"an update"',
    b"{",
    b"not json",
    b"",
    b'{"message": {}}',
    b'{"update_id": "7"}',
    b'{"update_id": true}',
    b'{"update_id": 7, "message": "text"}',
]


async def test_a_body_that_is_not_an_update_gets_400_and_nothing_is_handled(
    served: tuple[Runtime, str], double: BotApiDouble
) -> None:
    _, base = served
    double.user(USER, "Ana", "en")
    assert {body: await post_raw(base, body) for body in NOT_UPDATES} == {body: 400 for body in NOT_UPDATES}
    assert await post(base, start_update(20)) == 200  # the webhook still works
    await double.wait_for(lambda m: "Welcome to Sereno" in (m.text or ""), chat_id=USER)
    await asyncio.sleep(0.3)
    assert len(double.sent_messages(USER)) == 1


async def test_a_body_over_the_limit_gets_413(served: tuple[Runtime, str], double: BotApiDouble) -> None:
    _, base = served
    double.user(USER, "Ana", "en")
    update = start_update(21)
    update["message"]["text"] = "x" * MAX_BODY
    assert await post(base, update) == 413
    await asyncio.sleep(0.3)
    assert double.sent_messages(USER) == []


async def test_health_and_metrics(served: tuple[Runtime, str], double: BotApiDouble) -> None:
    runtime, base = served
    status, body = await get(base, "/healthz")
    assert status == 200 and '"database": "ok"' in body and '"leader": true' in body and '"outbox_backlog": 0' in body
    double.user(USER, "Ana", "en")
    assert await post(base, start_update(10)) == 200
    await double.wait_for(lambda m: "Welcome to Sereno" in (m.text or ""), chat_id=USER)
    status, metrics = await get(base, "/metrics")
    assert status == 200
    assert 'sereno_updates_total{kind="message"} 1.0' in metrics
    assert "sereno_queue_depth 0.0" in metrics and "sereno_leader 1.0" in metrics
    assert 'sereno_outbox_messages_total{outcome="sent"} 0.0' in metrics
    assert "sereno_time_to_verdict_seconds_bucket" in metrics


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_healthz_reports_a_database_outage_and_recovers(served: tuple[Runtime, str], database_url: str) -> None:
    _, base = served
    name = make_url(database_url).database
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        status, body = await get(base, "/healthz")
        assert status == 503 and '"database": "unreachable"' in body and '"status": "unhealthy"' in body
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    for _ in range(50):
        status, body = await get(base, "/healthz")
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert status == 200 and '"database": "ok"' in body


async def test_the_public_map_and_the_feeds_show_the_active_alert(served: tuple[Runtime, str]) -> None:
    import xml.etree.ElementTree as ET

    from sereno.verify.incidents import Verdict
    from sereno.verify.members import Role
    from sereno.verify.model import Activity, GeoPoint, ReportDraft

    runtime, base = served
    services = runtime.services
    for user in (11, 12):
        await services.roster.redeem((await services.roster.invite(None, Role.VERIFIER)).code, user, str(user))
    draft = ReportDraft(
        "f" * 32,
        activity=Activity.PRESENCE,
        point=GeoPoint(34.0564, -118.2568),
        neighborhood_id="las-palmas",
        details="a plate 7ABC123 and Juanita Perez",
    )
    submitted = await services.intake.submit(draft, 99, 99, "en")
    assert submitted.incident is not None
    for user in (11, 12):
        await services.desk.claim(user, submitted.incident.id)
        await services.desk.decide(user, submitted.incident.id, Verdict.CONFIRMED, "seen")
    status, page = await get(base, "/map?lang=es")
    assert status == 200 and 'lang="es"' in page and "Las Palmas" in page
    status, atom = await get(base, "/feeds/alerts.atom")
    feed = ET.fromstring(atom)
    [entry] = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert status == 200 and "Las Palmas" in (entry.findtext("{http://www.w3.org/2005/Atom}title") or "")
    # the deployment does not trust forwarded headers unless told to
    _, spoofed = await get(base, "/feeds/alerts.atom", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert "evil.example" not in spoofed and f'href="{base}/feeds/alerts.atom"' in spoofed
    status, cap = await get(base, "/feeds/alerts.cap")
    assert status == 200 and len(ET.fromstring(cap).findall("{urn:oasis:names:tc:emergency:cap:1.2}alert")) == 1
    status, index = await get(base, "/cap/index.atom")
    [cap_link] = [
        link.get("href") or ""
        for link in ET.fromstring(index).iter("{http://www.w3.org/2005/Atom}link")
        if link.get("type") == "application/cap+xml"
    ]
    status, alert = await get(base, cap_link.removeprefix(base))
    assert status == 200 and ET.fromstring(alert).tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
    for body in (page, atom, cap, index, alert):
        assert "7ABC123" not in body and "Juanita" not in body


async def queue_an_alert_for_a_subscriber(runtime: Runtime) -> None:
    """Two verifiers confirm a report in Las Palmas, where one neighbor subscribed: one outbox message."""
    from sereno.verify.incidents import Verdict
    from sereno.verify.members import Role
    from sereno.verify.model import Activity, GeoPoint, ReportDraft

    services = runtime.services
    await services.subscriptions.subscribe(USER, "en", ["las-palmas"])
    for user in (11, 12):
        await services.roster.redeem((await services.roster.invite(None, Role.VERIFIER)).code, user, str(user))
    draft = ReportDraft("e" * 32, activity=Activity.PRESENCE, point=GeoPoint(34.0564, -118.2568), neighborhood_id="las-palmas")
    submitted = await services.intake.submit(draft, 99, 99, "en")
    assert submitted.incident is not None
    for user in (11, 12):
        await services.desk.claim(user, submitted.incident.id)
        await services.desk.decide(user, submitted.incident.id, Verdict.CONFIRMED, "seen")


async def test_healthz_degrades_on_the_leader_when_an_alert_is_stuck_pending(served: tuple[Runtime, str]) -> None:
    runtime, base = served
    clock = runtime.services.clock
    assert isinstance(clock, ManualClock)
    await runtime.broadcaster.stop()  # the broadcaster is stuck: nothing drains the outbox
    await queue_an_alert_for_a_subscriber(runtime)
    clock.advance(timedelta(seconds=120))
    status, body = await get(base, "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["outbox_backlog"] == 1
    assert health["oldest_pending_seconds"] == 120.0 and health["outbox"] == "ok" and "reason" not in health

    clock.advance(timedelta(seconds=181))  # 301 s: past SERENO_HEALTH_MAX_PENDING_SECONDS (300)
    status, body = await get(base, "/healthz")
    health = json.loads(body)
    assert status == 503 and health["status"] == "degraded" and health["database"] == "ok"
    assert health["oldest_pending_seconds"] == 301.0 and health["outbox"] == "stuck"
    assert health["reason"] == "the oldest outbox message has waited 301 s (more than 300 s)"
    status, metrics = await get(base, "/metrics")
    assert "sereno_outbox_oldest_pending_seconds 301.0" in metrics

    runtime.leadership.is_leader = False  # as a follower replica sees the same database
    status, body = await get(base, "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["scheduler"] == "follower"
    assert health["oldest_pending_seconds"] == 301.0 and health["outbox"] == "stuck"


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition."""
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    raise AssertionError(f"{name}{labels} is not in /metrics")


async def test_metrics_show_the_process_the_build_the_jobs_the_leadership_and_the_webhook(
    served: tuple[Runtime, str], double: BotApiDouble
) -> None:
    runtime, base = served
    double.user(USER, "Ana", "en")
    assert await post(base, start_update(20)) == 200
    assert await post(base, start_update(21), secret="wrong") == 403
    [job] = runtime.application.job_queue.get_jobs_by_name("expire-alerts")  # type: ignore[union-attr]
    await job.run(runtime.application)
    status, metrics = await get(base, "/metrics")
    assert status == 200
    assert sample(metrics, "process_resident_memory_bytes") > 1_000_000
    assert sample(metrics, "process_cpu_seconds_total") > 0
    assert sample(metrics, "sereno_build_info", version=version("sereno"), revision=str(head_revision())) == 1.0
    assert sample(metrics, "sereno_job_last_success_timestamp_seconds", job="expire-alerts") > time.time() - 600
    for name in ("close-idle-drafts", "purge-expired", "expire-leases", "ping-unclaimed", "tell-owed-outcomes"):
        assert sample(metrics, "sereno_job_last_success_timestamp_seconds", job=name) >= 0
    assert sample(metrics, "sereno_leadership_changes_total", change="gained") == 1.0
    assert sample(metrics, "sereno_webhook_request_seconds_count") == 2.0
    assert sample(metrics, "sereno_webhook_request_seconds_sum") > 0
    assert sample(metrics, "sereno_webhook_errors_total", status="403") == 1.0
    assert sample(metrics, "sereno_outbox_oldest_pending_seconds") == 0.0
    await get(base, "/healthz")  # other routes are not the webhook's
    _, metrics = await get(base, "/metrics")
    assert sample(metrics, "sereno_webhook_request_seconds_count") == 2.0
