"""`sereno demo` plays both reporters to a stored report each."""

from __future__ import annotations

import io
import re

from sereno.demo import run_demo


async def test_demo_prints_both_conversations_ending_with_their_reference_codes() -> None:
    out = io.StringIO()
    codes = await run_demo(out)
    transcript = out.getvalue()
    assert len(codes) == 2 and all(re.fullmatch(r"SR-[2-9A-Z]{4}", c) for c in codes)
    english, spanish = transcript.split("Luis reporta en español")
    assert f"Your reference code is {codes[0]}" in english and "Mission Flats" in english
    assert f"Su código de referencia es {codes[1]}" in spanish and "Las Palmas" in spanish
    assert transcript.rstrip().endswith("waiting for trained verifiers.")
