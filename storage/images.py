"""Photos are re-encoded from their pixels alone, so no EXIF, GPS or other metadata survives."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: Longest side kept; larger photos are scaled down (verifiers need no more).
MAX_SIDE = 2048


class NotAnImage(ValueError):
    """The bytes are not a picture Pillow can read."""


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A JPEG with no metadata."""

    content: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"


def strip_metadata(data: bytes) -> CleanImage:
    """Decode, apply the EXIF orientation to the pixels, then write a fresh JPEG from the
    pixels only: EXIF (GPS, device, time), XMP, IPTC, ICC and comments are all dropped."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from None
    pixels = upright.convert("RGB")
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return CleanImage(out.getvalue(), clean.width, clean.height)
