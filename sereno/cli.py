"""The `sereno` command: run, demo, migrate, admin, export."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sereno import logs
from sereno.config import MissingSetting, Settings
from sereno.data import STARTER_DRILLS

if TYPE_CHECKING:  # imported late (`sereno.bootstrap` too): the CLI starts fast
    from sereno.verify.roster import RosterService

EXIT_USAGE = 2


def _settings() -> Settings:
    """The settings, checked (see `sereno.bootstrap.load_settings`); their secrets are
    redacted from the logs and the error line from now on."""
    from sereno.bootstrap import load_settings

    return load_settings()


async def _run(args: argparse.Namespace) -> None:
    settings = _settings()
    settings.require_token()
    settings.require_hmac_key()
    if args.webhook:
        settings.require_webhook_secret()
    logs.configure(args.verbose, json_lines=settings.log_format == "json")
    from sereno.bootstrap import serve_bot

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_bot(settings, stop, webhook=args.webhook)


async def _migrate(args: argparse.Namespace) -> None:
    """Print where the schema was and where it is now ("already at" when nothing changed)."""
    from sereno.bootstrap import migrate

    settings = _settings()
    done = await migrate(settings, args.to, allow_downgrade=args.yes)
    if not done.needed:
        print(f"Database already at revision {done.target}.")
    else:
        print(f"Database migrated from {done.start or 'nothing (an empty database)'} to revision {done.target}.")


async def _import_neighborhoods(args: argparse.Namespace) -> None:
    from sereno.bootstrap import replace_neighborhoods
    from sereno.verify.places import PlaceDataError, parse_geojson

    path = Path(args.file)
    try:
        neighborhoods = parse_geojson(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MissingSetting(f"cannot read {path}: {exc.strerror}") from None
    except PlaceDataError as exc:
        raise MissingSetting(f"{path}: {exc}") from None
    settings = _settings()
    await replace_neighborhoods(settings.database_url, neighborhoods, settings.optional_hmac_key())
    print(f"Imported {len(neighborhoods)} neighborhoods: {', '.join(n.name for n in neighborhoods)}.")
    print("Restart the bot to use them.")


async def _add_admin(args: argparse.Namespace) -> None:
    settings = _settings()
    async with _roster(settings) as roster:
        await roster.add_admin(args.telegram_id, args.name)
    print(f"{args.telegram_id} is an admin.")


async def _invite(args: argparse.Namespace) -> None:
    from sereno.verify.members import Role

    role = Role.parse(args.role)
    if role is None or role is Role.REVOKED:
        raise MissingSetting(f"unknown role {args.role!r}: use trainee, verifier, coordinator or admin")
    settings = _settings()
    async with _roster(settings) as roster:
        invite = await roster.invite(None, role)
    print(f"Invite code for a {role.label}: {invite.code} (single use, expires {invite.expires_at:%Y-%m-%d %H:%M} UTC).")
    print(f"The person sends /join {invite.code} to the bot in a private chat.")


async def _link_channel(args: argparse.Namespace) -> None:
    from sereno.bootstrap import SUPPORTED_LANGUAGES, check_chat, database, neighborhoods
    from sereno.verify.channels import ChannelService
    from sereno.verify.clock import SystemClock

    if args.language is not None and args.language not in SUPPORTED_LANGUAGES:
        raise MissingSetting(f"--language: {args.language!r} has no translation; use one of {', '.join(SUPPORTED_LANGUAGES)}")
    settings = _settings()
    chat = await check_chat(settings, args.chat_id)
    if chat.title is None:
        raise MissingSetting(f"chat {args.chat_id} cannot be reached: add the bot to it first.")
    if chat.missing:
        raise MissingSetting(f"the bot cannot post alerts in {chat.title} yet; it needs to: " + ", ".join(chat.missing) + ".")
    async with database(settings) as uow:
        known = {nb.id for nb in (await neighborhoods(uow)).neighborhoods}
        if args.neighborhood not in known:
            raise MissingSetting(f"unknown neighborhood {args.neighborhood!r}: use one of {', '.join(sorted(known))}")
        await ChannelService(uow, SystemClock()).link(
            None, args.neighborhood, args.chat_id, chat.title, args.language or settings.channel_language
        )
    print(f"Linked {chat.title} to {args.neighborhood}: verified alerts will be posted there.")


async def _purge(args: argparse.Namespace) -> None:
    from sereno.bootstrap import database
    from sereno.verify.clock import SystemClock
    from sereno.verify.retention import RetentionService

    settings = _settings()
    async with database(settings) as uow:
        purged = await RetentionService(uow, SystemClock(), settings.retention).purge(dry_run=args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    print(
        f"{verb} {purged.reports} reports older than {settings.retention_days} days (with their photos and "
        f"follow-up questions and answers), {purged.contacts} expired reporter contacts and {purged.photos} "
        f"photos of reports never submitted; {'would blank' if args.dry_run else 'blanked'} the reasons of "
        f"{purged.reasons} verdicts and {'would coarsen' if args.dry_run else 'coarsened'} {purged.pins} "
        "incident pins to their ~500 m area. Incident summaries, alerts and the audit trail are kept."
    )


async def _stats(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from sereno.bootstrap import database, neighborhoods, stats_report
    from sereno.verify.clock import SystemClock
    from sereno.verify.stats import StatsService

    if args.days < 1:
        raise MissingSetting("--days must be at least 1")
    settings = _settings()
    async with database(settings) as uow:
        gazetteer = await neighborhoods(uow)
        figures = await StatsService(uow, SystemClock()).stats(None, timedelta(days=args.days))
    print(stats_report(figures, gazetteer, settings))


def _moment(flag: str, text: str | None, settings: Settings, end_of_day: bool = False) -> datetime | None:
    """An ISO date or time given on the command line (SERENO_TIMEZONE when it has no offset)."""
    from sereno.verify.exports import parse_moment

    try:
        return parse_moment(text, settings.tz, end_of_day=end_of_day) if text else None
    except ValueError as exc:
        raise MissingSetting(f"{flag}: {exc}") from None


async def _export(args: argparse.Namespace) -> None:
    """Write the PII-free export of alerts and corrections (audited) to stdout or a file."""
    from sereno.verify.exports import ExportFormat, FeedSource

    settings = _settings()
    try:
        fmt = ExportFormat.parse(args.format)
    except ValueError as exc:
        raise MissingSetting(str(exc)) from None
    since = _moment("--since", args.since, settings)
    until = _moment("--until", args.until, settings, end_of_day=True)
    try:
        source = FeedSource.for_region(settings.region_name, settings.tz)
        if args.sender:
            source = FeedSource(args.sender, source.name, source.tz)
    except ValueError as exc:
        raise MissingSetting(f"--sender: {exc}") from None
    from sereno.bootstrap import database, neighborhoods
    from sereno.verify.clock import SystemClock
    from sereno.verify.export_service import ExportError, ExportService

    async with database(settings) as uow:
        gazetteer = await neighborhoods(uow)
        try:
            exported = await ExportService(uow, SystemClock(), gazetteer).export(fmt, source, since, until, args.neighborhood)
        except ExportError as exc:
            raise MissingSetting(str(exc)) from None
    data = exported.text.encode("utf-8")
    if args.output:
        path = Path(args.output)
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise MissingSetting(f"cannot write {path}: {exc.strerror}") from None
        print(f"Exported {exported.count} alert{'' if exported.count == 1 else 's'} as {fmt.value} to {path}.")
    elif (out := getattr(sys.stdout, "buffer", None)) is not None:
        sys.stdout.flush()
        out.write(data)
        out.flush()
    else:
        sys.stdout.write(exported.text)


async def _translations(args: argparse.Namespace) -> None:
    from sereno.bootstrap import catalog_status

    print(f"{'language':<24} {'translated':>12}  native review")
    for status in catalog_status():
        share = f"{status.translated}/{status.total}"
        review = status.reviewer or "not reviewed"
        if status.reviewed_on:
            review += f" ({status.reviewed_on})"
        print(f"{status.code + ' ' + status.name:<24} {share:>12}  {review}")


async def _import_drills(args: argparse.Namespace) -> None:
    import json

    import yaml

    from sereno.bootstrap import database
    from sereno.verify.clock import SystemClock
    from sereno.verify.drills import DrillFileError
    from sereno.verify.training import TrainingService

    path = Path(args.file)
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except OSError as exc:
        raise MissingSetting(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise MissingSetting(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: " + str(exc).splitlines()[0]
        ) from None
    settings = _settings()
    async with database(settings) as uow:
        try:
            new, replaced = await TrainingService(uow, SystemClock()).import_scenarios(None, data)
        except DrillFileError as exc:
            raise MissingSetting(f"{path}: {exc}") from None
    print(f"Imported {new + replaced} drill scenarios ({new} new, {replaced} replaced).")


@asynccontextmanager
async def _roster(settings: Settings) -> AsyncIterator[RosterService]:
    from sereno.bootstrap import database
    from sereno.verify.clock import SystemClock
    from sereno.verify.pseudonyms import Pseudonymizer
    from sereno.verify.roster import RosterService

    async with database(settings) as uow:
        yield RosterService(uow, SystemClock(), Pseudonymizer(settings.require_hmac_key()))


async def _demo(args: argparse.Namespace) -> None:
    from sereno.demo import run_demo

    await run_demo(sys.stdout)


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    top = argparse.ArgumentParser(prog="sereno", description="Verify-then-broadcast bot for rapid-response networks.")
    top.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (long polling by default); settings come from SERENO_* variables")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve Telegram's webhook, /healthz and /metrics on SERENO_WEB_HOST:SERENO_WEB_PORT instead",
    )
    run.set_defaults(func=_run)
    sub.add_parser("demo", help="play scripted reporters against a local Bot API double").set_defaults(func=_demo)
    mig = sub.add_parser("migrate", help="create the database schema or take it to a revision (default: the newest)")
    mig.add_argument(
        "--to", default="head", metavar="REV", help="the revision to go to, up or down, e.g. 0013 (default: head, the newest)"
    )
    mig.add_argument(
        "--yes", action="store_true", help="allow a downgrade, which deletes what the newer revisions store (back up first)"
    )
    mig.set_defaults(func=_migrate)
    admin = sub.add_parser("admin", help="administration").add_subparsers(dest="admin_command", required=True)
    imp = admin.add_parser("import-neighborhoods", help="replace the neighborhoods with those of a GeoJSON file")
    imp.add_argument("file", help="a GeoJSON FeatureCollection (properties: name, aliases, zips)")
    imp.set_defaults(func=_import_neighborhoods)
    add = admin.add_parser("add-admin", help="make a Telegram user an admin of the desk")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--name", default="admin")
    add.set_defaults(func=_add_admin)
    inv = admin.add_parser("invite", help="create a one-time invite code (expires after 72 h)")
    inv.add_argument("--role", default="verifier", help="trainee, verifier, coordinator or admin")
    inv.set_defaults(func=_invite)
    drills = admin.add_parser("import-drills", help="add or replace training scenarios from a YAML or JSON file")
    drills.add_argument(
        "file",
        nargs="?",
        default=str(STARTER_DRILLS),
        help="default: the 16 starter scenarios shipped with Sereno (sereno/data/drills.yaml, which also shows the format)",
    )
    drills.set_defaults(func=_import_drills)
    admin.add_parser(
        "translations", help="each language's catalog: how complete, and whether a native speaker reviewed it"
    ).set_defaults(func=_translations)
    stats = admin.add_parser("stats", help="desk statistics: reports, verdicts, response times, alerts, field dispatches")
    stats.add_argument("--days", type=int, default=7, help="the window, in days up to now (default 7)")
    stats.set_defaults(func=_stats)
    purge = admin.add_parser("purge", help="delete raw reports, contacts and photos past the retention window")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    purge.set_defaults(func=_purge)
    link = admin.add_parser("link-channel", help="post a neighborhood's verified alerts in a channel or group")
    link.add_argument("neighborhood", help="the neighborhood id (as in the GeoJSON file)")
    link.add_argument("chat_id", type=int, help="the channel's or group's chat id (e.g. -1001234567890)")
    link.add_argument("--language", help="language of the posts, one with a translation, e.g. es (default: the default language)")
    link.set_defaults(func=_link_channel)
    exp = sub.add_parser("export", help="export verified alerts and corrections for legal partners (no personal data)")
    exp.add_argument("--format", required=True, help="csv, geojson, cap (CAP 1.2) or atom (Atom 1.0)")
    exp.add_argument(
        "--since",
        help="from this ISO date or time, e.g. 2026-01-15 or 2026-01-15T08:00-08:00 (without an offset: SERENO_TIMEZONE)",
    )
    exp.add_argument("--until", help="before this ISO date or time (a date alone: up to the end of that day)")
    exp.add_argument("--neighborhood", help="only alerts about this neighborhood id")
    exp.add_argument("--sender", help="CAP sender id (default: sereno@<SERENO_REGION_NAME as a slug>)")
    exp.add_argument("--output", "-o", help="write to this file (default: standard output)")
    exp.set_defaults(func=_export)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = parser().parse_args(argv)
    logs.configure(args.verbose)
    try:
        asyncio.run(args.func(args))
    except MissingSetting as exc:
        print(logs.scrub(f"sereno: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an outage: one line, details with -v
        logging.getLogger("sereno").debug("unexpected error", exc_info=True)
        print(
            logs.scrub(f"sereno: {args.command} failed: {type(exc).__name__}: {exc}")
            + ("" if args.verbose else " (run with -v for details)"),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
