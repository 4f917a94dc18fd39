"""What handlers may call: the domain services and read-only deployment facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.metrics import Metrics
from sereno.settings import Settings
from verify.channels import ChannelService
from verify.desk import DeskService
from verify.export_service import ExportService
from verify.intake import IntakeService
from verify.outbox import OutboxService
from verify.places import PlaceResolver
from verify.ports import Clock
from verify.publishing import AlertService
from verify.resources import Resources
from verify.retention import RetentionService
from verify.roster import RosterService
from verify.stats import StatsService
from verify.subscriptions import SubscriptionService
from verify.training import TrainingService


@dataclass(frozen=True, slots=True)
class Services:
    """Built once by the composition root (`bot.app`) and handed to each feature module."""

    settings: Settings
    clock: Clock
    intake: IntakeService
    places: PlaceResolver
    retention: RetentionService
    roster: RosterService
    desk: DeskService
    resources: Resources  # legal hotlines and legal aid, region-wide and per neighborhood
    alerts: AlertService
    subscriptions: SubscriptionService
    channels: ChannelService
    outbox: OutboxService
    #: Tell the broadcaster that messages were queued (it also polls the outbox).
    broadcast_queued: Callable[[], None]
    metrics: Metrics
    stats: StatsService
    exports: ExportService
    training: TrainingService
