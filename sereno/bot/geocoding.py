"""The optional typed-place geocoder, through geopy (none unless configured)."""

from __future__ import annotations

import logging

from geopy.adapters import AioHTTPAdapter
from geopy.exc import GeopyError
from geopy.geocoders import get_geocoder_for_service

from sereno.config import Settings
from sereno.verify.model import GeoPoint

log = logging.getLogger(__name__)


class GeopyGeocoder:
    """Implements `sereno.verify.places.Geocoder` with any geopy service, asynchronously.

    A failing or slow service counts as "not found": the reporter can still pick a
    neighborhood from the list.
    """

    def __init__(
        self, service: str, *, domain: str = "", scheme: str = "https", user_agent: str = "sereno", timeout: float = 5.0
    ) -> None:
        cls = get_geocoder_for_service(service)
        options: dict[str, object] = {
            "user_agent": user_agent,
            "timeout": timeout,
            "scheme": scheme,
            "adapter_factory": AioHTTPAdapter,
        }
        if domain:
            options["domain"] = domain
        self._geocoder = cls(**options)
        self._opened = False

    async def geocode(self, query: str) -> GeoPoint | None:
        try:
            if not self._opened:
                await self._geocoder.__aenter__()
                self._opened = True
            location = await self._geocoder.geocode(query, exactly_one=True)
        except GeopyError as exc:
            log.warning("geocoder failed: %s", type(exc).__name__)
            return None
        if location is None:
            return None
        return GeoPoint(location.latitude, location.longitude)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._opened:
            await self._geocoder.__aexit__(None, None, None)
            self._opened = False


def geocoder_from(settings: Settings) -> GeopyGeocoder | None:
    """The configured geocoder, or None (the default: typed places resolve offline only)."""
    if not settings.geocoder:
        return None
    return GeopyGeocoder(
        settings.geocoder,
        domain=settings.geocoder_domain,
        scheme=settings.geocoder_scheme,
        user_agent=settings.geocoder_user_agent,
        timeout=settings.geocoder_timeout_seconds,
    )
