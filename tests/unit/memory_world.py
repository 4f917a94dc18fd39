"""The alert side of Sereno over the in-memory unit of work: the demo region's
neighborhoods, two verifiers, a coordinator, a trainee, and every service wired as the
composition root wires them (the desk's decision hooks call the publisher and training)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.alerts import Alert, AlertKind, AlertPolicy, OutboxMessage
from sereno.verify.channels import ChannelService
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.drills import CertificationBar
from sereno.verify.incidents import Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.outbox import OutboxService
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.publishing import AlertService, Publisher
from sereno.verify.roster import RosterService
from sereno.verify.subscriptions import SubscriptionService
from sereno.verify.training import TrainingService
from tests.fakes import MemoryUnitOfWorkFactory

DEMO_REGION = Path(__file__).resolve().parents[2] / "sereno" / "data" / "demo_region.geojson"
KEY = b"unit-test-key-0123456789abcdef"
ANA, BEN, COORD, TRAINEE = 10, 11, 12, 20
HARBOR = GeoPoint(34.0387, -118.2799)  # in "harbor-view", adjacent to las-palmas, mission-flats and northgate
OLD_MILL = GeoPoint(34.0574, -118.2130)  # in "old-mill", not adjacent to harbor-view


class MemoryWorld:
    """Services over one in-memory store (build it with :meth:`create`)."""

    def __init__(self, policy: AlertPolicy, bar: CertificationBar) -> None:
        self.uow = MemoryUnitOfWorkFactory()
        self.clock = ManualClock()
        self.gazetteer = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
        self.publisher = Publisher(policy, self.gazetteer.adjacent)
        pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, pseudonymize, IntakePolicy(max_reports=10_000), images=PillowImageSanitizer()
        )
        self.training = TrainingService(self.uow, self.clock, bar, pseudonymize)
        self.desk = DeskService(
            self.uow,
            self.clock,
            pseudonymize=pseudonymize,
            on_decided=self.publisher.on_decided,
            on_drill_decided=self.training.on_decided,
        )
        self.alerts = AlertService(self.uow, self.clock, self.publisher, pseudonymize)
        self.subscriptions = SubscriptionService(self.uow, self.clock)
        self.channels = ChannelService(self.uow, self.clock, pseudonymize)
        self.outbox = OutboxService(self.uow, self.clock)
        self._drafts = 0

    @classmethod
    async def create(cls, policy: AlertPolicy | None = None, bar: CertificationBar | None = None) -> MemoryWorld:
        world = cls(
            policy or AlertPolicy(alert_adjacent=frozenset({"harbor-view"})),
            bar or CertificationBar(2, 0.5, timedelta(minutes=10)),
        )
        async with world.uow() as uow:
            await uow.neighborhoods.replace_all(list(world.gazetteer.neighborhoods))
            await uow.commit()
        for user, role in ((ANA, Role.VERIFIER), (BEN, Role.VERIFIER), (COORD, Role.COORDINATOR), (TRAINEE, Role.TRAINEE)):
            await world.roster.redeem((await world.roster.invite(None, role)).code, user, str(user))
        return world

    async def incident(self, reports: int = 1, point: GeoPoint = HARBOR, activity: Activity = Activity.PRESENCE) -> str:
        """An incident of `reports` reports by different people at `point`."""
        incident_id = ""
        for n in range(reports):
            self._drafts += 1
            where = self.gazetteer.locate(point.lat, point.lon)
            draft = ReportDraft(
                f"{self._drafts:032x}", activity=activity, point=point, neighborhood_id=where.id if where else None
            )
            submitted = await self.intake.submit(draft, 100 + n, 100 + n, "en")
            assert submitted.incident is not None
            incident_id = submitted.incident.id
        return incident_id

    async def decide(self, incident_id: str, verdict: Verdict, people: tuple[int, ...] = (ANA, BEN)) -> Outcome:
        """Each of `people` claims the incident and gives `verdict`; the last outcome."""
        outcome = Outcome.RECORDED
        for person in people:
            await self.desk.claim(person, incident_id)
            outcome = (await self.desk.decide(person, incident_id, verdict, "checked")).outcome
        return outcome

    async def alert_for(self, incident_id: str, kind: AlertKind = AlertKind.ALERT) -> Alert | None:
        async with self.uow() as uow:
            return await uow.alerts.for_incident(incident_id, kind)

    async def messages(self, alert_id: str) -> list[OutboxMessage]:
        """The alert's outbox messages, oldest first."""
        async with self.uow() as uow:
            return await uow.outbox.for_alert(alert_id)
