"""The image sanitizer (`sereno.verify.ports.ImageSanitizer`) with Pillow: photos are
re-encoded from their pixels alone, so no EXIF, GPS or other metadata survives."""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageOps, UnidentifiedImageError

from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.model import CleanImage

#: Longest side kept; larger photos are scaled down (verifiers need no more).
MAX_SIDE = 2048
#: Most pixels a picture may have to be decoded at all: 40 megapixels take ~120 MB as RGB.
#: A small file can state far more (a 695 KB PNG of 13,370 × 13,370 took 2.3 GiB).
MAX_PIXELS = 40_000_000


def check_pixels(pixels: int) -> None:
    """Refuse (TOO_MANY_PIXELS) a picture of this many pixels: it must not be decoded."""
    if pixels > MAX_PIXELS:
        raise Refusal(RefusalReason.TOO_MANY_PIXELS, limit=MAX_PIXELS)


def strip_metadata(data: bytes) -> CleanImage:
    """Decode, apply the EXIF orientation to the pixels, then write a fresh JPEG from the
    pixels only: EXIF (GPS, device, time), XMP, IPTC, ICC and comments are all dropped.
    The size the header states is checked before any pixel is decoded (TOO_MANY_PIXELS);
    bytes Pillow cannot read are refused as NOT_AN_IMAGE."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            check_pixels(img.width * img.height)
            img.load()
            upright = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:  # Pillow's own, far higher, limit
        raise Refusal(RefusalReason.TOO_MANY_PIXELS, limit=MAX_PIXELS) from None
    except (UnidentifiedImageError, OSError):
        raise Refusal(RefusalReason.NOT_AN_IMAGE) from None
    pixels = upright.convert("RGB")
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return CleanImage(out.getvalue(), clean.width, clean.height)


class PillowImageSanitizer:
    """Checks the stated size, then strips the picture in a worker thread (decoding and
    encoding take tens of milliseconds, too long for the event loop)."""

    def check_pixels(self, pixels: int) -> None:
        check_pixels(pixels)

    async def sanitize(self, data: bytes, stated_pixels: int | None = None) -> CleanImage:
        if stated_pixels is not None:
            check_pixels(stated_pixels)
        return await asyncio.to_thread(strip_metadata, data)
