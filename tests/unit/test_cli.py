"""The console script: clear one-line errors, exit code 2, never a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sereno.cli import main
from sereno.storage.migrate import head_revision
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY


def test_run_without_token_names_the_variable(clean_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sereno: SERENO_TELEGRAM_TOKEN is not set: put the token from @BotFather in it."


def test_run_without_hmac_key_names_the_variable(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERENO_TELEGRAM_TOKEN", "1:secret-token")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "SERENO_HMAC_KEY is not set" in err and "secret-token" not in err and err.count("\n") == 1


def test_invalid_setting_is_one_line(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERENO_TIMEZONE", "Mars/Olympus")
    assert main(["run"]) == 2
    assert capsys.readouterr().err.startswith("sereno: SERENO_TIMEZONE is invalid")


def test_a_default_language_without_a_translation_is_one_line(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERENO_DEFAULT_LANGUAGE", "de")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sereno: SERENO_DEFAULT_LANGUAGE is invalid: 'de' has no translation; use one of en, ")
    assert err.count("\n") == 1


def test_a_channel_language_without_a_translation_is_refused(clean_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin", "link-channel", "mission-flats", "-1001", "--language", "de"]) == 2
    assert capsys.readouterr().err.startswith("sereno: --language: 'de' has no translation; use one of en, ")


def test_console_script_exits_2_without_traceback(clean_env: None) -> None:
    done = subprocess.run([sys.executable, "-m", "sereno", "run"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "SERENO_TELEGRAM_TOKEN" in done.stderr


def test_import_neighborhoods_then_migrate(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERENO_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("SERENO_HMAC_KEY", TEST_HMAC_KEY)
    assert main(["admin", "import-neighborhoods", str(DEMO_REGION)]) == 0
    assert "Imported 8 neighborhoods" in capsys.readouterr().out
    assert main(["migrate"]) == 0


def test_import_of_a_broken_file_is_refused_clearly(clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"properties": {}}]}')
    assert main(["admin", "import-neighborhoods", str(bad)]) == 2
    assert "feature 1: properties.name is missing" in capsys.readouterr().err
    assert main(["admin", "import-neighborhoods", str(tmp_path / "missing.geojson")]) == 2


def test_admins_and_invites_from_the_command_line(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERENO_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("SERENO_HMAC_KEY", TEST_HMAC_KEY)
    assert main(["admin", "add-admin", "4242"]) == 0
    assert main(["admin", "invite", "--role", "coordinator"]) == 0
    out = capsys.readouterr().out
    assert "4242 is an admin." in out and "Invite code for a coordinator:" in out
    assert main(["admin", "invite", "--role", "emperor"]) == 2
    assert "unknown role 'emperor'" in capsys.readouterr().err


def migrate_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """`sereno migrate ARGV…`: the exit code and what it printed (stdout, then stderr)."""
    code = main(["migrate", *argv])
    out = capsys.readouterr()
    return code, (out.out + out.err).strip()


@pytest.fixture
def sqlite_env(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "x.db"
    monkeypatch.setenv("SERENO_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def test_migrate_says_from_which_revision_to_which(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = head_revision()
    assert migrate_cli(capsys, "--to", "0013") == (0, "Database migrated from nothing (an empty database) to revision 0013.")
    assert migrate_cli(capsys) == (0, f"Database migrated from 0013 to revision {head}.")
    assert migrate_cli(capsys) == (0, f"Database already at revision {head}.")


def test_migrate_refuses_an_unknown_revision_politely(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrate_cli(capsys, "--to", "0013")[0] == 0
    code, said = migrate_cli(capsys, "--to", "9999")
    assert code == 2 and said.startswith("sereno: unknown revision '9999': this version of Sereno knows 0001 to ")
    assert migrate_cli(capsys, "--to", "0013") == (0, "Database already at revision 0013.")


def test_a_downgrade_is_refused_without_yes_then_goes_down(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = head_revision()
    assert migrate_cli(capsys)[0] == 0
    code, said = migrate_cli(capsys, "--to", "0013")
    assert code == 2 and f"going down from {head} to 0013 deletes what the newer revisions store" in said
    assert "`sereno migrate --to 0013 --yes`" in said and "Traceback" not in said
    assert migrate_cli(capsys) == (0, f"Database already at revision {head}.")  # nothing was dropped
    assert migrate_cli(capsys, "--to", "0013", "--yes") == (0, f"Database migrated from {head} to revision 0013.")
    assert migrate_cli(capsys) == (0, f"Database migrated from 0013 to revision {head}.")


def test_migrate_refuses_a_database_that_a_newer_version_migrated(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrate_cli(capsys)[0] == 0
    with sqlite3.connect(sqlite_env) as db:
        db.execute("UPDATE alembic_version SET version_num = '9001'")
    code, said = migrate_cli(capsys)
    assert code == 2 and said.startswith("sereno: the database is at revision 9001, which this version of Sereno does not know")
    assert "restore a backup" in said


def test_migrate_explains_a_schema_newer_than_its_revision(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What restoring an old dump over an upgraded database leaves: newer tables, older revision."""
    assert migrate_cli(capsys)[0] == 0
    with sqlite3.connect(sqlite_env) as db:
        db.execute("UPDATE alembic_version SET version_num = '0013'")
    code, said = migrate_cli(capsys)
    assert code == 2 and said.startswith(f"sereno: migrating from 0013 to {head_revision()} failed (")
    assert "Restore it into a fresh database instead (deploy/README.md, Backups)" in said and "Traceback" not in said
    with sqlite3.connect(sqlite_env) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0013",)]
