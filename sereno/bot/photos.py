"""Taking a photo someone sent: checked before the download, downloaded, and kept as the
intake keeps photos (re-encoded from its pixels: no EXIF, GPS or other hidden detail)."""

from __future__ import annotations

import logging
from enum import StrEnum

from telegram import Message
from telegram.error import TelegramError

from sereno.verify.intake import IntakeService
from sereno.verify.model import Media

log = logging.getLogger(__name__)

#: Largest photo accepted for download.
MAX_PHOTO_BYTES = 10 * 1024 * 1024


class PhotoProblem(StrEnum):
    """Why a photo was not kept (the caller words it for its step)."""

    TOO_LARGE = "too_large"  # over MAX_PHOTO_BYTES, or not a photo or image file at all
    NOT_DOWNLOADED = "not_downloaded"  # Telegram did not hand it over; worth another try


async def keep_sent_photo(message: Message, intake: IntakeService, draft_id: str) -> Media | PhotoProblem:
    """Keep the photo (or image file) of `message` for `draft_id`. Refused before the
    download when the file is over 10 MB or Telegram states it is over the pixel limit
    (:class:`~sereno.verify.errors.Refusal`, as the intake's other refusals: TOO_MANY_PIXELS,
    NOT_AN_IMAGE)."""
    attachment = message.photo[-1] if message.photo else message.document
    if attachment is None or (attachment.file_size or 0) > MAX_PHOTO_BYTES:
        return PhotoProblem.TOO_LARGE
    # Telegram states a photo's size (checked before the download); a document's header is
    # checked before decoding
    stated = attachment.width * attachment.height if message.photo else None  # type: ignore[union-attr]
    if stated is not None:
        intake.check_photo_size(stated)
    try:
        file = await attachment.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError:
        log.warning("photo download failed", exc_info=True)
        return PhotoProblem.NOT_DOWNLOADED
    return await intake.keep_photo(draft_id, data, stated)
