"""Real pictures for tests that keep photos (the intake re-encodes whatever it is given)."""

from __future__ import annotations

import io

from PIL import Image


def tiny_jpeg(width: int = 4, height: int = 3, colour: str = "red") -> bytes:
    """A small, valid JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()
