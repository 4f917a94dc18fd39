"""Report vocabulary (SALUTE fields) and the report records the intake produces."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

_E = TypeVar("_E", bound=StrEnum)


class Activity(StrEnum):
    """What the reporter saw happening (the A of SALUTE)."""

    ARREST = "arrest"  # an arrest or detention in progress
    HOME_VISIT = "home_visit"  # agents at a door / home visit
    WORKPLACE = "workplace"  # workplace operation
    CHECKPOINT = "checkpoint"  # checkpoint or vehicle stop
    COURTHOUSE = "courthouse"  # courthouse arrest
    PRESENCE = "presence"  # agents present or staging
    SURVEILLANCE = "surveillance"
    OTHER = "other"


class TimeSeen(StrEnum):
    """When it happened, as the reporter said (never assumed)."""

    NOW = "now"
    RECENT = "recent"  # less than 30 minutes ago
    EARLIER_TODAY = "earlier_today"


class AgentCount(StrEnum):
    """How many agents, in bands a person can estimate at a glance."""

    NONE_SEEN = "0"
    ONE_TWO = "1-2"
    FEW = "3-5"
    MANY = "6+"
    UNSURE = "unsure"


class VehicleCount(StrEnum):
    """How many vehicles, in bands."""

    NONE_SEEN = "0"
    ONE = "1"
    FEW = "2-3"
    MANY = "4+"
    UNSURE = "unsure"


class Uniform(StrEnum):
    """Markings seen on uniforms or vests."""

    ICE = "ice"
    POLICE = "police"
    HSI = "hsi"
    CBP = "cbp"
    PLAIN_CLOTHES = "plain_clothes"
    UNKNOWN = "unknown"


class Tier(StrEnum):
    """Triage tier; urgent reports reach verifiers first."""

    URGENT = "urgent"
    HIGH = "high"
    ROUTINE = "routine"


class InvalidPoint(ValueError):
    """Coordinates that are no place on Earth (latitude beyond ±90°, longitude beyond ±180°,
    NaN or infinity, or a negative or non-finite accuracy)."""


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 point with the accuracy the device reported, in metres. Raises
    :class:`InvalidPoint` for coordinates that are no place on Earth."""

    lat: float
    lon: float
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and math.isfinite(self.lon) and -90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise InvalidPoint(f"no such place: {self.lat}, {self.lon}")
        if self.accuracy_m is not None and not (math.isfinite(self.accuracy_m) and self.accuracy_m >= 0):
            raise InvalidPoint(f"no such accuracy: {self.accuracy_m}")

    @classmethod
    def kept(cls, lat: float | None, lon: float | None, accuracy_m: float | None = None) -> GeoPoint | None:
        """A point read back (a stored row, a kept draft): None when there is none, or when it
        is no place on Earth (kept before coordinates were checked)."""
        if lat is None or lon is None:
            return None
        try:
            return cls(lat, lon, accuracy_m)
        except InvalidPoint:
            return None


@dataclass(slots=True)
class ReportDraft:
    """A report being composed in a conversation; every field may stay empty."""

    draft_id: str
    activity: Activity | None = None
    time_seen: TimeSeen | None = None
    agents: AgentCount | None = None
    vehicles: VehicleCount | None = None
    uniform: Uniform | None = None
    details: str | None = None
    point: GeoPoint | None = None
    place_text: str | None = None
    neighborhood_id: str | None = None
    outside_region: bool = False
    photos: int = 0

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict (used to keep the draft across restarts)."""
        out: dict[str, object] = {
            "draft_id": self.draft_id,
            "activity": self.activity,
            "time_seen": self.time_seen,
            "agents": self.agents,
            "vehicles": self.vehicles,
            "uniform": self.uniform,
            "details": self.details,
            "place_text": self.place_text,
            "neighborhood_id": self.neighborhood_id,
            "outside_region": self.outside_region,
            "photos": self.photos,
        }
        if self.point is not None:
            out["point"] = [self.point.lat, self.point.lon, self.point.accuracy_m]
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ReportDraft:
        """Rebuild a draft from :meth:`to_dict` output; unknown values are dropped."""

        def pick(enum: type[_E], key: str) -> _E | None:
            raw = data.get(key)
            if not isinstance(raw, str):
                return None
            try:
                return enum(raw)
            except ValueError:
                return None

        point = data.get("point")
        geo = None
        if isinstance(point, (list, tuple)) and len(point) == 3:
            lat, lon, acc = point
            geo = GeoPoint.kept(float(lat), float(lon), None if acc is None else float(acc))
        return cls(
            draft_id=str(data["draft_id"]),
            activity=pick(Activity, "activity"),
            time_seen=pick(TimeSeen, "time_seen"),
            agents=pick(AgentCount, "agents"),
            vehicles=pick(VehicleCount, "vehicles"),
            uniform=pick(Uniform, "uniform"),
            details=_opt_str(data.get("details")),
            point=geo,
            place_text=_opt_str(data.get("place_text")),
            neighborhood_id=_opt_str(data.get("neighborhood_id")),
            outside_region=bool(data.get("outside_region", False)),
            photos=int(data.get("photos", 0) or 0),  # type: ignore[call-overload]
        )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Report:
    """A submitted report. `reporter` is a keyed pseudonym, never a Telegram id."""

    id: str
    ref_code: str
    draft_id: str
    reporter: str
    language: str
    tier: Tier
    created_at: datetime
    activity: Activity | None = None
    time_seen: TimeSeen | None = None
    agents: AgentCount | None = None
    vehicles: VehicleCount | None = None
    uniform: Uniform | None = None
    details: str | None = None
    point: GeoPoint | None = None
    place_text: str | None = None
    neighborhood_id: str | None = None
    incident_id: str | None = None
    media_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ReportContact:
    """How to answer a reporter; kept apart from the report and short-lived."""

    report_id: str
    chat_id: int
    language: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A picture re-encoded from its pixels alone: no EXIF (GPS, device, time) or other
    metadata is left in `content`."""

    content: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class Media:
    """A photo with all metadata removed, waiting for or attached to a report."""

    id: str
    draft_id: str
    content: bytes
    mime_type: str
    width: int
    height: int
    created_at: datetime
    report_id: str | None = None
