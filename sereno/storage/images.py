"""Photos are re-encoded from their pixels alone, so no EXIF, GPS or other metadata survives."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: Longest side kept; larger photos are scaled down (verifiers need no more).
MAX_SIDE = 2048
#: Most pixels a picture may have to be decoded at all: 40 megapixels take ~120 MB as RGB.
#: A small file can state far more (a 695 KB PNG of 13,370 × 13,370 took 2.3 GiB).
MAX_PIXELS = 40_000_000


class NotAnImage(ValueError):
    """The bytes are not a picture Pillow can read."""


class TooManyPixels(ValueError):
    """The picture has more than :data:`MAX_PIXELS`; it was not decoded."""


def check_pixels(width: int, height: int) -> None:
    """Raise :class:`TooManyPixels` when a picture of this size must not be decoded."""
    if width * height > MAX_PIXELS:
        raise TooManyPixels(f"{width} x {height} pixels is more than {MAX_PIXELS:,}")


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A JPEG with no metadata."""

    content: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"


def strip_metadata(data: bytes) -> CleanImage:
    """Decode, apply the EXIF orientation to the pixels, then write a fresh JPEG from the
    pixels only: EXIF (GPS, device, time), XMP, IPTC, ICC and comments are all dropped.
    The size the header states is checked before any pixel is decoded (:class:`TooManyPixels`)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            check_pixels(img.width, img.height)
            img.load()
            upright = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher, limit
        raise TooManyPixels(str(exc)) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise NotAnImage(str(exc)) from None
    pixels = upright.convert("RGB")
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return CleanImage(out.getvalue(), clean.width, clean.height)
