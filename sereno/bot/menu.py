"""Outside a report: /start, language, help (with the legal aid of a chosen neighborhood),
the lawyer button, /rights, and polite answers to anything unexpected (unknown commands,
buttons from old messages, stray messages)."""

from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from sereno.bot import messaging, render, rights
from sereno.bot.callbacks import LanguageButton, LegalButton, MenuButton, MenuItem
from sereno.bot.context import LANG_KEY, translator_for
from sereno.bot.i18n import LANGUAGE_NAMES, N_, SUPPORTED_LANGUAGES, Translator, known_language, translator
from sereno.bot.services import Services
from sereno.bot.subscribe import SUBSCRIBED

WELCOME = N_("Welcome to Sereno. Please choose your language.")


async def publish_commands(application: Application) -> None:
    """The command menu in every supported language."""
    for language in SUPPORTED_LANGUAGES:
        t = translator(language)
        commands = [
            BotCommand("report", t("Report enforcement activity")),
            BotCommand("lawyer", t("Legal hotline")),
            BotCommand("rights", t("Know your rights")),
            BotCommand("subscribe", t("Get verified alerts for your neighborhood")),
            BotCommand("mysubscriptions", t("Your alert subscriptions")),
            BotCommand("language", t("Change language")),
            BotCommand("help", t("Help")),
            BotCommand("cancel", t("Stop the current report")),
        ]
        await application.bot.set_my_commands(commands, language_code=None if language == "en" else language)


class Menu:
    """Callbacks of the menu; `handlers()` lists them in the order they must be tried."""

    def __init__(self, services: Services) -> None:
        self.s = services

    def t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.s.settings.default_language)

    @staticmethod
    async def _chat_id(update: Update) -> int:
        """Answer a pressed button (if any) and return the chat to reply in."""
        if update.callback_query:
            await update.callback_query.answer()
        assert update.effective_chat is not None
        return update.effective_chat.id

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Welcome in the person's language — their choice, else their Telegram app's when it
        has a catalog — kept as their language, with the privacy notice and the menu (whose
        Language button changes it). Otherwise welcome in every language: choose one first."""
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and context.user_data is not None
        code = known_language(context.user_data.get(LANG_KEY), user.language_code if user else None)
        if code is None:
            welcome = [translator(lang)(WELCOME) for lang in SUPPORTED_LANGUAGES]
            await messaging.send(context.bot, chat.id, "\n".join(welcome), render.language_keyboard())
            return
        await self._keep_language(update, context, code)
        t = translator(code)
        greeting = t(
            "Welcome to Sereno. I will write to you in {language}; press Language below to change it.",
            language=LANGUAGE_NAMES[code],
        )
        await messaging.send(context.bot, chat.id, f"{greeting}\n\n{self.privacy_notice(t)}", render.main_menu(t))

    async def _keep_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE, code: str) -> None:
        """Store `code` as the person's language (their subscription's too)."""
        assert context.user_data is not None and update.effective_chat is not None
        context.user_data[LANG_KEY] = code
        if context.user_data.get(SUBSCRIBED):
            await self.s.subscriptions.set_language(update.effective_chat.id, code)

    async def choose_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Store the chosen language, then the privacy notice and the menu."""
        query = update.callback_query
        assert query is not None
        button = LanguageButton.parse(query.data)
        code = button.code if button is not None else ""
        if code not in SUPPORTED_LANGUAGES:
            await query.answer()
            return
        await self._keep_language(update, context, code)
        t = translator(code)
        await query.answer()
        assert query.message is not None
        await messaging.edit(
            context.bot, query.message.chat.id, query.message.message_id, self.privacy_notice(t), render.main_menu(t)
        )

    def privacy_notice(self, t: Translator) -> str:
        """What Sereno does and keeps, in plain words."""
        days = self.s.settings.retention_days
        return "\n\n".join(
            [
                t(
                    "Sereno helps our community check reports of immigration enforcement before anyone "
                    "raises an alarm. Trained volunteers verify each report; only verified alerts are shared."
                ),
                t(
                    "Your privacy: reports are not stored with your name, username or phone number. We keep "
                    "a scrambled code instead, and a way to message you only until we tell you the outcome. "
                    "Reports are deleted after {days} days.",
                    days=days,
                ),
                t("Please do not send names, faces or license plates."),
            ]
        )

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Commands, the hotline and legal aid with the notario warning — those of the first
        neighborhood the person subscribed to, else the region-wide ones; when legal help
        differs by neighborhood, one button per neighborhood to see its own."""
        t = self.t(update, context)
        resources = self.s.resources
        chat_id = await self._chat_id(update)
        followed = await self.s.subscriptions.areas(chat_id)
        home = self.s.places.gazetteer.get(followed[0]) if followed else None
        neighborhoods = self.s.places.gazetteer.neighborhoods if resources.varies_by_neighborhood else ()
        blocks = [
            t("What I can do:"),
            t("/report – report immigration enforcement activity you see"),
            t("/lawyer – the legal hotline, if someone needs a lawyer now"),
            t("/rights – know your rights"),
            t("/subscribe – get verified alerts for your neighborhood"),
            t("/mysubscriptions – see or stop your alerts"),
            t("/language – change the language"),
            t("/cancel – stop a report you are writing"),
            "",
            *rights.legal_help(t, resources, home),
            t(render.KNOW_YOUR_RIGHTS_LINE),
        ]
        if neighborhoods:
            blocks += ["", t("Hotlines and legal aid differ by neighborhood. Choose yours:")]
        await messaging.send_blocks(context.bot, chat_id, blocks, rights.help_keyboard(t, neighborhoods))

    async def legal_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A neighborhood button under /help: that neighborhood's hotline and legal aid. The
        button's data is only looked up; an unknown neighborhood gets the region-wide list."""
        t = self.t(update, context)
        query = update.callback_query
        assert query is not None
        button = LegalButton.parse(query.data)
        neighborhood = self.s.places.gazetteer.get(button.neighborhood_id if button is not None else None)
        blocks = rights.legal_help(t, self.s.resources, neighborhood)
        await messaging.send_blocks(context.bot, await self._chat_id(update), blocks, render.main_menu(t))

    async def show_rights(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The know-your-rights card (inside a report too: the report stays open)."""
        t = self.t(update, context)
        card = rights.rights_card(t, self.s.resources)
        await messaging.send(context.bot, await self._chat_id(update), card, render.main_menu(t))

    async def language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer the languages again."""
        t = self.t(update, context)
        await messaging.send(context.bot, await self._chat_id(update), t("Choose your language:"), render.language_keyboard())

    async def lawyer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The hotline at once (inside a report too: the report stays open)."""
        t = self.t(update, context)
        hotline = self.s.resources.hotline_for(None)
        text = render.lawyer_now(t, hotline.number if hotline else "", hotline.name if hotline else "")
        await messaging.send(context.bot, await self._chat_id(update), text)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command we do not have."""
        t = self.t(update, context)
        assert update.effective_chat is not None
        await messaging.send(
            context.bot,
            update.effective_chat.id,
            t("I don't know that command. Try /report, /lawyer or /help."),
            render.main_menu(t),
        )

    async def stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a button whose conversation is over."""
        t = self.t(update, context)
        query = update.callback_query
        assert query is not None
        await query.answer(t("This button is no longer active."))
        if query.message is not None:
            await messaging.send(
                context.bot,
                query.message.chat.id,
                t("That button is from an earlier message and no longer does anything."),
                render.main_menu(t),
            )

    async def anything_else(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message outside any conversation: show the menu."""
        t = self.t(update, context)
        assert update.effective_chat is not None
        await messaging.send(context.bot, update.effective_chat.id, t("What would you like to do?"), render.main_menu(t))

    def handlers(self) -> list[BaseHandler]:
        """Handlers to add after the intake conversation, in order."""
        private = filters.ChatType.PRIVATE
        return [
            CommandHandler("start", self.start, filters=private),
            CommandHandler("help", self.help),
            CommandHandler("language", self.language, filters=private),
            CommandHandler(["lawyer", "hotline"], self.lawyer),
            CommandHandler("rights", self.show_rights),
            CallbackQueryHandler(self.choose_language, pattern=LanguageButton.pattern),
            CallbackQueryHandler(self.help, pattern=MenuButton(MenuItem.HELP).matcher()),
            CallbackQueryHandler(self.language, pattern=MenuButton(MenuItem.LANGUAGE).matcher()),
            CallbackQueryHandler(self.lawyer, pattern=MenuButton(MenuItem.LAWYER).matcher()),
            CallbackQueryHandler(self.show_rights, pattern=MenuButton(MenuItem.RIGHTS).matcher()),
            CallbackQueryHandler(self.legal_help, pattern=LegalButton.pattern),
            CallbackQueryHandler(self.stale_button),
            MessageHandler(filters.COMMAND & private, self.unknown_command),
            MessageHandler(private & ~filters.StatusUpdate.ALL, self.anything_else),
        ]
