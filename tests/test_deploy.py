"""deploy/: the image's build steps (wheel → fresh virtualenv from the lock file → `sereno
migrate`), the settings example, compose file, unit file and lock file kept in step with the
code, systemd's watchdog, and the backup, restore and rollback runbook of deploy/README.md."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sereno.bot.watchdog import notify, ping_if_healthy, watchdog_interval
from sereno.cli import main
from sereno.config import Settings
from sereno.storage.engine import answers, make_engine
from sereno.storage.migrate import current_revision, head_revision
from sereno.storage.scratch import scratch_database
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
#: Settings of `sereno run --webhook`, documented ahead of the code that reads them.
WEBHOOK_SETTINGS = {"SERENO_WEBHOOK_URL", "SERENO_WEBHOOK_SECRET", "SERENO_WEB_HOST", "SERENO_WEB_PORT"}
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
PACKAGES = ("sereno",)


def package_files() -> set[str]:
    """Every file of the packages (modules and the data they read at run time: catalogs,
    reviews.toml, migrations, the demo region, drills), bytecode aside."""
    return {
        p.relative_to(ROOT).as_posix()
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }


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


def test_env_example_shows_the_real_defaults_and_loads_as_is(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for commented, name, value, _ in env_example():
        field = name.removeprefix("SERENO_").lower()
        if not commented:
            assert value == "", f"{name} is filled in: secrets and hotlines stay blank"
            monkeypatch.setenv(name, value)  # as docker compose and systemd pass them
        elif field in Settings.model_fields:
            assert getattr(Settings(**{field: value}), field) == Settings.model_fields[field].default, name
    Settings()  # the blank lines are valid as they stand


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_has_the_database_the_migration_and_the_bot() -> None:
    services = compose()["services"]
    assert list(services) == ["db", "migrate", "sereno"]
    db, migrate, bot = services["db"], services["migrate"], services["sereno"]
    assert "pg_isready" in db["healthcheck"]["test"][1] and "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert migrate["command"] == ["migrate"] and migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no" and migrate["healthcheck"] == {"disable": True}
    assert bot["command"] == ["run", "--webhook"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["ports"] and bot["env_file"] == ".env" and bot["build"]["dockerfile"] == "deploy/Dockerfile"


def test_compose_rotates_logs_restarts_and_health_checks_the_bot_on_pinned_images() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert service["logging"]["driver"] == "json-file", name
        assert set(service["logging"]["options"]) == {"max-size", "max-file"}, name
    assert services["db"]["restart"] == services["sereno"]["restart"] == "unless-stopped"
    check = services["sereno"]["healthcheck"]
    assert check["test"][0] == "CMD" and "/healthz" in check["test"][-1] and check["retries"] >= 1
    # a version tag down to the minor release and the Debian release, never a moving major tag
    assert re.fullmatch(r"postgres:15\.\d+-bookworm(@sha256:[0-9a-f]{64})?", services["db"]["image"])
    bases = re.findall(r"^FROM (\S+)", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert len(bases) == 2 and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", b) for b in bases), (
        bases
    )


async def test_the_health_checks_pass_only_while_healthz_says_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compose healthcheck and the image's HEALTHCHECK, run as Docker runs them."""
    answer = {"status": 200}

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({}, status=answer["status"])

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    env = {**os.environ, "SERENO_WEB_PORT": str(port)}
    compose_check = [sys.executable, *compose()["services"]["sereno"]["healthcheck"]["test"][2:]]
    image_check = re.search(r"^    CMD (.+)$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert image_check is not None
    shell_check = ["sh", "-c", image_check[1].replace("python ", f"{sys.executable} ", 1)]
    try:
        for status, passes in ((200, True), (503, False)):
            answer["status"] = status
            for argv in (compose_check, shell_check):
                done = await asyncio.create_subprocess_exec(*argv, env=env, stderr=asyncio.subprocess.DEVNULL)
                assert (await done.wait() == 0) is passes, (status, argv)
    finally:
        await runner.cleanup()


def unit_file() -> dict[str, list[str]]:
    """deploy/sereno.service's [Service] settings (a key given twice keeps both values)."""
    section, found = "", {}
    for line in (DEPLOY / "sereno.service").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#") and section == "Service":
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_restarts_the_bot_when_it_fails_or_stops_answering_the_watchdog() -> None:
    unit = unit_file()
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert int(unit["WatchdogSec"][0]) >= 10 and unit["Restart"] == ["on-failure"]
    assert "AF_UNIX" in unit["RestrictAddressFamilies"][0].split()  # the notification socket
    assert unit["ExecStartPre"] == ["/opt/sereno/bin/sereno migrate"]
    assert unit["ExecStart"] == ["/opt/sereno/bin/sereno run --webhook"]


def locked() -> dict[str, tuple[str, int]]:
    """deploy/requirements.lock: each package's pinned version and how many hashes it has."""
    text = (DEPLOY / "requirements.lock").read_text(encoding="utf-8")
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        if match := re.match(r"([A-Za-z0-9._-]+)==(\S+)", block):
            found[canonicalize_name(match[1])] = (match[2], block.count("--hash=sha256:"))
    return found


def test_the_lock_file_pins_every_dependency_with_its_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = locked()
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra_of in [r for r in wanted if r.extras]:  # python-telegram-bot[job-queue,…] brings these
        for requirement in metadata.requires(extra_of.name) or []:
            needed = Requirement(requirement)
            if needed.marker is not None and any(needed.marker.evaluate({"extra": e}) for e in extra_of.extras):
                wanted.append(needed)
    assert len(wanted) > len(project["dependencies"])
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement} is not in deploy/requirements.lock"
        version, hashes = lock[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{name}=={version} breaks {requirement}"
    assert all(hashes > 0 for _, hashes in lock.values())
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock" in dockerfile
    assert "pip install --no-deps /tmp/wheels/*.whl" in dockerfile


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's, named by NOTIFY_SOCKET."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def received(sock: socket.socket) -> list[bytes]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096))
        except BlockingIOError:
            return messages


async def test_the_watchdog_is_pinged_only_while_the_database_answers(notify_socket: socket.socket) -> None:
    healthy = make_engine(f"sqlite+aiosqlite:///{notify_socket.getsockname()}.db")
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = make_engine(f"postgresql+asyncpg://sereno@127.0.0.1:{port}/sereno")
    try:
        assert await ping_if_healthy(functools.partial(answers, healthy, 2.0))
        assert received(notify_socket) == [b"WATCHDOG=1"]
        assert not await ping_if_healthy(functools.partial(answers, down, 2.0))
        assert received(notify_socket) == []
    finally:
        await healthy.dispose()
        await down.dispose()


def test_the_watchdog_period_comes_from_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval() is None


def test_notify_sends_nothing_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


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
    assert {
        "sereno/bot/locales/es/LC_MESSAGES/sereno.po",
        "sereno/bot/locales/reviews.toml",
        "sereno/data/demo_region.geojson",
        "sereno/storage/migrations/env.py",
        "sereno/storage/migrations/versions/0001_initial_schema.py",
    } <= needed
    assert sorted(needed - shipped) == []
    assert {name.split("/")[0] for name in shipped if not name.startswith("sereno-")} == {"sereno"}  # one namespace

    # final stage: a fresh virtualenv with the locked dependencies (hash-checked), then the wheel alone
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--require-hashes",
        "--only-binary=:all:",
        "-r",
        DEPLOY / "requirements.lock",
    )
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", wheel)
    run(venv / "bin" / "python", "-m", "pip", "check")  # the lock holds everything the wheel requires
    workdir = tmp_path / "var-lib-sereno"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_") and k != "PYTHONPATH"}
    where = run(venv / "bin" / "python", "-c", "import sereno.storage; print(sereno.storage.__file__)", cwd=workdir, env=env)
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
    translations = run(venv / "bin" / "sereno", "admin", "translations", cwd=workdir, env=env).stdout  # reviews.toml
    assert "es Español" in translations and "not reviewed" in translations
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
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """deploy/README.md's Backups and Upgrading sections, command for command."""
    head = head_revision()
    assert await sereno_migrate(database_url, "--to", OLDER, capsys=capsys) == (
        0,
        f"Database migrated from nothing (an empty database) to revision {OLDER}.",
    )
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO neighborhood (id, name, aliases, zips, geometry) VALUES ('north', 'North', '[]', '[]', '{}')")
            )
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
        # the old runbook's way, over the upgraded database, leaves a mixed schema that no migration fits
        done = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", libpq(database_url), str(dump)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0 and "errors ignored on restore" in done.stderr
        code, said = await sereno_migrate(database_url, capsys=capsys)
        assert code == 2 and f"The schema does not match revision {OLDER}" in said and "into a fresh database" in said
        name = make_url(database_url).database
        run("createdb", "--maintenance-db", PG_ADMIN_URL, f"{name}_restored")
        run("pg_restore", "--no-owner", "-d", libpq(database_url) + "_restored", dump)
        run(
            "psql",
            "-d",
            PG_ADMIN_URL,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'ALTER DATABASE "{name}" RENAME TO "{name}_before_restore"',
            "-c",
            f'ALTER DATABASE "{name}_restored" RENAME TO "{name}"',
        )
    try:
        assert await sereno_migrate(database_url, capsys=capsys) == (0, f"Database migrated from {OLDER} to revision {head}.")
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
            0,
            f"Database migrated from {head} to revision {OLDER}.",
        )
        assert await sereno_migrate(database_url, capsys=capsys) == (0, f"Database migrated from {OLDER} to revision {head}.")
        assert await sereno_migrate(database_url, capsys=capsys) == (0, f"Database already at revision {head}.")
    finally:
        if sqlite_file is None:
            run("dropdb", "--maintenance-db", PG_ADMIN_URL, "--force", f"{name}_before_restore")
