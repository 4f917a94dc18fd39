"""A headless Chromium driven over the DevTools protocol (CDP, a websocket through aiohttp):
open a page at a given viewport size and evaluate JavaScript in it.

Evaluation through CDP is not subject to the page's Content-Security-Policy, so the page
under test is served exactly as visitors get it."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT = 60.0


class Page:
    """One tab, reached over the browser's websocket with a flat session id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str, ids: itertools.count[int]) -> None:
        self._ws, self._session, self._ids = ws, session, ids

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command to the tab and wait for its result (events in between are skipped)."""
        return await _call(self._ws, self._ids, method, params, session=self._session)

    async def open(self, url: str, width: int, height: int) -> None:
        """Load `url` with a `width`×`height` CSS-pixel mobile-style viewport (the page's
        viewport meta applies) and wait until it has loaded."""
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=True)
        await self.send("Page.enable")
        await self.send("Page.navigate", url=url)
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self._ws.receive_json()
                if message.get("method") == "Page.loadEventFired" and message.get("sessionId") == self._session:
                    return

    async def evaluate(self, expression: str) -> Any:
        """The value of `expression` in the page (JSON-serialisable)."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


async def _call(
    ws: aiohttp.ClientWebSocketResponse,
    ids: itertools.count[int],
    method: str,
    params: dict[str, Any],
    *,
    session: str | None = None,
) -> dict[str, Any]:
    number = next(ids)
    message: dict[str, Any] = {"id": number, "method": method, "params": params}
    if session is not None:
        message["sessionId"] = session
    await ws.send_str(json.dumps(message))
    async with asyncio.timeout(TIMEOUT):
        while True:
            reply = await ws.receive_json()
            if reply.get("id") == number:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})


@asynccontextmanager
async def browser_page(profile: Path) -> AsyncIterator[Page]:
    """A fresh tab in a headless Chromium started for this block (and stopped after it)."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        async with asyncio.timeout(TIMEOUT):
            while not (found := re.search(rb"DevTools listening on (ws://\S+)", await process.stderr.readline())):
                pass
        drain = asyncio.create_task(process.stderr.read())  # keep the pipe from filling up
        try:
            async with aiohttp.ClientSession() as http, http.ws_connect(found.group(1).decode(), max_msg_size=0) as ws:
                ids = itertools.count(1)
                target = await _call(ws, ids, "Target.createTarget", {"url": "about:blank"})
                attached = await _call(ws, ids, "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
                yield Page(ws, attached["sessionId"], ids)
        finally:
            drain.cancel()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
