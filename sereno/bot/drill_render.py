"""What the bot says about drills: durations, records, the feedback after a practice drill,
the proposal to promote a trainee, and what the desk is told after a live drill."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sereno.bot import desk_render, messaging
from sereno.bot.callbacks import DrillAction, DrillButton
from sereno.bot.i18n import Translator
from sereno.verify.drills import DrillDebrief, TrainingRecord
from sereno.verify.members import Role


def duration(t: Translator, span: timedelta) -> str:
    """ "4 min 05 s" (or "35 s")."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return t("{seconds} s", seconds=seconds)
    return t("{minutes} min {seconds:02d} s", minutes=seconds // 60, seconds=seconds % 60)


def text_in(texts: Mapping[str, str], language: str) -> str:
    """A scenario text in `language`, else English."""
    return texts.get(language) or texts["en"]


def record_line(t: Translator, record: TrainingRecord) -> str:
    """One person's drills: count, share right, median time to a verdict, the bar."""
    median = duration(t, record.median_verdict) if record.median_verdict is not None else "—"
    line = t.n(
        "{count} drill, right: {percent}%, median {median} to a verdict",
        "{count} drills, right: {percent}%, median {median} to a verdict",
        record.drills,
        count=record.drills,
        percent=round(100 * record.accuracy),
        median=median,
    )
    return line + (" · " + t("meets the bar") if record.meets_bar else "")


def drill_button(text: str, data: DrillButton) -> dict[str, object]:
    """A /drills button (:class:`DrillButton`)."""
    return {"text": text, "callback_data": data.pack()}


def feedback(t: Translator, debrief: DrillDebrief) -> tuple[str, messaging.Markup]:
    """A practice drill's answer for the trainee: right or not, why, their times and record,
    and a button for another one."""
    run, grade, record = debrief.run, debrief.grade, debrief.record
    assert run.verdict is not None and grade is not None and record is not None
    verdict = t(desk_render.VERDICT_LABELS[run.verdict])
    answer = t(desk_render.VERDICT_LABELS[debrief.scenario.answer])
    lines = [
        t("✅ Right: {verdict}.", verdict=verdict)
        if grade.correct
        else t("❌ Not quite: you said {verdict}; the answer is {answer}.", verdict=verdict, answer=answer),
        t("Why: {why}", why=text_in(debrief.scenario.explanation, t.language)),
        t(
            "You claimed it after {claim} and gave your verdict after {verdict}.",
            claim=duration(t, grade.time_to_claim),
            verdict=duration(t, grade.time_to_verdict),
        ),
        t("Your drills:") + " " + record_line(t, record),
    ]
    return "\n".join(lines), {"inline_keyboard": [[drill_button(t("Practice another drill"), DrillButton(DrillAction.PRACTICE))]]}


def proposal(t: Translator, record: TrainingRecord) -> tuple[str, messaging.Markup]:
    """The proposal to a coordinator to promote a trainee who meets the bar, with the role
    button (promotion stays their decision, checked and audited by the roster)."""
    text = t(
        "{name} (trainee) meets the bar to become a verifier: {record}. Promotion is your decision.",
        name=record.person.name,
        record=record_line(t, record),
    )
    return text, {"inline_keyboard": [[desk_render.role_button(t, record.person.user_id, Role.VERIFIER)]]}


def revealed(t: Translator, debrief: DrillDebrief) -> str:
    """For a desk member who worked a live drill: it was one, and its true answer."""
    return t(
        "That incident was a live drill set by the coordinators: nothing was published and nobody "
        "was alerted. The true answer: {answer}. Why: {why}\nThank you for handling it as real.",
        answer=t(desk_render.VERDICT_LABELS[debrief.scenario.answer]),
        why=text_in(debrief.scenario.explanation, t.language),
    )


def live_report(t: Translator, debrief: DrillDebrief) -> str:
    """For coordinators: how the desk handled a live drill (or that it was ended before a
    decision)."""
    run, grade = debrief.run, debrief.grade
    if grade is None or run.verdict is None:
        claimed = (
            t("First claim after {claim}.", claim=duration(t, run.first_claimed_at - run.started_at))
            if run.first_claimed_at
            else t("Nobody claimed it.")
        )
        return "\n".join(
            [
                t("Live drill ended before the desk decided: {title}", title=text_in(debrief.scenario.title, t.language)),
                claimed + " " + t("Verdicts given: {count}.", count=len(debrief.verdicts)),
                t("Nothing was published. The verifiers who worked it have been told it was a drill."),
            ]
        )
    return "\n".join(
        [
            t("Live drill decided: {title}", title=text_in(debrief.scenario.title, t.language)),
            t(
                "Desk verdict: {verdict} ({right}); true answer: {answer}.",
                verdict=t(desk_render.VERDICT_LABELS[run.verdict]),
                right=t("right") if grade.correct else t("wrong"),
                answer=t(desk_render.VERDICT_LABELS[debrief.scenario.answer]),
            ),
            t(
                "First claim after {claim}; decided after {verdict}; {count} verdict(s) given.",
                claim=duration(t, grade.time_to_claim),
                verdict=duration(t, grade.time_to_verdict),
                count=len(debrief.verdicts),
            ),
            t("Nothing was published. The verifiers who worked it have been told it was a drill."),
        ]
    )
