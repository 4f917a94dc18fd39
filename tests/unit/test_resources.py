"""Legal-aid resources: the shipped example, neighborhood overrides, fallbacks, and clear
refusals of malformed files (in the parser, in settings and on the command line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sereno.cli import main
from sereno.config import MissingSetting, Settings
from sereno.verify.resources import (
    Hotline,
    LegalAid,
    Resources,
    ResourcesError,
    load_resources,
    parse_resources,
)
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "sereno" / "data" / "resources.example.toml"


@pytest.fixture(scope="module")
def example() -> Resources:
    return load_resources(EXAMPLE)


def test_the_example_uses_only_demo_neighborhoods_and_fictional_555_01xx_numbers(example: Resources) -> None:
    demo_ids = {f["properties"]["id"] for f in json.loads(DEMO_REGION.read_text())["features"]}
    assert example.unknown_neighborhoods(demo_ids) == []
    numbers = [h.number for h in (example.hotline, *(nb.hotline for nb in example.neighborhoods.values())) if h]
    numbers += [org.phone for nb_id in (None, *example.neighborhoods) for org in example.legal_aid_for(nb_id)]
    assert numbers and all(n.endswith(tuple(f"555-01{i:02d}" for i in range(100))) for n in numbers)
    assert "fictional" in EXAMPLE.read_text().lower()


def test_a_neighborhood_hotline_overrides_the_region_wide_one(example: Resources) -> None:
    assert example.hotline_for("harbor-view") == Hotline("555-0120", "Harbor View Rapid Response (fictional)")
    assert example.hotline_for("las-palmas") == example.hotline
    assert example.hotline_for(None) == Hotline("555-0100", "Puerto Sereno Rapid Response Legal Line (fictional)")
    assert example.hotline_for("nowhere") == example.hotline


def test_legal_aid_lists_the_neighborhood_first_then_the_region(example: Resources) -> None:
    names = [org.name for org in example.legal_aid_for("las-palmas")]
    assert names == [
        "Las Palmas Community Legal Services (fictional)",
        "Eastside Immigration Attorneys Collective (fictional)",
        "Puerto Sereno Immigrant Legal Center (fictional)",
    ]
    assert example.legal_aid_for(None) == example.legal_aid == example.legal_aid_for("northgate")
    assert example.legal_aid_for("nowhere") == example.legal_aid
    assert example.varies_by_neighborhood


def test_an_organisation_listed_twice_is_shown_once() -> None:
    org = '[[{where}]]\nname = "Clinic"\nphone = "555-0150"\n'
    resources = parse_resources(org.format(where="legal_aid") + org.format(where="neighborhoods.eastfield.legal_aid"))
    assert resources.legal_aid_for("eastfield") == (LegalAid("Clinic", "555-0150"),)


def test_notes_come_in_the_readers_language_when_given(example: Resources) -> None:
    center = example.legal_aid[0]
    assert center.note_for("es").startswith("Consultas gratuitas")
    assert center.note_for("en").startswith("Free consultations")
    assert center.note_for("fr").startswith("Free consultations")
    plain = parse_resources('[[legal_aid]]\nname = "A"\nphone = "555-0150"\nnote = "Open Mondays."').legal_aid[0]
    assert plain.note_for("es") == "Open Mondays."
    assert LegalAid("B", "555-0151").note_for("en") == ""


def test_the_settings_hotline_is_the_default_when_the_file_sets_none() -> None:
    fallback = Hotline("555-0199", "From settings")
    assert parse_resources("", fallback).hotline_for("eastfield") == fallback
    assert parse_resources('hotline = "555-0198"', fallback).hotline_for(None) == Hotline("555-0198")
    empty = parse_resources("")
    assert empty.hotline_for(None) is None and empty.legal_aid_for(None) == ()
    assert not empty.varies_by_neighborhood


def test_settings_without_a_file_keep_the_hotline_settings(clean_env: None) -> None:
    settings = Settings(_env_file=None, hotline=" 555-0197 ", hotline_name="Line")  # type: ignore[call-arg]
    assert settings.load_resources() == Resources(hotline=Hotline("555-0197", "Line"))
    assert Settings(_env_file=None, resources_file="").load_resources() == Resources()  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hotline = 5550100", "hotline must be text in quotes"),
        ('hotline = "call 555-0100"', "hotline: 'call 555-0100' is not a phone number"),
        ('hotline = "12"', "is not a phone number"),
        ('hotline_name = "Line"', "hotline_name is set but hotline is not"),
        ('hotlne = "555-0100"', "unknown key 'hotlne'"),
        ('[[legal_aid]]\nphone = "555-0100"', "legal_aid[1].name is missing"),
        ('[[legal_aid]]\nname = "A"', "legal_aid[1].phone is missing"),
        ('[[legal_aid]]\nname = "A"\nphone = "555-0100"\nurl = "example.org"', "legal_aid[1].url"),
        ('[[legal_aid]]\nname = "A"\nphone = "555-0100"\nlanguages = "es"', "legal_aid[1].languages"),
        ('[[legal_aid]]\nname = "A"\nphone = "555-0100"\nnote = { Spanish = "x" }', "'Spanish' is not a language"),
        ('legal_aid = "Clinic"', "legal_aid must be a list of tables"),
        ('[neighborhoods.eastfield]\nhotline = "555-01OO"', "neighborhoods.eastfield.hotline: '555-01OO'"),
        (
            '[[neighborhoods.eastfield.legal_aid]]\nname = "A"\nphone = "555 0100 ext. 2"',
            "neighborhoods.eastfield.legal_aid[1].phone",
        ),
        ('[neighborhoods]\neastfield = "555-0100"', "neighborhoods.eastfield must be a table"),
        ('hotline = "555-0100', "not valid TOML"),
    ],
)
def test_malformed_files_are_refused_naming_the_key(text: str, problem: str) -> None:
    with pytest.raises(ResourcesError) as caught:
        parse_resources(text)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_a_malformed_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "resources.toml"
    bad.write_text('[[neighborhoods.riverside.legal_aid]]\nname = "A"\nphone = "CALL-NOW"\n')
    with pytest.raises(ResourcesError) as caught:
        load_resources(bad)
    assert str(caught.value) == (
        f"{bad}: neighborhoods.riverside.legal_aid[1].phone: 'CALL-NOW' is not a phone number "
        "(use digits, spaces, +, - and parentheses)"
    )
    with pytest.raises(ResourcesError, match="cannot read .*missing.toml"):
        load_resources(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes('hotline_name = "Línea"'.encode("latin-1"))
    with pytest.raises(ResourcesError, match="latin1.toml: not UTF-8 text"):
        load_resources(tmp_path / "latin1.toml")


def test_settings_name_the_variable_and_the_file(clean_env: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("hotline = [")
    settings = Settings(_env_file=None, resources_file=bad)  # type: ignore[call-arg]
    with pytest.raises(MissingSetting, match=rf"^SERENO_RESOURCES_FILE: {bad}: not valid TOML"):
        settings.load_resources()


def test_run_with_a_malformed_file_exits_2_with_one_line(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[legal_aid]]\nname = "Clinic"\n')
    monkeypatch.setenv("SERENO_TELEGRAM_TOKEN", "1:secret-token")
    monkeypatch.setenv("SERENO_HMAC_KEY", TEST_HMAC_KEY)
    monkeypatch.setenv("SERENO_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("SERENO_RESOURCES_FILE", str(bad))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err == f"sereno: SERENO_RESOURCES_FILE: {bad}: legal_aid[1].phone is missing\n"
    assert not (tmp_path / "x.db").exists()


def test_the_model_is_pure_python() -> None:
    code = (
        "import sys, sereno.verify.resources; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'telegram', 'sqlmodel', 'sqlalchemy', 'aiohttp'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
