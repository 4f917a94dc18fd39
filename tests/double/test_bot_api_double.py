"""Tests for the Telegram Bot API double, driven by a real PTB Application and by aiohttp."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from sereno.double import BotApiDouble, Button, SentMessage, UploadedFile

TOKEN = "123456:TEST"
SEEN_KEY = "seen_update_ids"


def make_jpeg(width: int = 640, height: int = 480) -> bytes:
    """A real JPEG image of the given size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


async def record_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remember every update id the bot processes (group -1, runs before the others)."""
    context.application.bot_data.setdefault(SEEN_KEY, []).append(update.update_id)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with an inline yes/no keyboard."""
    assert update.message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="answer:yes"),
                InlineKeyboardButton("No", callback_data="answer:no"),
            ]
        ]
    )
    await update.message.reply_text("<b>Welcome!</b> Continue?", parse_mode="HTML", reply_markup=keyboard)


async def where(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask for the location with a reply keyboard."""
    assert update.message is not None
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share location", request_location=True)], ["Cancel"]],
        one_time_keyboard=True,
    )
    await update.message.reply_text("Where are you?", reply_markup=keyboard)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the callback query and edit the keyboard message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    choice = query.data.split(":", 1)[1]
    await query.answer(f"got {choice}")
    await query.edit_message_text(f"You chose {choice}")


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo a shared location."""
    assert update.message is not None and update.message.location is not None
    location = update.message.location
    await update.message.reply_text(f"Location {location.latitude:.3f}, {location.longitude:.3f}")


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the largest photo size and send the bytes back as a new upload."""
    assert update.message is not None
    photo_file = await update.message.photo[-1].get_file()
    data = await photo_file.download_as_bytearray()
    await update.message.reply_photo(photo=bytes(data), caption=f"got {len(data)} bytes")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo plain text."""
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(TOKEN) as running:
        yield running


@pytest.fixture
async def app(double: BotApiDouble) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = (
        ApplicationBuilder().token(TOKEN).base_url(f"{double.api_url}/bot").base_file_url(f"{double.api_url}/file/bot").build()
    )
    application.add_handler(TypeHandler(Update, record_update), group=-1)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("where", where))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.LOCATION, on_location))
    application.add_handler(MessageHandler(filters.PHOTO, on_photo))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    updater = application.updater
    assert updater is not None
    await application.initialize()
    await application.start()
    await updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await updater.stop()
        await application.stop()
        await application.shutdown()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_get_me(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    me = await app.bot.get_me()
    assert me.is_bot
    assert me.username == "sereno_test_bot"
    assert me.first_name == "Sereno"
    assert me.id == double.bot_user["id"] == 123456
    assert double.calls_to("getMe")[0].status == 200


async def test_text_goes_through_polling_and_reply_is_recorded(
    double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    ana = double.user(42, "Ana")
    update_id = await ana.send_text("hello")
    reply = await ana.wait_text("echo: hello")
    assert reply.chat_id == 42
    assert reply.sender == double.bot_user
    assert ana.last_message() is reply
    assert [m.text for m in double.sent_messages(42)] == ["echo: hello"]
    call = double.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == 42 and call.params["text"] == "echo: hello"
    assert call.result["from"]["is_bot"] is True
    assert update_id in app.bot_data[SEEN_KEY]
    await double.wait_confirmed(update_id)
    assert [entry.side for entry in ana.transcript()] == ["user", "bot"]


async def test_start_html_is_parsed_and_keyboard_echoed(
    double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    ana = double.user(42)
    await ana.send_command("/start")
    greeting = await ana.next_message()
    assert greeting.text == "Welcome! Continue?"
    assert greeting.entities == [{"type": "bold", "offset": 0, "length": 8}]
    assert ana.buttons() == ["Yes", "No"]
    assert ana.buttons()[0].callback_data == "answer:yes"
    sent = double.calls_to("sendMessage")[-1]
    assert sent.result["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "answer:no"
    command_update = double.get_update(ana.update_ids[-1])
    assert command_update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


async def test_button_press_yields_answered_callback_query(
    double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    ana = double.user(42)
    await ana.send_command("/start")
    greeting = await ana.wait_text("Welcome")
    update_id = await ana.press("Yes")
    answer = await ana.wait_callback_answer()
    assert answer["text"] == "got yes"
    edited = await ana.wait_text("You chose yes")
    assert edited is greeting
    assert edited.history == ["Welcome! Continue?"]
    assert edited.edited and edited.reply_markup is None
    query = double.get_update(update_id)["callback_query"]
    assert query["data"] == "answer:yes"
    assert query["from"]["id"] == 42
    assert query["message"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Yes"
    assert query["chat_instance"]
    with pytest.raises(LookupError):
        await ana.press("Maybe")


async def test_redeliver_shows_same_update_again(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    ana = double.user(42)
    update_id = await ana.send_text("once")
    await ana.wait_text("echo: once")
    await double.wait_confirmed(update_id)
    double.redeliver(update_id)
    await double.wait_until(lambda: app.bot_data[SEEN_KEY].count(update_id) == 2)
    await double.wait_for(lambda m: m.message_id > 2 and m.text == "echo: once", chat_id=42)
    later = await ana.send_text("twice")
    await ana.wait_text("echo: twice")
    seen = app.bot_data[SEEN_KEY]
    assert seen.count(update_id) == 2 and seen.count(later) == 1


async def test_photo_upload_round_trip(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    jpeg = make_jpeg(1000, 500)
    ana = double.user(42)
    update_id = await ana.send_photo(jpeg, caption="look")
    photo_sizes = double.get_update(update_id)["message"]["photo"]
    widths = [size["width"] for size in photo_sizes]
    assert widths == sorted(widths) and widths[-1] == 1000 and len(widths) > 1
    reply = await ana.wait_text(f"got {len(jpeg)} bytes")
    assert reply.photo and reply.photo_bytes == jpeg
    get_file = double.calls_to("getFile")[-1]
    assert get_file.result["file_size"] == len(jpeg)
    assert double.calls_to("downloadFile")[-1].status == 200
    upload = double.calls_to("sendPhoto")[-1].params["photo"]
    assert isinstance(upload, UploadedFile) and upload.data == jpeg
    # Sending by file_id reuses the stored file.
    assert reply.file is not None
    by_id = await app.bot.send_photo(42, photo=reply.file.file_id)
    assert by_id.photo[-1].file_id == reply.file.file_id
    assert double.sent_messages(42)[-1].photo_bytes == jpeg


async def test_reply_keyboard_location_and_sticker(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    ana = double.user(42)
    await ana.send_command("where")
    await ana.wait_text("Where are you?")
    buttons = ana.buttons()
    assert buttons == ["Share location", "Cancel"]
    assert isinstance(buttons[0], Button) and buttons[0].request_location
    await ana.share_location(40.4168, -3.7038, horizontal_accuracy=20)
    await ana.wait_text("Location 40.417, -3.704")
    sticker_update = await ana.send_sticker()
    message = double.get_update(sticker_update)["message"]
    assert "sticker" in message and "text" not in message


# PTB itself warns about RetryAfter.retry_after's future type when building the error.
ignore_retry_after_warning = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@ignore_retry_after_warning
async def test_enforced_limits_answer_429(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    double.user(42)
    double.enforce_limits(global_per_second=30, private_per_second=1, group_per_minute=20)
    await app.bot.send_message(42, "first")
    with pytest.raises(RetryAfter):
        await app.bot.send_message(42, "second")
    assert double.count_429 == 1
    refused = double.calls_to("sendMessage")[-1]
    assert refused.status == 429
    assert refused.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert [m.text for m in double.sent_messages(42)] == ["first"]


async def test_group_limit_per_minute(double: BotApiDouble, http: aiohttp.ClientSession) -> None:
    double.add_chat(-1001234567890, type="supergroup", title="Volunteers")
    double.enforce_limits(group_per_minute=2)
    url = f"{double.api_url}/bot{TOKEN}/sendMessage"
    statuses = []
    for n in range(3):
        async with http.post(url, data={"chat_id": "-1001234567890", "text": f"m{n}"}) as resp:
            statuses.append((resp.status, await resp.json()))
    assert [s for s, _ in statuses] == [200, 200, 429]
    assert 55 <= statuses[2][1]["parameters"]["retry_after"] <= 60
    assert statuses[0][1]["result"]["chat"]["type"] == "supergroup"


@ignore_retry_after_warning
async def test_forced_429(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    double.user(42)
    double.force_429(times=2, retry_after=3)
    for _ in range(2):
        with pytest.raises(RetryAfter):
            await app.bot.send_message(42, "hi")
    message = await app.bot.send_message(42, "hi")
    assert message.text == "hi"
    assert double.count_429 == 2
    assert double.calls_to("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


async def test_blocked_user_gets_403(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    double.user(42)
    double.block(42)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await app.bot.send_message(42, "hello?")
    call = double.calls_to("sendMessage")[-1]
    assert call.status == 403
    assert call.response == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    double.unblock(42)
    assert (await app.bot.send_message(42, "back")).text == "back"


async def test_unknown_method_is_404(double: BotApiDouble, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{double.api_url}/bot{TOKEN}/sendTelepathy", data={"x": "1"}) as resp:
        assert resp.status == 404
        assert await resp.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }


async def test_wrong_token_is_401(double: BotApiDouble, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{double.api_url}/bot999:WRONG/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert double.calls_to("getMe")[-1].status == 401


async def test_bad_requests_are_400(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    double.user(42)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await app.bot.send_message(42, "x" * 4097)
    assert double.calls_to("sendMessage")[-1].response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message is too long",
    }
    await app.bot.send_message(42, "x" * 4096)
    long_data = InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await app.bot.send_message(42, "k", reply_markup=long_data)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await app.bot.send_message(777, "who?")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await app.bot.send_message(42, "1 < 2 <oops>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="reserved"):
        await app.bot.send_message(42, "Done.", parse_mode="MarkdownV2")


async def test_edit_errors_and_semantics(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    double.user(42)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    message = await app.bot.send_message(42, "v1", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await app.bot.edit_message_text("v2", chat_id=42, message_id=999)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await app.bot.edit_message_text("v1", chat_id=42, message_id=message.message_id, reply_markup=keyboard)
    await app.bot.edit_message_text("v2", chat_id=42, message_id=message.message_id, reply_markup=keyboard)
    await app.bot.edit_message_reply_markup(chat_id=42, message_id=message.message_id)
    sent = double.sent_message(42, message.message_id)
    assert isinstance(sent, SentMessage)
    assert sent.text == "v2" and sent.history == ["v1"] and sent.reply_markup is None
    await app.bot.delete_message(42, message.message_id)
    assert sent.deleted
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await app.bot.edit_message_text("v3", chat_id=42, message_id=message.message_id)


async def test_chat_member_commands_and_chat(double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    double.add_chat(-1009876543210, type="channel", title="Alerts", username="sereno_alerts")
    double.set_chat_member(-1009876543210, 42, "administrator")
    member = await app.bot.get_chat_member(-1009876543210, 42)
    assert member.status == "administrator"
    default = await app.bot.get_chat_member(-1009876543210, 43)
    assert default.status == "member"
    chat = await app.bot.get_chat("@sereno_alerts")
    assert chat.id == -1009876543210 and chat.type == "channel"
    post = await app.bot.send_message("@sereno_alerts", "Verified alert")
    assert post.sender_chat is not None and post.sender_chat.id == -1009876543210
    await app.bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c.command for c in await app.bot.get_my_commands()] == ["start", "help"]
    await app.bot.delete_my_commands()
    assert await app.bot.get_my_commands() == ()
    assert await app.bot.send_chat_action(-1009876543210, "typing")


async def test_a_pushed_channel_post_can_be_deleted_only_by_an_admin_bot_allowed_to(
    double: BotApiDouble, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    channel = -1009876543210
    double.add_chat(channel, type="channel", title="Alerts")
    chat = {"id": channel, "type": "channel", "title": "Alerts"}
    double.push_update({"channel_post": {"message_id": 7, "date": 0, "text": "posted", "chat": chat}})
    assert (await app.bot.send_message(channel, "after it")).message_id == 8  # ids go on from the post
    with pytest.raises(BadRequest, match="(?i)message can't be deleted"):
        await app.bot.delete_message(channel, 7)  # a plain member
    double.set_chat_member(channel, double.bot_user["id"], "administrator", can_delete_messages=False)
    with pytest.raises(BadRequest, match="(?i)message can't be deleted"):
        await app.bot.delete_message(channel, 7)
    double.set_chat_member(channel, double.bot_user["id"], "administrator")
    assert await app.bot.delete_message(channel, 7)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await app.bot.delete_message(channel, 7)


async def test_long_poll_returns_as_soon_as_update_arrives(double: BotApiDouble, http: aiohttp.ClientSession) -> None:
    """A waiting long poll answers when an update arrives, not at its timeout (60 s here);
    an empty one is held, then answers nothing. bench/long_poll.py measures how fast."""
    url = f"{double.api_url}/bot{TOKEN}/getUpdates"

    async def poll(**params: Any) -> dict[str, Any]:
        async with http.post(url, **params) as resp:
            return await resp.json()

    task = asyncio.create_task(poll(data={"timeout": "60", "offset": "0"}))
    await double.wait_until(lambda: double.active_polls > 0)
    update_id = double.push_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}})
    body = await asyncio.wait_for(task, 30)  # half its own timeout: it did not wait for it
    assert [u["update_id"] for u in body["result"]] == [update_id]
    # An empty long poll is held until its timeout, then answers []; the offset confirms the update.
    empty = asyncio.create_task(poll(json={"timeout": 1, "offset": update_id + 1}))
    await double.wait_until(lambda: double.active_polls > 0)
    assert (await asyncio.wait_for(empty, 30))["result"] == []
    assert double.pending_update_count == 0
