"""The Bot API's error answers, as the double's method implementations raise them.

:class:`ApiError` is ``{"ok": false, "error_code": …, "description": …}``; the server
turns it into the HTTP response. :func:`bad_request` and :func:`too_many_requests` build
the two errors most checks raise (400 with Telegram's wording, 429 with ``retry_after``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "bad_request", "too_many_requests"]

JSONDict = dict[str, Any]


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": code, "description": ...}``.

    Raised inside method handlers; the dispatcher turns it into the HTTP response with
    status ``code`` and, when given, a ``parameters`` object (e.g. ``retry_after``).
    """

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """Return the JSON body Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def bad_request(detail: str) -> ApiError:
    """The 400 answer ``"Bad Request: {detail}"``."""
    return ApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """The 429 answer telling the bot to retry after ``retry_after`` seconds."""
    return ApiError(
        429,
        f"Too Many Requests: retry after {retry_after}",
        {"retry_after": retry_after},
    )
