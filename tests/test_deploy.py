"""deploy/: the image's build steps (wheel → fresh virtualenv → `sereno migrate`), and the
settings example and compose file kept in step with the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from sereno.settings import Settings
from storage.engine import make_engine
from storage.migrate import current_revision, head_revision
from storage.scratch import scratch_database
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
#: Settings of `sereno run --webhook`, documented ahead of the code that reads them.
WEBHOOK_SETTINGS = {"SERENO_WEBHOOK_URL", "SERENO_WEBHOOK_SECRET", "SERENO_WEB_HOST", "SERENO_WEB_PORT"}
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
PACKAGES = ("verify", "storage", "bot", "sereno")


def package_files() -> set[str]:
    """Every file of the packages (modules and the data they read at run time: catalogs,
    reviews.toml, migrations, the demo region, drills), bytecode aside."""
    return {p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}


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
    needed = package_files()
    assert {"bot/locales/es/LC_MESSAGES/sereno.po", "bot/locales/reviews.toml", "sereno/data/demo_region.geojson",
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
        assert done.stdout.strip() == "Database is up to date."
        engine = make_engine(url)
        try:
            assert await current_revision(engine) == head_revision() is not None
        finally:
            await engine.dispose()
    demo = run(venv / "bin" / "sereno", "demo", cwd=workdir, env=env).stdout  # the data files, at run time
    assert "Mission Flats" in demo and "Su código de referencia es" in demo
    translations = run(venv / "bin" / "sereno", "admin", "translations", cwd=workdir, env=env).stdout  # reviews.toml
    assert "es Español" in translations and "not reviewed" in translations
    print(f"wheel → venv → migrate → demo: {time.monotonic() - started:.1f} s")
