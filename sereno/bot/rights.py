"""What the bot says about rights and legal help: the know-your-rights card, hotlines,
vetted legal-aid contacts and the notario warning.

The card holds only the general facts listed in ARCHITECTURE.md, "Domain facts" (accurate
information, not legal advice). Every phone number shown comes from :class:`sereno.verify.resources.Resources`, that is,
from configuration. Messages are plain text, like every other message of the bot.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel import Locale

from sereno.bot import render
from sereno.bot.callbacks import LegalButton, Text
from sereno.bot.i18n import N_, Translator
from sereno.bot.messaging import Markup
from sereno.verify.places import Neighborhood
from sereno.verify.resources import Hotline, LegalAid, Resources

RIGHTS_TITLE = N_("🛡️ Know your rights")  # also the main-menu button (sereno.bot.render)
NOT_LEGAL_ADVICE = N_("General information, not legal advice.")
RIGHTS = (
    N_("Everyone in the U.S., whatever their immigration status, has the right to remain silent."),
    N_(
        "Do not open the door. Agents need a warrant signed by a judge to enter a home. An ICE "
        "administrative warrant (form I-200 or I-205) is not signed by a judge. Ask them to slide "
        "any warrant under the door."
    ),
    N_("If agents enter anyway, do not resist. Say: “I do not consent to your entry or to a search.”"),
    N_("Stay calm. Do not run, argue or resist, even if you believe your rights are being violated."),
    N_(
        "You can ask: “Am I free to leave?” If the answer is yes, leave calmly. If not, say that "
        "you want to remain silent and to speak to a lawyer."
    ),
    N_("Do not sign anything without talking to a lawyer."),
    N_("Do not lie, and do not show false documents."),
    N_(
        "You have the right to contact a lawyer. In immigration court the government does not "
        "provide one, so find a nonprofit legal provider early."
    ),
    N_(
        "If you have valid immigration papers, carry them with you. Different rules apply at the "
        "border and at immigration checkpoints."
    ),
)
NOTARIO_WARNING = N_(
    "Beware of “notarios”: in the U.S., only licensed attorneys and DOJ-accredited "
    "representatives of recognized organizations may give immigration legal advice."
)


def hotline_line(t: Translator, hotline: Hotline | None) -> str:
    """The hotline line, or an honest note that none is configured."""
    if hotline is None:
        return render.hotline_text(t, "", "")
    return render.hotline_text(t, hotline.number, hotline.name)


def rights_card(t: Translator, resources: Resources) -> str:
    """The know-your-rights card with the region-wide hotline, pointing to /help when legal
    aid is configured (well under 4,096 characters)."""
    lines = [
        t(RIGHTS_TITLE),
        t(NOT_LEGAL_ADVICE),
        "",
        *(f"• {t(line)}" for line in (*RIGHTS, NOTARIO_WARNING)),
        "",
        hotline_line(t, resources.hotline_for(None)),
    ]
    if resources.legal_aid or resources.varies_by_neighborhood:
        lines.append(t("Legal help near you: send /help."))
    return "\n".join(lines)


def language_names(codes: Sequence[str], language: str) -> str:
    """Language codes as names in the reader's language ("inglés, español"); an unknown
    code is shown as it is."""
    names = Locale.parse(language).languages
    return ", ".join(names.get(code, code) for code in codes)


def organisation(t: Translator, org: LegalAid) -> str:
    """One organisation: name and phone, then its web address, languages and note if any."""
    lines = [f"• {org.name}: {org.phone}"]
    if org.url:
        lines.append(f"  {org.url}")
    if org.languages:
        lines.append("  " + t("Languages: {languages}", languages=language_names(org.languages, t.language)))
    note = org.note_for(t.language)
    if note:
        lines.append(f"  {note}")
    return "\n".join(lines)


def legal_help(t: Translator, resources: Resources, neighborhood: Neighborhood | None) -> list[str]:
    """The hotline and legal aid for a neighborhood (region-wide for None), ending with the
    notario warning; one block per organisation so long lists can be split."""
    nb_id = neighborhood.id if neighborhood is not None else None
    blocks = [t("Legal help in {neighborhood}:", neighborhood=neighborhood.name)] if neighborhood else []
    blocks += [hotline_line(t, resources.hotline_for(nb_id)), ""]
    organisations = resources.legal_aid_for(nb_id)
    if organisations:
        blocks.append(t("Legal aid organizations:"))
        blocks.extend(organisation(t, org) for org in organisations)
        blocks.append("")
    elif neighborhood is not None:
        blocks += [t("No legal aid organizations are listed for {neighborhood} yet.", neighborhood=neighborhood.name), ""]
    blocks.append(t(NOTARIO_WARNING))
    return blocks


def help_keyboard(t: Translator, neighborhoods: Sequence[Neighborhood]) -> Markup:
    """One button per neighborhood (two a row; ids too long for callback data are left out),
    then the main menu."""
    choices = [(nb.name, LegalButton(Text(nb.id))) for nb in neighborhoods]
    buttons = [{"text": name, "callback_data": data.pack()} for name, data in choices if data.fits()]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return {"inline_keyboard": [*rows, *render.main_menu(t)["inline_keyboard"]]}
