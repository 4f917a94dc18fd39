"""Every language end to end: alerts of every kind render in every language within
Telegram's 4,096 characters, right-to-left text keeps its codes and numbers, the person's
Telegram language is picked when supported, and review status is reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sereno.bootstrap import alert_policy, check_languages
from sereno.bot.alert_render import AlertRenderer
from sereno.bot.i18n import (
    ISOLATE,
    LANGUAGE_NAMES,
    SUPPORTED_LANGUAGES,
    catalog_languages,
    catalog_status,
    pick_language,
    translator,
)
from sereno.bot.rights import rights_card
from sereno.config import MissingSetting, Settings
from sereno.verify.alerts import Alert, AlertKind, AlertState, MessageKind, UpdateKind
from sereno.verify.model import Activity, Tier
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.resources import Hotline, Resources
from tests.conftest import DEMO_REGION

NOW = datetime(2026, 11, 25, 22, 5, tzinfo=UTC)
TZ = ZoneInfo("America/Los_Angeles")
LONGEST_HOTLINE = Hotline("+1 (555) 010-0000 ext. 12345", "Puerto Sereno Immigrant Rights Legal Defense Hotline")


def alerts() -> list[Alert]:
    base = Alert(
        "a" * 36,
        "i" * 36,
        AlertKind.ALERT,
        "cedar-heights",
        ("cedar-heights", "eastfield", "las-palmas", "old-mill", "riverside"),
        Activity.WORKPLACE,
        Tier.URGENT,
        3,
        12,
        NOW,
        NOW + timedelta(hours=4),
    )
    return [
        base,
        base.updated(UpdateKind.STILL_ACTIVE, NOW, timedelta(hours=4)),
        base.updated(UpdateKind.ALL_CLEAR, NOW, timedelta(hours=4)),
        Alert(**{**{f: getattr(base, f) for f in Alert.__dataclass_fields__}, "state": AlertState.EXPIRED}),
        Alert(**{**{f: getattr(base, f) for f in Alert.__dataclass_fields__}, "kind": AlertKind.CORRECTION, "verifiers": 1}),
    ]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_alert_kind_renders_in_every_language_within_telegrams_limit(language: str) -> None:
    t = translator(language)
    renderer = AlertRenderer(Gazetteer(parse_geojson(DEMO_REGION.read_text())), Resources(hotline=LONGEST_HOTLINE), TZ)
    english = AlertRenderer(Gazetteer(parse_geojson(DEMO_REGION.read_text())), Resources(hotline=LONGEST_HOTLINE), TZ)
    for alert in alerts():
        for kind in MessageKind:
            texts = [renderer.message(t, alert, kind, NOW)]
            if kind in (MessageKind.UPDATE, MessageKind.CLEAR):
                texts.append(renderer.reply(t, alert, kind, NOW))
            for text in texts:
                assert 0 < len(text) <= 4096
                assert "{" not in text and "}" not in text  # every placeholder was filled
                assert "Cedar Heights" in text and "555" in text
                if language != "en":
                    assert text != english.message(translator("en"), alert, kind, NOW)  # really translated
    assert len(rights_card(t, Resources(hotline=LONGEST_HOTLINE))) <= 4096


def test_right_to_left_alerts_keep_numbers_and_codes_isolated() -> None:
    if "ar" not in SUPPORTED_LANGUAGES:
        pytest.skip("no Arabic catalog")
    renderer = AlertRenderer(Gazetteer(parse_geojson(DEMO_REGION.read_text())), Resources(hotline=LONGEST_HOTLINE), TZ)
    text = renderer.post(translator("ar"), alerts()[0])
    assert f"{ISOLATE}{LONGEST_HOTLINE.number}" in text and f"{ISOLATE}Cedar Heights" in text


def test_times_follow_each_languages_conventions() -> None:
    assert translator("en").time(NOW, TZ) == "2:05\u202fPM"
    assert translator("es").time(NOW, TZ) == "14:05"


def test_the_telegram_language_is_picked_when_supported() -> None:
    assert pick_language(None, "pt-BR", "en") == ("pt" if "pt" in SUPPORTED_LANGUAGES else "en")
    assert pick_language(None, "zh-hans", "es") == ("zh" if "zh" in SUPPORTED_LANGUAGES else "es")
    assert pick_language(None, "de", "es") == "es"
    assert pick_language("vi", "en", "en") == ("vi" if "vi" in SUPPORTED_LANGUAGES else "en")


def test_six_or_more_languages_each_complete_and_named_in_itself() -> None:
    assert len(SUPPORTED_LANGUAGES) >= 7 and {"en", "es", "pt", "ht", "zh", "vi", "ar"} <= set(SUPPORTED_LANGUAGES)
    assert LANGUAGE_NAMES["es"] == "Español" and LANGUAGE_NAMES["ar"] == "العربية"
    for status in catalog_status():
        assert status.translated == status.total, status.code


def test_a_deployment_can_keep_alerts_to_reviewed_languages() -> None:
    everything = alert_policy(Settings(_env_file=None, channel_posts="per_language"))  # type: ignore[call-arg]
    assert everything.language_for("pt") == "pt"
    assert everything.post_languages("en+pt+ar") == ["en", "pt", "ar"]
    reviewed_only = alert_policy(
        Settings(
            _env_file=None,
            alert_languages="reviewed",
            default_language="es",  # type: ignore[call-arg]
            channel_posts="per_language",
        )
    )
    assert reviewed_only.language_for("pt") == "en"  # neither Portuguese nor Spanish has a native review yet
    assert reviewed_only.language_for("en") == "en"
    assert reviewed_only.post_languages("en+pt+ar") == ["en"]  # one English post, not three


def test_a_combined_post_leaves_out_languages_that_would_not_fit() -> None:
    assert AlertRenderer.combined(["a" * 3000, "b" * 1000]) == "a" * 3000 + "\n\n— — —\n\n" + "b" * 1000
    assert AlertRenderer.combined(["a" * 3000, "b" * 2000]) == "a" * 3000


def test_channel_languages_are_checked_and_joined() -> None:
    assert Settings(_env_file=None, channel_languages="en, es").channel_language == "en+es"  # type: ignore[call-arg]
    assert Settings(_env_file=None, default_language="es").channel_language == "es"  # type: ignore[call-arg]
    check_languages(Settings(_env_file=None, channel_languages="en, es", default_language="ar"))  # type: ignore[call-arg]
    with pytest.raises(
        MissingSetting,
        match=r"^SERENO_CHANNEL_LANGUAGES is invalid: 'xx' has no translation; "
        r"use one of en, .*es",
    ):
        check_languages(Settings(_env_file=None, channel_languages="en,xx"))  # type: ignore[call-arg]


def test_a_default_language_without_a_catalog_is_refused_naming_the_variable() -> None:
    with pytest.raises(
        MissingSetting,
        match=r"^SERENO_DEFAULT_LANGUAGE is invalid: 'de' has no translation; "
        r"use one of en, .*es",
    ):
        check_languages(Settings(_env_file=None, default_language="de"))  # type: ignore[call-arg]


def test_the_languages_are_the_catalogs_found(tmp_path: Path) -> None:
    for code in ("fr", "de"):
        (tmp_path / code / "LC_MESSAGES").mkdir(parents=True)
        (tmp_path / code / "LC_MESSAGES" / "sereno.po").write_text("")
    (tmp_path / "it").mkdir()  # no catalog in it
    assert catalog_languages(tmp_path) == ("en", "de", "fr")
