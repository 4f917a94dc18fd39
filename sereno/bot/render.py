"""What the bot says: labels, prompts and keyboards, in the reader's language."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from sereno.bot.callbacks import Callback, LanguageButton, MenuButton, MenuItem, ReportButton, ReportField, Text, Token
from sereno.bot.i18n import LANGUAGE_NAMES, N_, Translator
from sereno.bot.messaging import Markup
from sereno.verify.model import (
    Activity,
    AgentCount,
    ReportDraft,
    TimeSeen,
    Uniform,
    VehicleCount,
)
from sereno.verify.places import Gazetteer, Neighborhood

ACTIVITY_LABELS = {
    Activity.ARREST: N_("Arrest or detention happening"),
    Activity.HOME_VISIT: N_("Agents at a home / knocking"),
    Activity.WORKPLACE: N_("Workplace operation"),
    Activity.CHECKPOINT: N_("Checkpoint or vehicle stop"),
    Activity.COURTHOUSE: N_("Arrest at a courthouse"),
    Activity.PRESENCE: N_("Agents present or gathering"),
    Activity.SURVEILLANCE: N_("Watching / surveillance"),
    Activity.OTHER: N_("Something else"),
}
TIME_LABELS = {
    TimeSeen.NOW: N_("Happening now"),
    TimeSeen.RECENT: N_("Less than 30 minutes ago"),
    TimeSeen.EARLIER_TODAY: N_("Earlier today"),
}
AGENT_LABELS = {
    AgentCount.NONE_SEEN: N_("None seen"),
    AgentCount.ONE_TWO: N_("1–2"),
    AgentCount.FEW: N_("3–5"),
    AgentCount.MANY: N_("6 or more"),
    AgentCount.UNSURE: N_("Not sure"),
}
VEHICLE_LABELS = {
    VehicleCount.NONE_SEEN: N_("None seen"),
    VehicleCount.ONE: N_("1"),
    VehicleCount.FEW: N_("2–3"),
    VehicleCount.MANY: N_("4 or more"),
    VehicleCount.UNSURE: N_("Not sure"),
}
UNIFORM_LABELS = {
    Uniform.ICE: N_("ICE"),
    Uniform.POLICE: N_("POLICE"),
    Uniform.HSI: N_("HSI"),
    Uniform.CBP: N_("CBP / Border Patrol"),
    Uniform.PLAIN_CLOTHES: N_("Plain clothes"),
    Uniform.UNKNOWN: N_("No markings seen / not sure"),
}
FIELD_LABELS = {
    "activity": N_("What"),
    "where": N_("Where"),
    "when": N_("When"),
    "agents": N_("Agents"),
    "vehicles": N_("Vehicles"),
    "uniform": N_("Markings"),
    "details": N_("Details"),
    "photo": N_("Photos"),
}
KNOW_YOUR_RIGHTS_LINE = N_(
    "Know your rights: you have the right to remain silent. Do not open the door: ask agents "
    "to slide any warrant under it (to enter a home they need one signed by a judge). Do not run, "
    "argue or resist."
)

Button = dict[str, object]


def _button(text: str, data: Callback) -> Button:
    return {"text": text, "callback_data": data.pack()}


def _inline(buttons: list[Button], width: int, *extra_rows: list[Button]) -> Markup:
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    return {"inline_keyboard": [*rows, *extra_rows]}


def is_inline(markup: Markup | None) -> bool:
    """Whether `markup` is an inline keyboard (which can replace another one in place)."""
    return markup is not None and "inline_keyboard" in markup


#: Button steps and their labels, by the field name used in callback data.
CHOICE_LABELS: dict[str, dict] = {
    "activity": ACTIVITY_LABELS,
    "when": TIME_LABELS,
    "agents": AGENT_LABELS,
    "vehicles": VEHICLE_LABELS,
    "uniform": UNIFORM_LABELS,
}


@cache
def choice_keyboard(t: Translator, field: str) -> Markup:
    """Buttons for one field's choices, plus Skip (and, for the first question, the
    lawyer button). Built once per language."""
    labels = CHOICE_LABELS[field]
    buttons = [_button(t(label), ReportButton(ReportField(field), Text(str(value)))) for value, label in labels.items()]
    extra = [[_button(t("Skip"), skip(field))]]
    if field == "activity":
        extra.append([_button(t("⚖️ Someone needs a lawyer now"), ReportButton(ReportField.LAWYER, Text("now")))])
    return _inline(buttons, 1 if field == "activity" else 2, *extra)


def skip(step: str) -> ReportButton:
    """The Skip (or Continue) button of a report step."""
    return ReportButton(ReportField.SKIP, Text(step))


@cache
def single_button(t: Translator, label: str, data: Callback) -> Markup:
    """A keyboard of one button (Skip, Continue…)."""
    return _inline([_button(t(label), data)], 1)


@cache
def main_menu(t: Translator) -> Markup:
    """The home menu every conversation ends on."""
    return _inline(
        [
            _button(t("📝 Report activity"), MenuButton(MenuItem.REPORT)),
            _button(t("⚖️ Someone needs a lawyer now"), MenuButton(MenuItem.LAWYER)),
            _button(t("🛡️ Know your rights"), MenuButton(MenuItem.RIGHTS)),
        ],
        1,
        [_button(t("Help"), MenuButton(MenuItem.HELP)), _button(t("Language"), MenuButton(MenuItem.LANGUAGE))],
    )


@cache
def language_keyboard() -> Markup:
    """One button per supported language, each in its own language."""
    return _inline([_button(name, LanguageButton(Token(code))) for code, name in LANGUAGE_NAMES.items()], 3)


def hotline_text(t: Translator, hotline: str, hotline_name: str) -> str:
    """The hotline line, or an honest note that none is configured."""
    if not hotline:
        return t("No legal hotline is configured for this network yet. Contact a local immigrant legal aid organization.")
    if hotline_name:
        return t("Legal hotline ({name}): {number}", name=hotline_name, number=hotline)
    return t("Legal hotline: {number}", number=hotline)


def lawyer_now(t: Translator, hotline: str, hotline_name: str) -> str:
    """Shown at once when someone needs a lawyer."""
    return "\n".join(
        [
            t("If someone is being detained right now, call the legal hotline now."),
            hotline_text(t, hotline, hotline_name),
            t("Tell them: the person's full name and date of birth, where it is happening, and which agency."),
            t(KNOW_YOUR_RIGHTS_LINE),
        ]
    )


@cache
def where_keyboard(t: Translator) -> Markup:
    """A reply keyboard: share location, pick from the list, or skip."""
    return {
        "keyboard": [
            [{"text": t("📍 Share my location"), "request_location": True}],
            [{"text": t("Pick a neighborhood")}, {"text": t("Skip")}],
        ],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


def neighborhood_keyboard(t: Translator, neighborhoods: list[Neighborhood]) -> Markup:
    """Pick a neighborhood from a list (those whose id is too long for a button's data are
    left out: they can be typed), or say it is none of them."""
    choices = [(nb.name, ReportButton(ReportField.NEIGHBORHOOD, Text(nb.id))) for nb in neighborhoods]
    buttons = [_button(name, data) for name, data in choices if data.fits()]
    return _inline(buttons, 2, [_button(t("Not in this list / not sure"), skip("where"))])


def summary(t: Translator, draft: ReportDraft, gazetteer: Gazetteer) -> str:
    """The report as the reporter will confirm it; skipped answers show as a dash."""
    dash = "—"

    def label(table: dict, value: object) -> str:
        return t(table[value]) if value is not None else dash

    nb = gazetteer.get(draft.neighborhood_id)
    if nb is not None:
        where = nb.name + (t(" (shared location)") if draft.point else "")
    elif draft.point is not None:
        where = t("Shared location, outside the covered area") if draft.outside_region else t("Shared location")
    else:
        where = draft.place_text or dash
    if nb is not None and draft.place_text:
        where = f"{draft.place_text} → {where}"
    lines = [
        t("Please check your report:"),
        f"• {t(FIELD_LABELS['activity'])}: {label(ACTIVITY_LABELS, draft.activity)}",
        f"• {t(FIELD_LABELS['where'])}: {where}",
        f"• {t(FIELD_LABELS['when'])}: {label(TIME_LABELS, draft.time_seen)}",
        f"• {t(FIELD_LABELS['agents'])}: {label(AGENT_LABELS, draft.agents)}"
        f" · {t(FIELD_LABELS['vehicles'])}: {label(VEHICLE_LABELS, draft.vehicles)}",
        f"• {t(FIELD_LABELS['uniform'])}: {label(UNIFORM_LABELS, draft.uniform)}",
        f"• {t(FIELD_LABELS['details'])}: {draft.details or dash}",
        f"• {t(FIELD_LABELS['photo'])}: "
        + (t("{count} attached (location data removed)", count=draft.photos) if draft.photos else dash),
        "",
        t("Send it to the verifiers?"),
    ]
    return "\n".join(lines)


@cache
def summary_keyboard(t: Translator) -> Markup:
    """Submit / Edit / Cancel."""
    return _inline(
        [_button(t("✅ Submit"), ReportButton(ReportField.DO, Text("submit")))],
        1,
        [
            _button(t("✏️ Edit"), ReportButton(ReportField.DO, Text("edit"))),
            _button(t("✖️ Cancel"), ReportButton(ReportField.DO, Text("cancel"))),
        ],
    )


@cache
def edit_keyboard(t: Translator) -> Markup:
    """Which answer to change."""
    buttons = [_button(t(label), ReportButton(ReportField.EDIT, Text(step))) for step, label in FIELD_LABELS.items()]
    return _inline(buttons, 2, [_button(t("Back to summary"), ReportButton(ReportField.DO, Text("summary")))])


def wait_text(t: Translator, wait: timedelta) -> str:
    """How long to wait, rounded up to whole minutes."""
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return t("about {minutes} min", minutes=minutes)
