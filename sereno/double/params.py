"""Request parameters as the double reads them: query string, JSON body or multipart form.

:func:`read_params` merges them into one dict, decoding the values PTB JSON-encodes
(ints, bools, lists, dicts) and resolving ``attach://`` references to the uploaded
:class:`~sereno.double.files.UploadedFile`. :func:`as_int` and :func:`as_float` convert
a parameter or raise Telegram's "invalid … specified".
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web

from sereno.double.errors import bad_request
from sereno.double.files import UploadedFile

__all__ = ["as_float", "as_int", "decode_value", "read_params"]

JSONDict = dict[str, Any]

# Parameters whose form value is always a plain string, never JSON. Everything else
# PTB JSON-encodes (ints, bools, lists, dicts), so it is decoded with ``json.loads``.
_STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "action",
        "file_id",
        "photo",
        "document",
        "thumbnail",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
        "language_code",
        "emoji",
        "sticker",
        "title",
        "description",
        "short_description",
        "name",
        "query",
        "address",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
    }
)


def as_int(value: Any, name: str) -> int:
    """``value`` as an int (bools refused), or the 400 "invalid {name} specified"."""
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError as exc:
        raise bad_request(f"invalid {name} specified") from exc


def as_float(value: Any, name: str) -> float:
    """``value`` as a float, or the 400 "invalid {name} specified"."""
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"invalid {name} specified") from exc


def decode_value(key: str, value: Any) -> Any:
    """Decode a parameter PTB JSON-encoded (non-strings); plain-string params stay as is."""
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> JSONDict:
    """Merge query-string and body parameters, decoding PTB's JSON-encoded values."""
    params: JSONDict = {k: decode_value(k, v) for k, v in request.query.items()}
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            payload = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request parameters") from exc
        if isinstance(payload, dict):
            for key, value in payload.items():
                looks_json = isinstance(value, str) and value[:1] in ("{", "[")
                params[key] = decode_value(key, value) if looks_json else value
        return params
    form = await request.post()
    uploads: dict[str, UploadedFile] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            upload = UploadedFile(key, value.filename, value.content_type, value.file.read())
            uploads[key] = upload
            params[key] = upload
        elif isinstance(value, bytes):
            params[key] = decode_value(key, value.decode("utf-8", "replace"))
        else:
            params[key] = decode_value(key, value)
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            target = uploads.get(value[len("attach://") :])
            if target is not None:
                params[key] = target
    return params
