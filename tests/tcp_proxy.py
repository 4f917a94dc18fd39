"""A small asyncio TCP proxy for outage tests: forwards 127.0.0.1:<free port> to a target,
and can `cut()` the line (every open connection closed, new ones refused or held), or
`drop()` everything sent on it (a partition: bytes accepted and never forwarded, nothing
reset, new connections accepted and never answered), and `heal()` it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TcpProxy:
    """`async with TcpProxy(port=5432) as proxy:` then connect to `proxy.port`."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted since start
        self.refused = 0  # closed at once while cut
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._healed = asyncio.Event()
        self._healed.set()
        self._hold = False
        self._dropping = False
        self._dropped: set[asyncio.StreamWriter] = set()  # connections open during a drop

    @property
    def is_cut(self) -> bool:
        return not self._healed.is_set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._healed.set()
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def url(self, database_url: str) -> str:
        """`database_url` (host 127.0.0.1, the target port) rewritten to go through the proxy."""
        host, port = self.target
        return database_url.replace(f"@{host}:{port}/", f"@127.0.0.1:{self.port}/", 1)

    def cut(self, *, hold: bool = False) -> None:
        """Close every open connection; until :meth:`heal`, refuse new ones (closed at once),
        or with `hold` keep them waiting unanswered (then forward them once healed)."""
        self._hold = hold
        self._healed.clear()
        self._drop_all()

    def drop(self) -> None:
        """From now until :meth:`heal`, forward nothing in either direction and reset
        nothing: every peer sees a silent line, as in a network partition."""
        self._dropping = True
        self._dropped |= self._open

    def heal(self) -> None:
        """End a cut or a drop. The connections a drop silenced lost bytes, so they are
        reset now (as their peers would eventually give up on them)."""
        self._dropping = False
        for writer in list(self._dropped):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._dropped.clear()
        self._healed.set()

    def _drop_all(self) -> None:
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # an RST, like a server that went away
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            self.connections += 1
            if self.is_cut and not self._hold:
                self.refused += 1
                writer.transport.abort()
                return
            await self._healed.wait()
            if self._dropping:
                self._dropped.add(writer)
                while self._dropping and await reader.read(65536):
                    pass  # swallowed
                writer.transport.abort()
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            self._open |= {writer, up_writer}
            async with self._tracked(writer, up_writer):
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._tasks.discard(task)

    @asynccontextmanager
    async def _tracked(self, *writers: asyncio.StreamWriter) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for w in writers:
                self._open.discard(w)
                with contextlib.suppress(Exception):
                    w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._dropping:
                    self._dropped.add(writer)
                    continue
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
