"""A python-telegram-bot request backend on one :class:`aiohttp.ClientSession`.

PTB's default :class:`telegram.request.HTTPXRequest` tops out at a few hundred requests per
second on this machine class; aiohttp's client does several times that (see
``bench/http_client.py``). :class:`AiohttpRequest` is a drop-in
:class:`telegram.request.BaseRequest` for the sending bot::

    bot = Bot(token, request=AiohttpRequest(connection_pool_size=256))

It behaves like ``HTTPXRequest`` towards PTB: same constructor timeouts and defaults, the
same ``DEFAULT_NONE`` handling in :meth:`AiohttpRequest.do_request`, parameters sent as an
``application/x-www-form-urlencoded`` form (``multipart/form-data`` when files are uploaded),
timeouts raised as :class:`telegram.error.TimedOut` and other transport failures as
:class:`telegram.error.NetworkError`, whose text never holds the request URL's path (where
the bot token is): only the host and the method. HTTP error statuses are returned, not raised: PTB turns
them into ``RetryAfter``, ``Forbidden``, ``BadRequest``, … itself.

Proxies are not supported (``HTTP(S)_PROXY`` is not read); nor is HTTP/2.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]

_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
_POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)


class AiohttpRequest(BaseRequest):
    """:class:`telegram.request.BaseRequest` implemented with one ``aiohttp.ClientSession``.

    The session (a keep-alive ``TCPConnector`` limited to ``connection_pool_size``
    connections) is created by :meth:`initialize`, or by the first request if
    :meth:`initialize` was never called, and closed by :meth:`shutdown`. After
    :meth:`shutdown`, requests raise ``RuntimeError`` (as ``HTTPXRequest`` does) until
    :meth:`initialize` opens a new session.

    Timeouts (seconds; ``None`` waits forever) are the defaults for every request and can
    be overridden per call, as with ``HTTPXRequest``:

    * ``pool_timeout``: waiting for one of the ``connection_pool_size`` slots. Expiry
      raises ``TimedOut`` with PTB's "Pool timeout" message; the request was not sent.
    * ``connect_timeout``: opening a new connection.
    * ``read_timeout``: between two reads of the response (aiohttp's ``sock_read``).
    * ``write_timeout`` (``media_write_timeout`` when files are uploaded): aiohttp has no
      per-write timeout, so the time from starting to connect until the response headers
      arrive is bounded by ``connect_timeout + write_timeout + read_timeout`` instead (when
      all three are set). Reading the body is then bounded by ``read_timeout`` per read only,
      so large downloads are not cut off.

    Args:
        connection_pool_size: Most connections open at once (and requests in flight);
            ``0`` means unlimited, with no pool timeout.
        read_timeout: Default read timeout.
        write_timeout: Default write timeout for requests without files.
        connect_timeout: Default connect timeout.
        pool_timeout: Default pool timeout.
        media_write_timeout: Default write timeout for requests that upload files.
        keepalive_timeout: Seconds an idle connection is kept open for reuse.
    """

    __slots__ = (
        "_connect_timeout",
        "_keepalive_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_shut_down",
        "_slots",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        keepalive_timeout: float = 15.0,
    ) -> None:
        if connection_pool_size < 0:
            raise ValueError("connection_pool_size must be >= 0")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._keepalive_timeout = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._shut_down = False

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout given to the constructor (PTB adds it to long polls)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session if none is open (again usable after :meth:`shutdown`)."""
        self._shut_down = False
        self._ensure_session()

    async def shutdown(self) -> None:
        """Close the session and its connections; a no-op if none is open."""
        self._shut_down = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                limit_per_host=0,
                keepalive_timeout=self._keepalive_timeout,
            )
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})
            self._slots = asyncio.Semaphore(self._pool_size) if self._pool_size else None
        return self._session

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return ``(HTTP status code, response body)``.

        Raises:
            TimedOut: a pool, connect, write or read timeout expired.
            NetworkError: the connection failed (refused, reset, malformed response, …).
            RuntimeError: called after :meth:`shutdown` without :meth:`initialize`.
        """
        if self._session is None and self._shut_down:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        session = self._ensure_session()
        uploads = request_data is not None and request_data.contains_files

        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if uploads else self._write_timeout

        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if uploads:
                data = aiohttp.FormData(quote_fields=False)  # UTF-8 file names, as httpx
                for name, value in request_data.json_parameters.items():
                    data.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    data.add_field(name, content, filename=filename, content_type=mimetype)
            elif parameters := request_data.json_parameters:
                data = urlencode(parameters).encode()
                headers = _FORM_HEADERS

        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        until_headers = (
            None
            if connect_timeout is None or write_timeout is None or read_timeout is None
            else connect_timeout + write_timeout + read_timeout
        )

        slots = self._slots
        if slots is not None:
            if slots.locked():
                try:
                    async with asyncio.timeout(pool_timeout):
                        await slots.acquire()
                except TimeoutError as err:
                    raise TimedOut(message=_POOL_TIMEOUT_MESSAGE) from err
            else:
                await slots.acquire()
        try:
            async with asyncio.timeout(until_headers) as deadline:
                async with session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                    if not deadline.expired():
                        deadline.reschedule(None)
                    return response.status, await response.read()
        except TimeoutError as err:  # asyncio's, and aiohttp's ServerTimeoutError
            raise TimedOut from err
        except aiohttp.ClientError as err:
            text = str(err).replace(url, _without_token(url))
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {text}") from err
        finally:
            if slots is not None:
                slots.release()


def _without_token(url: str) -> str:
    """`url` with its path (``/bot<token>/<method>``) cut to the method."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…/{parts.path.rsplit('/', 1)[-1]}"
