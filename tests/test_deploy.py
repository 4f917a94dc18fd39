"""deploy/: the image's build steps (wheel → fresh virtualenv → `sereno migrate`), and the
settings example and compose file kept in step with the code."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sereno.settings import Settings
from storage.engine import make_engine
from sereno.cli import main
from storage.migrate import current_revision, head_revision
from storage.scratch import scratch_database
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
#: Settings of `sereno run --webhook`, documented ahead of the code that reads them.
WEBHOOK_SETTINGS = {"SERENO_WEBHOOK_URL", "SERENO_WEBHOOK_SECRET", "SERENO_WEB_HOST", "SERENO_WEB_PORT"}
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
#: What the app reads from its own package at run time, besides its modules.
RUNTIME_FILES = ["storage/migrations/**/*.py", "storage/migrations/*.mako", "bot/locales/**/*.po",
                 "bot/locales/*.pot", "sereno/data/*.geojson", "sereno/data/*.toml"]


def env_example() -> list[tuple[bool, str, str, str]]:
    """(commented out, name, value, the line before) of every assignment in deploy/.env.example."""
    lines = (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
    found = []
    for before, line in zip(["", *lines], lines, strict=False):
        if match := ASSIGNMENT.match(line):
            found.append((match[1] is not None, match[2], match[3], before))
    return found


def test_env_example_documents_every_setting_once() -> None:
    names = [name for _, name, _, _ in env_example() if name.startswith("SERENO_")]
    assert len(names) == len(set(names))
    assert set(names) == {f"SERENO_{field.upper()}" for field in Settings.model_fields} | WEBHOOK_SETTINGS
    for _, name, _, before in env_example():
        assert before.startswith("# ") and not ASSIGNMENT.match(before), f"{name} has no comment line"


def test_env_example_shows_the_real_defaults_and_loads_as_is(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for commented, name, value, _ in env_example():
        field = name.removeprefix("SERENO_").lower()
        if not commented:
            assert value == "", f"{name} is filled in: secrets and hotlines stay blank"
            monkeypatch.setenv(name, value)  # as docker compose and systemd pass them
        elif field in Settings.model_fields:
            assert getattr(Settings(**{field: value}), field) == Settings.model_fields[field].default, name
    Settings()  # the blank lines are valid as they stand


def test_compose_file_has_the_database_the_migration_and_the_bot() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    assert "\t" not in text
    services = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    assert re.findall(r"^  ([a-z]+):$", services, re.M) == ["db", "migrate", "sereno"]
    db, migrate, bot = re.split(r"^  [a-z]+:$", services, flags=re.M)[1:]
    assert "image: postgres:15" in db and "pg_isready" in db and "pgdata:/var/lib/postgresql/data" in db
    assert 'command: ["migrate"]' in migrate and "condition: service_healthy" in migrate
    assert 'command: ["run", "--webhook"]' in bot and "condition: service_completed_successfully" in bot
    assert "restart: unless-stopped" in bot and "ports:" in bot
    assert "env_file: .env" in text and "dockerfile: deploy/Dockerfile" in text


def builder_sources() -> list[str]:
    """The paths deploy/Dockerfile copies into its builder stage."""
    builder = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").split("\nFROM ")[1]
    return [src for line in re.findall(r"^COPY (?!--)(.+)$", builder, re.M) for src in line.split()[:-1]]


def run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=540, **kwargs)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
async def test_the_wheel_installs_alone_and_migrates_postgres(tmp_path: Path) -> None:
    started = time.monotonic()
    # builder stage: the copied sources → one wheel
    src = tmp_path / "src"
    src.mkdir()
    for name in builder_sources():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))
        else:
            shutil.copy2(ROOT / name, src / name)
    assert (src / "pyproject.toml").exists() and (src / "sereno").is_dir()
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp_path / "wheels", src)
    (wheel,) = (tmp_path / "wheels").glob("sereno-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = {p.relative_to(ROOT).as_posix() for pattern in RUNTIME_FILES for p in ROOT.glob(pattern)}
    needed |= {p.relative_to(ROOT).as_posix() for pkg in ("verify", "storage", "bot", "sereno")
               for p in (ROOT / pkg).rglob("*.py")}
    assert {"bot/locales/es/LC_MESSAGES/sereno.po", "sereno/data/demo_region.geojson",
            "storage/migrations/env.py", "storage/migrations/versions/0001_initial_schema.py"} <= needed
    assert sorted(needed - shipped) == []

    # final stage: a fresh virtualenv with the wheel and its dependencies, nothing else
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--only-binary=:all:", wheel)
    workdir = tmp_path / "var-lib-sereno"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_") and k != "PYTHONPATH"}
    where = run(venv / "bin" / "python", "-c", "import storage; print(storage.__file__)", cwd=workdir, env=env)
    assert where.stdout.startswith(str(venv))  # the installed code, not the checkout's

    usage = run(venv / "bin" / "sereno", "--help", cwd=workdir, env=env).stdout
    assert all(command in usage for command in ("run", "demo", "migrate", "admin"))
    async with scratch_database("postgres", PG_ADMIN_URL) as url:
        done = run(venv / "bin" / "sereno", "migrate", cwd=workdir, env={**env, "SERENO_DATABASE_URL": url})
        assert done.stdout.strip() == f"Database migrated from nothing (an empty database) to revision {head_revision()}."
        engine = make_engine(url)
        try:
            assert await current_revision(engine) == head_revision() is not None
        finally:
            await engine.dispose()
    demo = run(venv / "bin" / "sereno", "demo", cwd=workdir, env=env).stdout  # the data files, at run time
    assert "Mission Flats" in demo and "Su código de referencia es" in demo
    print(f"wheel → venv → migrate → demo: {time.monotonic() - started:.1f} s")


#: The revision the rollback runbook goes back to (a release older than the code's head).
OLDER = "0013"


async def sereno_migrate(url: str, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`sereno migrate ARGV…` with SERENO_DATABASE_URL=url: the exit code and what it said."""
    saved = os.environ.get("SERENO_DATABASE_URL")
    os.environ["SERENO_DATABASE_URL"] = url
    try:
        code = await asyncio.to_thread(main, ["migrate", *argv])
    finally:
        os.environ.pop("SERENO_DATABASE_URL")
        if saved is not None:
            os.environ["SERENO_DATABASE_URL"] = saved
    out = capsys.readouterr()
    return code, (out.out + out.err).strip()


def libpq(url: str) -> str:
    """The `postgresql://` form of a SQLAlchemy URL, for pg_dump and pg_restore."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_a_pre_upgrade_backup_restored_into_a_fresh_database_migrates_and_rolls_back(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """deploy/README.md's Backups and Upgrading sections, command for command."""
    head = head_revision()
    assert await sereno_migrate(database_url, "--to", OLDER, capsys=capsys) == (
        0, f"Database migrated from nothing (an empty database) to revision {OLDER}.")
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO neighborhood (id, name, aliases, zips, geometry) "
                                    "VALUES ('north', 'North', '[]', '[]', '{}')"))
    finally:
        await engine.dispose()
    # the nightly backup, taken before the upgrade; then the upgrade
    dump = tmp_path / "sereno-before-upgrade.dump"
    sqlite_file = Path(database_url.split("///", 1)[1]) if database_url.startswith("sqlite") else None
    if sqlite_file is not None:
        shutil.copy2(sqlite_file, dump)
    else:
        run("pg_dump", "-Fc", "-d", libpq(database_url), "-f", dump)
    assert await sereno_migrate(database_url, capsys=capsys) == (0, f"Database migrated from {OLDER} to revision {head}.")

    # restore: into a fresh database, which then takes the old one's name (the settings and the
    # backup job keep naming it); the upgraded database is kept aside, not overwritten
    if sqlite_file is not None:
        shutil.copy2(dump, tmp_path / "restored.db")
        sqlite_file.rename(sqlite_file.with_name("sereno-before-restore.db"))
        (tmp_path / "restored.db").rename(sqlite_file)
    else:
        name = make_url(database_url).database
        run("createdb", "--maintenance-db", PG_ADMIN_URL, f"{name}_restored")
        run("pg_restore", "--no-owner", "-d", libpq(database_url) + "_restored", dump)
        run("psql", "-d", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1",
            "-c", f'ALTER DATABASE "{name}" RENAME TO "{name}_before_restore"',
            "-c", f'ALTER DATABASE "{name}_restored" RENAME TO "{name}"')
    try:
        assert await sereno_migrate(database_url, capsys=capsys) == (
            0, f"Database migrated from {OLDER} to revision {head}.")
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT name FROM neighborhood"))).scalars().all() == ["North"]
        finally:
            await engine.dispose()

        # rolling the schema back: refused without --yes, then down, then up again
        code, said = await sereno_migrate(database_url, "--to", OLDER, capsys=capsys)
        assert code == 2 and f"going down from {head} to {OLDER} deletes" in said
        assert await sereno_migrate(database_url, "--to", OLDER, "--yes", capsys=capsys) == (
            0, f"Database migrated from {head} to revision {OLDER}.")
        assert await sereno_migrate(database_url, capsys=capsys) == (0, f"Database migrated from {OLDER} to revision {head}.")
        assert await sereno_migrate(database_url, capsys=capsys) == (0, f"Database already at revision {head}.")
    finally:
        if sqlite_file is None:
            run("dropdb", "--maintenance-db", PG_ADMIN_URL, "--force", f"{name}_before_restore")
