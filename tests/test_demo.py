"""`sereno demo` plays both reporters to a stored report each."""

from __future__ import annotations

import io
import re

from sereno.demo import run_demo


async def test_demo_plays_the_desk_from_invites_to_the_reporters_being_told() -> None:
    out = io.StringIO()
    codes = await run_demo(out)
    transcript = out.getvalue()
    assert len(codes) == 2 and all(re.fullmatch(r"SR-[2-9A-Z]{4}", c) for c in codes)
    joining, rest = transcript.split("Ana reports in English")
    english, rest = rest.split("Luis reporta en español")
    spanish, rest = rest.split("The desk merges the two reports")
    desk, rest = rest.split("Both reporters are told the outcome")
    told, rest = rest.split("The verified alert reaches the channel and the subscribers")
    alerted, rest = rest.split("Later, the coordinator posts the all-clear")
    cleared, rest = rest.split("A rumor in Old Mill is debunked and corrected")
    corrected, rest = rest.split("Eyes on the ground: a field verifier is sent to look")
    dispatched, trained = rest.split("A new volunteer trains on a practice drill")
    assert joining.count("Welcome to the desk as verifier") == 2
    assert f"Your reference code is {codes[0]}" in english and "Mission Flats" in english
    assert f"Su código de referencia es {codes[1]}" in spanish and "Mission Flats" in spanish
    assert "Possibly the same event" in desk and "Reports: 2" in desk and "Decided: Confirmed" in desk
    assert f"Update on your report {codes[0]}: trained verifiers confirmed it" in told
    assert f"Novedades sobre su reporte {codes[1]}" in told
    assert transcript.count("will receive verified alerts for") == 2
    assert alerted.count("Verified alert: Mission Flats") == 2 and "Alerta verificada: Mission Flats" in alerted
    assert "Two unmarked grey SUVs" not in alerted + cleared + corrected  # report details never go public
    assert "All clear" in cleared and "Todo despejado" in cleared
    assert "Rumor check: Old Mill" in corrected
    assert "Can you go and look?" in dispatched and "Observe only, from a distance" in dispatched
    assert "Someone is on the way" in dispatched and "Your on-site report (confirmed)" in dispatched
    assert "Dispatch: Jon · on site" in dispatched and "Your visit is closed" in dispatched
    assert "Welcome to the desk as trainee" in trained and "PRACTICE DRILL" in trained
    assert "Why:" in trained and "You claimed it after" in trained and "Verified alert" not in trained
    assert transcript.rstrip().endswith("practice drill, which nobody else saw, and got feedback.")
