"""Time from a reporter's Submit to a verifier's card, through the real bot.

Runs Sereno (long polling) against the Bot API double on a scratch database, with
verifiers on duty; reporters complete reports one after another. For each report it
measures the time from the Submit press being queued at the double to the double receiving
the card (a `sendMessage` to a verifier naming the report's reference code), and prints p50
and p99. Target: p99 < 1 s. A second line plays several reporters at once; the simulated
users, the double and the bot then share one process and two cores, so that line shows the
whole machine under load rather than the bot alone (informational, no target).

    python bench/notify.py [--reports N] [--verifiers N] [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sereno.bootstrap import running_bot  # noqa: E402
from sereno.config import Settings  # noqa: E402
from sereno.double import BotApiDouble, FakeUser  # noqa: E402
from sereno.storage.admin import replace_neighborhoods  # noqa: E402
from sereno.storage.engine import make_engine  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory  # noqa: E402
from sereno.verify.clock import SystemClock  # noqa: E402
from sereno.verify.members import Role  # noqa: E402
from sereno.verify.places import parse_geojson  # noqa: E402
from sereno.verify.pseudonyms import Pseudonymizer  # noqa: E402
from sereno.verify.roster import RosterService  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO_REGION = ROOT / "sereno" / "data" / "demo_region.geojson"
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "555:BENCH"
HMAC_KEY = "bench-hmac-key-0123456789abcdef0123456789"
CODE = re.compile(r"SR-[2-9A-Z]{4}")


async def staff(url: str, verifiers: int) -> list[int]:
    """Verifiers on duty, reading English, covering every area."""
    engine = make_engine(url)
    roster = RosterService(SqlUnitOfWorkFactory(engine), SystemClock(), Pseudonymizer(HMAC_KEY.encode()))
    ids = [900_000 + n for n in range(verifiers)]
    for user_id in ids:
        await roster.redeem((await roster.invite(None, Role.VERIFIER)).code, user_id, f"V{user_id}")
        await roster.update(user_id, on_duty=True, languages=("en",))
    await engine.dispose()
    return ids


async def one_report(double: BotApiDouble, user: FakeUser, n: int, verifier_chats: set[int]) -> float:
    """Play a report to Submit; seconds from the Submit press to the first verifier card."""
    await user.send_command("/report")
    await user.wait_text("What is happening?", timeout=30)
    await user.press("Agents present or gathering")
    await user.wait_text("Where is it happening?", timeout=30)
    await user.share_location(34.0 + (n % 50) * 0.03, -118.28 + (n // 50) * 0.04)  # over 3 km apart: new incidents
    for question in ("When did you", "How many agents", "How many vehicles", "What markings", "Anything else", "send a photo"):
        await user.wait_text(question, timeout=30)
        await user.press("Skip")
    await user.wait_text("Please check your report", timeout=30)
    pressed = time.time()
    await user.press("✅ Submit")
    done = await user.wait_text("Report received", timeout=30)
    match = CODE.search(done.text)
    assert match is not None
    call = await double.wait_for_call(
        "sendMessage",
        lambda c: int(c.params.get("chat_id", 0)) in verifier_chats and match.group() in str(c.params.get("text")),
        timeout=30,
    )
    return call.at - pressed


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered), p99


async def bench(kind: str, reports: int, verifiers: int, concurrency: int) -> None:
    async with scratch_database(kind, PG_ADMIN_URL) as url:
        await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text()))
        verifier_ids = await staff(url, verifiers)
        async with BotApiDouble(TOKEN) as double:
            for user_id in verifier_ids:
                double.user(user_id, f"V{user_id}")
            settings = Settings(
                _env_file=None,
                telegram_token=TOKEN,
                telegram_api_url=double.api_url,
                database_url=url,
                hmac_key=HMAC_KEY,
                send_per_second=1000,
                reports_per_window=10_000,
                flood_max_updates=10_000,
            )
            async with running_bot(settings, poll_timeout=1):
                chats = set(verifier_ids)
                sequential = [await one_report(double, double.user(100 + n, f"R{n}"), n, chats) for n in range(reports)]

                async def reporter(n: int) -> float:
                    return await one_report(double, double.user(10_000 + n, f"C{n}"), reports + n, chats)

                parallel = await asyncio.gather(*(reporter(n) for n in range(concurrency)))
    p50, p99 = percentiles(sequential)
    verdict = "meets" if p99 < 1.0 else "MISSES"
    print(
        f"{kind:8} one at a time  Submit → card: p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms "
        f"({len(sequential)} reports, {verifiers} verifiers) — {verdict} the p99 < 1 s target"
    )
    p50, p99 = percentiles(list(parallel))
    print(
        f"{kind:8} {concurrency} at once      Submit → card: p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms "
        "(simulation in the same process; informational)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--verifiers", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        await bench(kind, args.reports, args.verifiers, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
