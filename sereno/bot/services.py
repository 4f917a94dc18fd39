"""What handlers may call: the domain services and read-only deployment facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sereno.bot.metrics import Metrics
from sereno.config import Settings
from sereno.verify.channels import ChannelService
from sereno.verify.desk import DeskService
from sereno.verify.dispatch_service import DispatchService
from sereno.verify.export_service import ExportService
from sereno.verify.intake import IntakeService
from sereno.verify.outbox import OutboxService
from sereno.verify.places import PlaceResolver
from sereno.verify.ports import Clock
from sereno.verify.publishing import AlertService
from sereno.verify.resources import Resources
from sereno.verify.retention import RetentionService
from sereno.verify.roster import RosterService
from sereno.verify.stats import StatsService
from sereno.verify.subscriptions import SubscriptionService
from sereno.verify.surge_service import SurgeService
from sereno.verify.training import TrainingService
from sereno.verify.trust_service import TrustService


@dataclass(frozen=True, slots=True)
class Services:
    """Built once by the composition root (`sereno.bootstrap`) and handed to each feature module."""

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
    dispatch: DispatchService  # sending field verifiers, and their safety check-ins
    surge: SurgeService  # floods of tips: surge state per neighborhood
    trust: TrustService  # reporters' past outcomes, as hints on the card
