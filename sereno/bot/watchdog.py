"""systemd's service notifications (the sd_notify datagram protocol), for `Type=notify`
with `WatchdogSec=` (deploy/sereno.service).

The bot says READY=1 once it serves and STOPPING=1 when it stops. While systemd's watchdog
is on for this process (WATCHDOG_USEC, and WATCHDOG_PID naming it if set), it pings
WATCHDOG=1 every half period — only after the database answered within the check's
timeout, and only if the event loop runs the check at all: a blocked loop or a lost
database stops the pings, and systemd restarts the service. Without NOTIFY_SOCKET (not
under systemd, e.g. in Docker) nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1") to systemd's NOTIFY_SOCKET; False when there is none."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("could not notify systemd (%s)", exc.strerror or type(exc).__name__)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between pings (half systemd's watchdog period), or None when the watchdog
    is not on for this process."""
    usec, pid = os.environ.get("WATCHDOG_USEC", ""), os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


async def ping_if_healthy(healthy: Callable[[], Awaitable[bool]]) -> bool:
    """Ping the watchdog if `healthy()` says so; whether a ping was sent."""
    if not await healthy():
        log.warning("not pinging systemd's watchdog: the bot is not healthy")
        return False
    return notify("WATCHDOG=1")


async def keep_alive(healthy: Callable[[], Awaitable[bool]], interval: float, stop: asyncio.Event) -> None:
    """Every `interval` seconds until `stop` is set: :func:`ping_if_healthy`."""
    while not stop.is_set():
        await ping_if_healthy(healthy)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
