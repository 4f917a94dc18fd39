"""Deployment settings, read from `SERENO_*` environment variables (and a `.env` file)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sereno.verify.alerts import AlertPolicy, ChannelPosts
from sereno.verify.clustering import ClusterPolicy
from sereno.verify.desk import DeskPolicy
from sereno.verify.dispatch import DispatchPolicy
from sereno.verify.drills import CertificationBar
from sereno.verify.limits import SendLimits
from sereno.verify.model import Tier
from sereno.verify.resources import Hotline, Resources, ResourcesError, load_resources
from sereno.verify.surge import ReportLimit, SurgePolicy

OFFICIAL_BOT_API = "https://api.telegram.org"


class MissingSetting(Exception):
    """A setting a command needs is not set; the message names the variable."""


class Settings(BaseSettings):
    """Everything a deployment configures. Secrets are `SecretStr`: never printed."""

    model_config = SettingsConfigDict(env_prefix="SERENO_", env_file=".env", extra="ignore")

    telegram_token: SecretStr | None = None
    telegram_api_url: str = OFFICIAL_BOT_API
    database_url: str = "sqlite+aiosqlite:///./var/sereno.db"
    hmac_key: SecretStr | None = None
    default_language: str = "en"  # a language with a catalog (checked where the catalogs are known)
    timezone: str = "America/Los_Angeles"
    hotline: str = ""
    hotline_name: str = ""
    resources_file: Path | None = None  # legal-aid resources (TOML); see load_resources()
    region_name: str = ""
    admin_ids: str = ""

    reports_per_window: int = Field(default=5, ge=1)
    report_window_minutes: int = Field(default=10, ge=1)
    photos_per_report: int = Field(default=5, ge=1)
    contact_ttl_hours: int = Field(default=72, ge=1)
    retention_days: int = Field(default=30, ge=1)
    conversation_timeout_minutes: int = Field(default=30, ge=1)
    persistence_interval_seconds: float = Field(default=1.0, gt=0)
    flood_max_updates: int = Field(default=20, ge=1)
    flood_window_seconds: float = Field(default=10.0, gt=0)

    cluster_radius_m: float = Field(default=1000.0, gt=0)
    cluster_window_hours: float = Field(default=3.0, gt=0)
    lease_minutes: float = Field(default=10.0, gt=0)
    urgent_lease_minutes: float = Field(default=5.0, gt=0)
    quorum: int = Field(default=2, ge=1)
    urgent_quorum: int = Field(default=2, ge=1)
    coordinator_may_publish_urgent_alone: bool = True
    # an outcome not told this long after the verdict (the process died, the send failed)
    # is told by the leader's sweep
    outcome_grace_seconds: float = Field(default=60.0, gt=0)
    # the drill record a trainee needs before coordinators are asked to promote them
    certify_min_drills: int = Field(default=10, ge=1)
    certify_min_accuracy_percent: float = Field(default=90.0, ge=0, le=100)
    certify_max_median_minutes: float = Field(default=10.0, gt=0)

    # dispatch: an ask not answered this long passes to the next field verifier; the first
    # safety check-in is due this long after the ETA, then this often after "I'm OK"
    dispatch_offer_minutes: float = Field(default=2.0, gt=0)
    dispatch_check_in_after_eta_minutes: float = Field(default=20.0, gt=0)
    dispatch_check_in_every_minutes: float = Field(default=20.0, gt=0)
    # no answer to "Are you OK?" this long: a reminder; then this long again: coordinators
    dispatch_remind_minutes: float = Field(default=5.0, gt=0)
    dispatch_escalate_minutes: float = Field(default=5.0, gt=0)
    # surge: automatic when a neighborhood's reports in the last hour exceed this multiple
    # of its normal hourly rate (never below the floor); in surge each reporter may send
    # this many reports per window
    surge_multiple: float = Field(default=4.0, gt=1)
    surge_floor_per_hour: float = Field(default=3.0, gt=0)
    surge_reports_per_window: int = Field(default=2, ge=1)
    surge_report_window_minutes: int = Field(default=10, ge=1)
    surge_summary_minutes: float = Field(default=5.0, gt=0)

    alert_lifetime_hours: float = Field(default=4.0, gt=0)
    correction_min_reports: int = Field(default=3, ge=1)
    alert_adjacent: str = ""  # neighborhood ids whose alerts also reach adjacent ones; "*" for all
    # Telegram's limits for this bot token, shared by replies and broadcasts (1,000 a second
    # overall needs Telegram's paid broadcasts)
    send_per_second: float = Field(default=30.0, gt=0, le=1000)
    send_private_per_second: float = Field(default=1.0, gt=0)
    send_group_per_minute: float = Field(default=20.0, gt=0)
    # with several replicas: what one that does not lead may send a second (its replies);
    # the leader keeps the rest of send_per_second
    send_replica_per_second: float = Field(default=5.0, gt=0)

    # `sereno run --webhook`: Telegram posts updates to WEBHOOK_URL (public https, behind a
    # reverse proxy that forwards to WEB_HOST:WEB_PORT/telegram) with WEBHOOK_SECRET
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    # an update accepted by a replica and not handled this long after (the replica died)
    # is handled by whichever replica looks next (every replica looks this often)
    webhook_replay_seconds: float = Field(default=30.0, gt=0)
    web_host: str = "0.0.0.0"
    web_port: int = Field(default=8080, ge=1, le=65535)
    # true only when every request comes through the deployment's own reverse proxy: its
    # X-Forwarded-Proto/-Host/-For then give the public scheme and host the feeds link to
    trust_forwarded_headers: bool = False
    # /healthz turns 503 on the leader once an outbox message has waited longer than this
    health_max_pending_seconds: float = Field(default=300.0, gt=0)
    log_format: Literal["text", "json"] = "text"  # json: one object per line
    # "reviewed": alerts go out only in languages a native speaker reviewed (see sereno.bot.i18n)
    alert_languages: Literal["all", "reviewed"] = "all"
    # languages of a new channel link's posts ("en,es"); default: the default language
    channel_languages: str = ""
    # "combined": one post carrying every channel language; "per_language": one post per language
    channel_posts: Literal["combined", "per_language"] = "combined"

    geocoder: str = ""
    geocoder_domain: str = ""
    geocoder_scheme: str = "https"
    geocoder_user_agent: str = "sereno"
    geocoder_timeout_seconds: float = 5.0

    @field_validator("admin_ids")
    @classmethod
    def _ids(cls, value: str) -> str:
        for part in value.replace(",", " ").split():
            if not part.lstrip("-").isdigit():
                raise ValueError(f"{part!r} is not a Telegram user id (use numbers separated by commas)")
        return value

    @property
    def admins(self) -> list[int]:
        """The first admins' Telegram ids (SERENO_ADMIN_IDS, comma-separated)."""
        return [int(part) for part in self.admin_ids.replace(",", " ").split()]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def bot_base_url(self) -> str:
        """PTB's `base_url` (the token is appended by PTB)."""
        return f"{self.telegram_api_url.rstrip('/')}/bot"

    @property
    def bot_base_file_url(self) -> str:
        """PTB's `base_file_url`."""
        return f"{self.telegram_api_url.rstrip('/')}/file/bot"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def report_window(self) -> timedelta:
        return timedelta(minutes=self.report_window_minutes)

    @property
    def desk_policy(self) -> DeskPolicy:
        """Leases and the two-person rule, as configured."""
        return DeskPolicy(
            lease=timedelta(minutes=self.lease_minutes),
            urgent_lease=timedelta(minutes=self.urgent_lease_minutes),
            quorum={Tier.URGENT: self.urgent_quorum, Tier.HIGH: self.quorum, Tier.ROUTINE: self.quorum},
            coordinator_alone=frozenset({Tier.URGENT}) if self.coordinator_may_publish_urgent_alone else frozenset(),
            tell_grace=timedelta(seconds=self.outcome_grace_seconds),
        )

    @property
    def certification_bar(self) -> CertificationBar:
        """What a trainee's drills must show before they are proposed for promotion."""
        return CertificationBar(
            self.certify_min_drills, self.certify_min_accuracy_percent / 100, timedelta(minutes=self.certify_max_median_minutes)
        )

    @property
    def dispatch_policy(self) -> DispatchPolicy:
        """The timers of dispatch and safety check-ins, as configured."""
        return DispatchPolicy(
            offer_timeout=timedelta(minutes=self.dispatch_offer_minutes),
            check_in_after_eta=timedelta(minutes=self.dispatch_check_in_after_eta_minutes),
            check_in_every=timedelta(minutes=self.dispatch_check_in_every_minutes),
            remind_after=timedelta(minutes=self.dispatch_remind_minutes),
            escalate_after=timedelta(minutes=self.dispatch_escalate_minutes),
        )

    @property
    def surge_policy(self) -> SurgePolicy:
        """When a neighborhood is in surge, and what tightens then, as configured."""
        return SurgePolicy(
            multiple=self.surge_multiple,
            floor_per_hour=self.surge_floor_per_hour,
            limit=ReportLimit(self.surge_reports_per_window, timedelta(minutes=self.surge_report_window_minutes)),
            summary_every=timedelta(minutes=self.surge_summary_minutes),
        )

    @property
    def cluster_policy(self) -> ClusterPolicy:
        """How close reports must be to describe one event, as configured."""
        return ClusterPolicy(radius_m=self.cluster_radius_m, window=timedelta(hours=self.cluster_window_hours))

    @property
    def channel_language_codes(self) -> list[str]:
        """The codes of SERENO_CHANNEL_LANGUAGES, in order, each once."""
        return list(dict.fromkeys(self.channel_languages.replace(",", " ").split()))

    @property
    def channel_language(self) -> str:
        """The languages of a new channel link, joined with "+" (e.g. "en+es")."""
        return "+".join(self.channel_language_codes or [self.default_language])

    @property
    def alert_policy(self) -> AlertPolicy:
        """Alert lifetime, rumor-control threshold, adjacency and channel posts, as configured."""
        return AlertPolicy(
            lifetime=timedelta(hours=self.alert_lifetime_hours),
            correction_reports=self.correction_min_reports,
            alert_adjacent=frozenset(self.alert_adjacent.replace(",", " ").split()),
            channel_posts=ChannelPosts(self.channel_posts),
        )

    @property
    def send_limits(self) -> SendLimits:
        """The Telegram limits the broadcaster keeps to, as configured."""
        return SendLimits(
            overall_per_second=self.send_per_second,
            private_per_second=self.send_private_per_second,
            group_per_minute=self.send_group_per_minute,
        )

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def contact_ttl(self) -> timedelta:
        return timedelta(hours=self.contact_ttl_hours)

    def secret_values(self) -> list[str]:
        """Every secret this deployment holds, for the logs to redact: each `SecretStr`
        setting (bot token, HMAC key, webhook secret) and the passwords in the database
        and Bot API URLs."""
        values = [field.get_secret_value().strip() for field in vars(self).values() if isinstance(field, SecretStr)]
        for url in (self.database_url, self.telegram_api_url):
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                values += [password, unquote(password)]
        return [v for v in values if v]

    def require_token(self) -> str:
        """The bot token, or :class:`MissingSetting` naming SERENO_TELEGRAM_TOKEN."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value().strip():
            raise MissingSetting("SERENO_TELEGRAM_TOKEN is not set: put the token from @BotFather in it.")
        return self.telegram_token.get_secret_value().strip()

    def require_webhook_secret(self) -> str:
        """The webhook's secret token, or :class:`MissingSetting` naming SERENO_WEBHOOK_SECRET."""
        value = self.webhook_secret.get_secret_value().strip() if self.webhook_secret else ""
        if not value:
            raise MissingSetting(
                "SERENO_WEBHOOK_SECRET is not set: webhook mode needs a secret token (1-256 characters A-Z, a-z, 0-9, _ and -)."
            )
        if not all(c.isascii() and (c.isalnum() or c in "_-") for c in value) or len(value) > 256:
            raise MissingSetting("SERENO_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - (at most 256).")
        return value

    def require_hmac_key(self) -> bytes:
        """The pseudonym key, or :class:`MissingSetting` naming SERENO_HMAC_KEY."""
        value = self.hmac_key.get_secret_value().strip() if self.hmac_key else ""
        if not value:
            raise MissingSetting(
                "SERENO_HMAC_KEY is not set: generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        if len(value) < 32:
            raise MissingSetting("SERENO_HMAC_KEY is too short: use at least 32 characters.")
        return value.encode()

    def optional_hmac_key(self) -> bytes | None:
        """The HMAC key when set (checked as :meth:`require_hmac_key` does), else None: for
        commands that only need it to seal or open reporter contacts, if there are any."""
        return self.require_hmac_key() if self.hmac_key and self.hmac_key.get_secret_value().strip() else None

    @field_validator("resources_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def load_resources(self) -> Resources:
        """The legal hotlines and legal-aid organisations: SERENO_RESOURCES_FILE when set, with
        SERENO_HOTLINE/SERENO_HOTLINE_NAME as the region-wide hotline when the file has none.
        Raises :class:`MissingSetting` naming the variable, the file and the problem."""
        number = self.hotline.strip()
        fallback = Hotline(number, self.hotline_name.strip()) if number else None
        if self.resources_file is None:
            return Resources(hotline=fallback)
        try:
            return load_resources(self.resources_file, fallback)
        except ResourcesError as exc:
            raise MissingSetting(f"SERENO_RESOURCES_FILE: {exc}") from None
