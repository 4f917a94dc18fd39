"""Flood: how much one person's 1,000-message burst slows 50 others reporting beside it.

Runs the scenario of tests/bot/test_flood.py (the real Application through
`Application.process_update`, an offline request, a scratch SQLite database): rounds of 50
whole report conversations, alternately without and with a flooder sending 1,000 messages
in a burst. Printed per round: the p99 step latency of the 50 reporters; then the median of
the flooded rounds ÷ the median of the quiet ones, measured in the same run. Target: ≤ 2×.

    python bench/flood.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bot.offline_app import offline_bot  # noqa: E402
from tests.bot.test_flood import FLOOD, REPORTERS, one_round  # noqa: E402

TARGET = 2.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (quiet, then flooded)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        async with offline_bot(Path(folder)) as bot:
            await one_round(bot, 100_000, None)  # warm-up: imports, caches, first connections
            quiet, flooded = [], []
            for n in range(args.rounds):
                quiet.append(await one_round(bot, 200_000 + 1_000 * n, None))
                flooded.append(await one_round(bot, 300_000 + 1_000 * n, 900_000 + n))
                print(
                    f"  round {n + 1}: p99 step latency of {REPORTERS} reporters {quiet[-1] * 1000:6.1f} ms alone, "
                    f"{flooded[-1] * 1000:6.1f} ms beside a {FLOOD}-message flood"
                )
    without, with_flood = statistics.median(quiet), statistics.median(flooded)
    ratio = with_flood / without
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(
        f"flood: p99 step latency {without * 1000:.1f} ms alone, {with_flood * 1000:.1f} ms beside the flood "
        f"(medians of {args.rounds}): ratio {ratio:.2f}x — {verdict} the {TARGET:.0f}x target"
    )


if __name__ == "__main__":
    asyncio.run(main())
