"""Photos are stripped by the domain: whatever bytes reach `IntakeService.keep_photo`, what
is stored has no EXIF (no GPS, no device) — the Pillow adapter behind the domain's
`ImageSanitizer` port re-encodes the pixels alone."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from sereno.storage.images import MAX_PIXELS, PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.intake import IntakeService
from sereno.verify.pseudonyms import Pseudonymizer
from tests.fakes import MemoryUnitOfWorkFactory

KEY = b"unit-test-key-0123456789abcdef"


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG whose EXIF names the camera and where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "ReporterPhone"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (34.0, 3.0, 14.0),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (118.0, 15.0, 0.0),
        }
    )
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, format="JPEG", exif=exif)
    return out.getvalue()


def make_service() -> tuple[IntakeService, MemoryUnitOfWorkFactory]:
    uow = MemoryUnitOfWorkFactory()
    return IntakeService(uow, ManualClock(), Pseudonymizer(KEY), images=PillowImageSanitizer()), uow


def test_the_test_photo_really_carries_gps_exif() -> None:
    photo = Image.open(io.BytesIO(jpeg_with_gps()))
    assert photo.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"


async def test_a_photo_with_gps_exif_is_stored_without_any_exif() -> None:
    service, uow = make_service()
    media = await service.keep_photo("draft-1", jpeg_with_gps())
    stored = uow.store.media[media.id].content
    assert b"Exif" not in stored and b"ReporterPhone" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert (image.width, image.height) == (64, 48) == (media.width, media.height)
    assert media.mime_type == "image/jpeg"


async def test_bytes_that_are_not_a_picture_are_refused_and_nothing_is_stored() -> None:
    service, uow = make_service()
    with pytest.raises(Refusal) as refused:
        await service.keep_photo("draft-1", b"%PDF-1.7 not a picture")
    assert refused.value.reason is RefusalReason.NOT_AN_IMAGE
    assert uow.store.media == {}


async def test_a_picture_stated_too_large_is_refused_before_it_is_decoded() -> None:
    service, uow = make_service()
    with pytest.raises(Refusal) as refused:
        await service.keep_photo("draft-1", b"never decoded", stated_pixels=MAX_PIXELS + 1)
    assert refused.value.reason is RefusalReason.TOO_MANY_PIXELS and refused.value.limit == MAX_PIXELS
    assert uow.store.media == {}


async def test_a_small_file_whose_header_states_too_many_pixels_is_refused() -> None:
    service, uow = make_service()
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")  # 48 megapixels, a few kilobytes
    with pytest.raises(Refusal) as refused:
        await service.keep_photo("draft-1", out.getvalue())
    assert refused.value.reason is RefusalReason.TOO_MANY_PIXELS
    assert uow.store.media == {}


def test_a_photo_size_stated_over_the_limit_is_refused_before_anything_is_fetched() -> None:
    service, _ = make_service()
    service.check_photo_size(MAX_PIXELS)  # at the limit: fine
    with pytest.raises(Refusal) as refused:
        service.check_photo_size(13_370 * 13_370)
    assert refused.value.reason is RefusalReason.TOO_MANY_PIXELS
