"""Training in Telegram: /drills, practice drills, scenario files, live drills and debriefs.

A practice drill is worked with the desk's own card and buttons (claim, verdict, reason);
what differs is said here: the feedback after the verdict, the records, the proposal to
promote a trainee, and — for live drills — telling the desk afterwards (written in
`sereno.bot.drill_render`, sent by the notifier to whom the training service says). Every
action is checked by the training and desk services on the server."""

from __future__ import annotations

import json
import logging

import yaml
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from sereno.bot import desk_render, messaging
from sereno.bot.callbacks import DrillAction, DrillButton, Token
from sereno.bot.context import translator_for, user_data
from sereno.bot.desk import Awaiting, DeskHandlers
from sereno.bot.drill_render import drill_button, record_line, text_in
from sereno.bot.i18n import Translator
from sereno.bot.notifier import Notifier
from sereno.bot.services import Services
from sereno.verify.drills import DrillFileError, scenario_document
from sereno.verify.incidents import IncidentStatus
from sereno.verify.members import Role

log = logging.getLogger(__name__)

IMPORTING = "drill_import"  # set while the bot waits for a coordinator's scenario file
MAX_FILE_BYTES = 256 * 1024
LIVE_CHOICES = 20


class DrillHandlers:
    """/drills and its buttons, and scenario files; live drills and debriefs go out through
    `notifier`."""

    def __init__(self, services: Services, desk: DeskHandlers, notifier: Notifier) -> None:
        self.s = services
        self.desk = desk
        self.notifier = notifier

    def t(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
        return translator_for(update, context, self.s.settings.default_language)

    async def drills(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/drills: one's record and Practice; coordinators also get records, live drills,
        and the import and download of scenario files."""
        t = self.t(update, context)
        assert update.effective_user is not None and update.effective_chat is not None
        record = await self.s.training.record(update.effective_user.id)
        rows = [[self._button(t("Practice a drill"), DrillButton(DrillAction.PRACTICE))]]
        if record.person.can(Role.COORDINATOR):
            rows += [
                [
                    self._button(t("Training records"), DrillButton(DrillAction.RECORDS)),
                    self._button(t("Live drill"), DrillButton(DrillAction.LIVE)),
                ],
                [
                    self._button(t("Import scenarios"), DrillButton(DrillAction.IMPORT)),
                    self._button(t("Download scenarios"), DrillButton(DrillAction.EXPORT)),
                ],
            ]
        text = t("Drills are practice incidents with a known answer. Nothing in a drill is real or published.")
        mine = record_line(t, record) if record.drills else t("You have not done a drill yet.")
        await messaging.send(
            context.bot, update.effective_chat.id, f"{text}\n\n{t('Your drills:')} {mine}", {"inline_keyboard": rows}
        )

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A /drills button (:class:`DrillButton`): practice, records, live, inject a
        scenario, end a live drill, import, export."""
        query = update.callback_query
        assert query is not None and update.effective_user is not None and query.message is not None
        t = self.t(update, context)
        user_id, chat_id = update.effective_user.id, query.message.chat.id
        button = DrillButton.parse(query.data)
        if button is None:
            await query.answer(t("This button is no longer active."))
            return
        action, value = button.action, button.subject or ""
        language = t.language
        if action is DrillAction.PRACTICE:
            incident = await self.s.training.practice(user_id, language)
            await query.answer()
            text, markup = await self.desk.card(t, user_id, incident.id)
            await messaging.send(
                context.bot,
                chat_id,
                t(
                    "Work it as you would a real incident: claim it, check the reports, give your verdict "
                    "and a reason. You get the answer right after."
                ),
            )
            await messaging.send(context.bot, chat_id, text, markup)
        elif action is DrillAction.RECORDS:
            records = await self.s.training.records(user_id)
            await query.answer()
            lines = [f"{r.person.name} · {t(desk_render.ROLE_LABELS[r.person.role])}: {record_line(t, r)}" for r in records]
            await messaging.send(
                context.bot,
                chat_id,
                "\n".join([t("Training records:"), *lines] if lines else [t("Nobody has done a drill yet.")]),
            )
        elif action is DrillAction.LIVE:
            await self.offer_live(context.bot, t, user_id, chat_id)
            await query.answer()
        elif action is DrillAction.INJECT:
            started = await self.s.training.inject_live(user_id, value, self.s.settings.default_language)
            await query.answer()
            reached = await self.notifier.drill_started(context.bot, started)
            await messaging.send(
                context.bot,
                chat_id,
                t(
                    "Live drill started. It is in the live queue as if it were real, and {count} verifier(s) on "
                    "duty were sent its card. Only coordinators see it marked as a drill; nothing will be "
                    "published. You get a report when the desk decides it.",
                    count=reached,
                ),
            )
        elif action is DrillAction.END:
            debrief = await self.s.training.end_live(user_id, value)
            await query.answer(t("Live drill ended."))
            await self.notifier.debrief(context.bot, debrief)
        elif action is DrillAction.IMPORT:
            await self.s.training.scenarios(user_id)  # coordinators only (checked, audited)
            user_data(context)[IMPORTING] = True
            await query.answer()
            await messaging.send(
                context.bot,
                chat_id,
                t(
                    "Send the scenario file (YAML or JSON) as a document. Download scenarios gives you the stored "
                    "ones to edit or copy. Scenarios with an id already stored are replaced."
                ),
            )
        else:  # DrillAction.EXPORT
            scenarios = await self.s.training.scenarios(user_id)
            await query.answer()
            document = yaml.safe_dump(
                {"scenarios": [scenario_document(s) for s in scenarios]}, allow_unicode=True, sort_keys=False, width=100
            )
            await context.bot.send_document(
                chat_id,
                document.encode("utf-8"),
                filename="drills.yaml",
                caption=t("Drill scenarios: {count}", count=len(scenarios)),
            )

    async def offer_live(self, bot: Bot, t: Translator, user_id: int, chat_id: int) -> None:
        """The live drills so far and a button per scenario to start one (coordinators)."""
        running = await self.s.training.live_drills(user_id)
        scenarios = await self.s.training.scenarios(user_id)
        lines = [t("Live drills:")] if running else []
        rows = []
        for drill in running[:10]:
            title = text_in(drill.scenario.title, t.language)
            if drill.incident.verdict is not None:
                state = t(desk_render.VERDICT_LABELS[drill.incident.verdict])
            elif drill.incident.status is IncidentStatus.OPEN:
                state = t("open")
                rows.append(
                    [self._button(t("End: {title}", title=title)[:60], DrillButton(DrillAction.END, Token(drill.incident.id)))]
                )
            else:
                state = t("ended")
            lines.append(f"— {title}: {state}")
        lines.append(
            t("Choose a scenario to put in the live queue as if it were real:")
            if scenarios
            else t("There are no drill scenarios yet. A coordinator can import them with /drills.")
        )
        injects = [
            (text_in(s.title, t.language)[:60], DrillButton(DrillAction.INJECT, Token(s.id))) for s in scenarios[:LIVE_CHOICES]
        ]
        rows += [[self._button(title, data)] for title, data in injects if data.fits()]  # a longer id is left out
        await messaging.send(bot, chat_id, "\n".join(lines), {"inline_keyboard": rows})

    async def on_file(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A scenario file after Import scenarios: read, checked field by field, stored."""
        t = self.t(update, context)
        msg = update.effective_message
        assert msg is not None and update.effective_user is not None
        user_data(context).pop(IMPORTING, None)
        document = msg.document
        assert document is not None
        name = (document.file_name or "").lower()
        if (document.file_size or 0) > MAX_FILE_BYTES or not name.endswith((".yaml", ".yml", ".json")):
            await self.desk.say(
                update,
                context,
                t("Please send a .yaml or .json file under 256 KB. Press Import scenarios in /drills to try again."),
            )
            return
        try:
            file = await document.get_file()
            raw = bytes(await file.download_as_bytearray()).decode("utf-8")
            data = json.loads(raw) if name.endswith(".json") else yaml.safe_load(raw)
            new, replaced = await self.s.training.import_scenarios(update.effective_user.id, data)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError, DrillFileError) as problem:
            detail = (
                str(problem).splitlines()[0][:300] if isinstance(problem, DrillFileError) else t("it is not valid YAML or JSON")
            )
            await self.desk.say(update, context, t("That file could not be used, nothing was stored: {problem}", problem=detail))
            return
        except TelegramError:
            log.warning("scenario file download failed", exc_info=True)
            await self.desk.say(update, context, t("I couldn't download that file. Please try again."))
            return
        await self.desk.say(
            update,
            context,
            t("Imported {count} scenario(s): {new} new, {replaced} replaced.", count=new + replaced, new=new, replaced=replaced),
        )

    @staticmethod
    def _button(text: str, data: DrillButton) -> dict[str, object]:
        return drill_button(text, data)

    def handlers(self, application: Application) -> list[BaseHandler]:
        return [
            CommandHandler("drills", self.drills, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(self.on_button, pattern=DrillButton.pattern),
            MessageHandler(filters.Document.ALL & Awaiting(application, IMPORTING), self.on_file),
        ]
