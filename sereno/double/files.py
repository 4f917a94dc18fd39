"""Files as the double keeps them: uploads received, files stored and served for download.

:class:`UploadedFile` is a multipart part of a request; :class:`StoredFile` is a file the
double keeps (with Telegram-like PhotoSizes for photos). :class:`FileStore` hands out
file ids and paths, resolves a request's ``photo``/``document`` parameter (upload, known
file_id or HTTP URL) and finds files by id (``getFile``) or path (downloads).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from typing import Any

from sereno.double.errors import bad_request

__all__ = ["FileStore", "StoredFile", "UploadedFile"]

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a ``multipart/form-data`` request, as recorded in :attr:`Call.params`."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(eq=False)
class StoredFile:
    """A file kept by the double; downloadable at ``{api_url}/file/bot{token}/{file_path}``.

    ``data`` is ``None`` for files only known by URL (``sendPhoto`` with an HTTP URL);
    those have no ``file_size`` and their download answers 404. For photos,
    ``photo_sizes`` holds the PhotoSize objects (increasing size, all pointing at this
    file's bytes) and ``file_id`` is the id of the largest one.
    """

    file_id: str
    file_unique_id: str
    file_path: str
    kind: str
    data: bytes | None = field(repr=False)
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    photo_sizes: list[JSONDict] = field(default_factory=list, repr=False)
    source_url: str | None = None

    @property
    def file_size(self) -> int | None:
        """Size of the stored bytes, or ``None`` when the content is unknown."""
        return None if self.data is None else len(self.data)

    @property
    def file_ids(self) -> list[str]:
        """Every file_id that resolves to this file (one per photo size, or just one)."""
        if self.photo_sizes:
            return [size["file_id"] for size in self.photo_sizes]
        return [self.file_id]

    def to_file(self, file_id: str | None = None) -> JSONDict:
        """The Telegram ``File`` object ``getFile`` returns for ``file_id``."""
        result: JSONDict = {
            "file_id": file_id or self.file_id,
            "file_unique_id": self.file_unique_id,
        }
        if self.file_size is not None:
            result["file_size"] = self.file_size
        result["file_path"] = self.file_path
        return result

    def to_document(self) -> JSONDict:
        """The Telegram ``Document`` object describing this file."""
        result: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            result["file_name"] = self.file_name
        if self.mime_type:
            result["mime_type"] = self.mime_type
        if self.file_size is not None:
            result["file_size"] = self.file_size
        return result


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or ``None`` when Pillow cannot identify it."""
    try:
        from PIL import Image, UnidentifiedImageError  # imported lazily: only photos need it
    except ImportError:  # pragma: no cover - Pillow is a project dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _photo_dimensions(width: int, height: int) -> list[tuple[int, int]]:
    """Telegram-like PhotoSize dimensions: thumbnails of 90/320/800 px, then the photo."""
    longest = max(width, height, 1)
    sizes: list[tuple[int, int]] = []
    for box in (90, 320, 800):
        if longest > box:
            scale = box / longest
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    scale = min(1.0, 2560 / longest)
    sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes


class FileStore:
    """The files the double knows, by every file_id (one per photo size) and by path."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)

    def get(self, file_id: str) -> StoredFile | None:
        """The file ``file_id`` resolves to, if any."""
        return self._files.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """The file downloadable at ``file_path``, if any."""
        return self._files_by_path.get(file_path)

    def add(
        self,
        data: bytes,
        *,
        kind: str,
        file_name: str | None,
        mime_type: str | None,
    ) -> StoredFile:
        """Store ``data`` as a file of ``kind``; photos of unreadable bytes are 800x600."""
        if kind == "photo":
            return self._store_photo(data, strict=False)
        return self._store_file(data, kind=kind, file_name=file_name, mime_type=mime_type)

    def _store_file(
        self,
        data: bytes | None,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        source_url: str | None = None,
    ) -> StoredFile:
        """Store a non-photo file (``data`` is ``None`` for one known only by URL)."""
        number = next(self._file_counter)
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, "documents")
        stored = StoredFile(
            file_id=f"BQACAgEAAxkBAAI{number:08d}",
            file_unique_id=f"AgAD{number:08d}",
            file_path=f"{folder}/file_{number}{extension}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            source_url=source_url,
        )
        self._register(stored)
        return stored

    def _store_photo(self, data: bytes | None, *, strict: bool, source_url: str | None = None) -> StoredFile:
        """Store a photo with its PhotoSizes; with ``strict``, unreadable bytes are a 400."""
        size = _image_size(data) if data is not None else None
        if size is None:
            if strict and data is not None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            size = (800, 600)
        number = next(self._file_counter)
        unique = f"AQAD{number:08d}"
        sizes: list[JSONDict] = []
        for index, (width, height) in enumerate(_photo_dimensions(*size)):
            entry: JSONDict = {
                "file_id": f"AgACAgEAAxkBAAI{number:08d}{chr(ord('a') + index)}",
                "file_unique_id": unique,
                "width": width,
                "height": height,
            }
            if data is not None:
                entry["file_size"] = len(data)
            sizes.append(entry)
        stored = StoredFile(
            file_id=sizes[-1]["file_id"],
            file_unique_id=unique,
            file_path=f"photos/file_{number}.jpg",
            kind="photo",
            data=data,
            mime_type="image/jpeg",
            width=size[0],
            height=size[1],
            photo_sizes=sizes,
            source_url=source_url,
        )
        self._register(stored)
        return stored

    def _register(self, stored: StoredFile) -> None:
        """Make ``stored`` findable by each of its file ids and by its path."""
        for file_id in stored.file_ids:
            self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored

    def input_file(self, params: JSONDict, key: str, kind: str) -> StoredFile:
        """Resolve the ``photo``/``document`` parameter: upload, known file_id or URL."""
        value = params.get(key)
        if value is None or value == "":
            raise bad_request(f"there is no {key} in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad_request("file must be non-empty")
            if kind == "photo":
                return self._store_photo(value.data, strict=True)
            return self._store_file(
                value.data,
                kind=kind,
                file_name=value.filename,
                mime_type=value.content_type or "application/octet-stream",
            )
        reference = str(value)
        known = self._files.get(reference)
        if known is not None:
            if kind == "photo" and known.kind != "photo":
                raise bad_request("can't use file of type Document as Photo")
            return known
        if reference.startswith(("http://", "https://")):
            if kind == "photo":
                return self._store_photo(None, strict=False, source_url=reference)
            name = reference.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self._store_file(None, kind=kind, file_name=name, source_url=reference)
        raise bad_request("wrong file identifier/HTTP URL specified")
