"""AiohttpRequest: PTB's Bot over aiohttp against the Bot API double and misbehaving servers.
A timeout test passes when PTB's TimedOut is raised (not `asyncio.wait_for`'s own
TimeoutError): the configured timeout fired. How soon it fires: bench/timeouts.py."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from sereno.bot.aiohttp_request import AiohttpRequest
from sereno.double import BotApiDouble, UploadedFile

TOKEN = "123456:TEST-aiohttp"
CHAT = 4242


def make_jpeg(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_bot(base: str, request: BaseRequest) -> Bot:
    return Bot(TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request)


@pytest.fixture
async def api() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(TOKEN) as double:
        double.user(CHAT, "Ana")
        yield double


@pytest.fixture
async def bot(api: BotApiDouble) -> AsyncIterator[Bot]:
    async with make_bot(api.api_url, AiohttpRequest(connection_pool_size=8)) as running:
        yield running


async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, str]:
    """A local aiohttp server answering every path with ``handler``; (runner, base URL)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def slow_server() -> AsyncIterator[str]:
    """Answers getMe correctly, but only after 30 s."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "S"}})

    runner, base = await serve(handler)
    yield base
    await runner.cleanup()


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_get_me(api: BotApiDouble, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "sereno_test_bot", True)
    assert [c.status for c in api.calls_to("getMe")] == [200, 200]  # Bot.initialize + ours


async def test_send_message_with_inline_keyboard(api: BotApiDouble, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Sí ✅", callback_data="ok:1"), InlineKeyboardButton("No", callback_data="ok:0")]]
    )
    message = await bot.send_message(
        CHAT,
        "<b>Alerta</b> — ¿confirmas?",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
        disable_notification=True,
    )
    [sent] = api.sent_messages(CHAT)
    assert sent.message_id == message.message_id
    assert sent.text == message.text == "Alerta — ¿confirmas?"
    assert sent.entities == [{"type": "bold", "offset": 0, "length": 6}]
    assert sent.inline_keyboard == [[{"text": "Sí ✅", "callback_data": "ok:1"}, {"text": "No", "callback_data": "ok:0"}]]
    assert api.calls_to("sendMessage")[0].params["disable_notification"] is True
    assert message.reply_markup == keyboard


async def test_parameters_reach_the_server_as_httpx_sends_them(api: BotApiDouble) -> None:
    """The same calls through HTTPXRequest and AiohttpRequest are decoded identically."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", url="https://example.org/a?b=c&d=é")]])
    photo = make_jpeg()
    for request in (HTTPXRequest(), AiohttpRequest()):
        async with make_bot(api.api_url, request) as bot:
            await bot.send_message(CHAT, "a & b = c + 100% ✓\nline", reply_markup=keyboard, protect_content=True)
            await bot.send_photo(CHAT, photo, caption="cap & ✓", reply_markup=keyboard)
    sends = api.calls_to("sendMessage")
    photos = api.calls_to("sendPhoto")
    assert len(sends) == len(photos) == 2
    assert sends[0].params == sends[1].params
    assert photos[0].params == photos[1].params
    assert photos[1].params["photo"].data == photo


async def test_send_photo_uploads_bytes(api: BotApiDouble, bot: Bot) -> None:
    photo = make_jpeg()
    message = await bot.send_photo(CHAT, photo=photo, caption="Agents at the corner")
    [sent] = api.sent_messages(CHAT)
    assert sent.photo and sent.photo_bytes == photo
    assert sent.caption == message.caption == "Agents at the corner"
    assert sent.file is not None and message.photo[-1].file_id == sent.file.file_id
    upload = api.calls_to("sendPhoto")[0].params["photo"]
    assert isinstance(upload, UploadedFile) and upload.data == photo


async def test_send_document_from_a_file_handle(api: BotApiDouble, bot: Bot) -> None:
    content = b"%PDF-1.4 not really\n" * 500
    document = InputFile(io.BytesIO(content), filename="informe del año.pdf")
    message = await bot.send_document(CHAT, document, caption="Informe")
    [sent] = api.sent_messages(CHAT)
    assert sent.document and sent.file_bytes == content
    assert message.document is not None
    assert (message.document.file_name, message.document.mime_type) == ("informe del año.pdf", "application/pdf")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_raises_retry_after(api: BotApiDouble, bot: Bot) -> None:
    api.force_429(retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "too fast")
    retry_after = caught.value.retry_after
    if not isinstance(retry_after, dtm.timedelta):
        retry_after = dtm.timedelta(seconds=retry_after)
    assert retry_after == dtm.timedelta(seconds=3)
    assert api.sent_messages(CHAT) == []
    assert (await bot.send_message(CHAT, "later")).text == "later"


async def test_blocked_chat_raises_forbidden(api: BotApiDouble, bot: Bot) -> None:
    api.block(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hello?")
    assert api.calls_to("sendMessage")[0].status == 403


async def test_read_timeout_from_the_constructor_raises_timed_out(slow_server: str) -> None:
    request = AiohttpRequest(read_timeout=0.3)
    assert request.read_timeout == 0.3
    bot = make_bot(slow_server, request)
    try:
        with pytest.raises(TimedOut, match="Timed out"):
            await asyncio.wait_for(bot.get_me(), 10)
    finally:
        await request.shutdown()


async def test_read_timeout_per_call_overrides_the_default(slow_server: str) -> None:
    request = AiohttpRequest(read_timeout=60)
    bot = make_bot(slow_server, request)
    try:
        with pytest.raises(TimedOut):
            await asyncio.wait_for(bot.get_me(read_timeout=0.3), 10)
    finally:
        await request.shutdown()


async def test_pool_timeout_when_every_connection_is_busy(slow_server: str) -> None:
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.2, read_timeout=2)
    bot = make_bot(slow_server, request)
    try:
        first = asyncio.create_task(bot.get_me())
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await asyncio.wait_for(bot.get_me(), 10)
        with pytest.raises(TimedOut, match="Timed out"):  # the first one, on its read timeout
            await asyncio.wait_for(first, 10)
    finally:
        await request.shutdown()


async def test_stalled_upload_raises_timed_out() -> None:
    """A server that never reads the body: bounded by connect + write + read timeouts."""
    stalled: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # never read, never answer

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(connect_timeout=0.2, read_timeout=0.3, media_write_timeout=0.3)
    bot = make_bot(f"http://127.0.0.1:{port}", request)
    try:
        with pytest.raises(TimedOut):
            await asyncio.wait_for(bot.send_document(CHAT, b"x" * (64 * 1024 * 1024), filename="big.bin"), 10)
    finally:
        await request.shutdown()
        for writer in stalled:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_connection_refused_raises_network_error() -> None:
    request = AiohttpRequest(connect_timeout=2)
    bot = make_bot(f"http://127.0.0.1:{closed_port()}", request)
    try:
        with pytest.raises(NetworkError, match=r"^aiohttp\.ClientConnectorError") as caught:
            await bot.get_me()
    finally:
        await request.shutdown()
    assert not isinstance(caught.value, TimedOut)


async def test_a_malformed_answer_raises_network_error_naming_the_host_not_the_token() -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"NOT HTTP\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    request = AiohttpRequest(connect_timeout=2)
    try:
        with pytest.raises(NetworkError, match=r"^aiohttp\.ClientResponseError") as caught:
            await make_bot(base, request).get_me()
    finally:
        await request.shutdown()
        server.close()
    assert f"{base}/…/getMe" in caught.value.message and TOKEN not in caught.value.message


async def test_shutdown_then_initialize_works_again(api: BotApiDouble) -> None:
    request = AiohttpRequest()
    bot = make_bot(api.api_url, request)
    await bot.initialize()
    await bot.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await bot.send_message(CHAT, "after shutdown")
    await bot.initialize()
    try:
        assert (await bot.send_message(CHAT, "again")).text == "again"
    finally:
        await bot.shutdown()
    assert [m.text for m in api.sent_messages(CHAT)] == ["again"]


async def test_first_request_opens_the_session_without_initialize(api: BotApiDouble) -> None:
    request = AiohttpRequest()
    data = RequestData([RequestParameter.from_input("chat_id", CHAT), RequestParameter.from_input("text", "lazy")])
    try:
        status, body = await request.do_request(f"{api.bot_base_url}{TOKEN}/sendMessage", "POST", data)
    finally:
        await request.shutdown()
        await request.shutdown()  # twice is harmless
    assert status == 200
    assert json.loads(body)["result"]["text"] == "lazy"
