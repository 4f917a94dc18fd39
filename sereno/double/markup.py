"""Reply markup as Telegram checks it: inline keyboards, reply keyboards, removal, force reply.

:func:`validate_markup` accepts a request's ``reply_markup`` or raises the 400 Telegram
answers (button data over :data:`CALLBACK_DATA_LIMIT` bytes, text-only inline buttons,
malformed rows); an empty inline keyboard means "no keyboard".
"""

from __future__ import annotations

import copy
from typing import Any, Final

from sereno.double.errors import bad_request

__all__ = ["CALLBACK_DATA_LIMIT", "validate_markup"]

JSONDict = dict[str, Any]

#: Maximum size of ``callback_data`` in UTF-8 bytes.
CALLBACK_DATA_LIMIT: Final = 64

_INLINE_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def validate_markup(markup: Any, *, inline_only: bool = False) -> JSONDict | None:
    """Check a reply_markup like Telegram (button data size, button kinds, shape)."""
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
                if not any(key in button for key in _INLINE_BUTTON_ACTIONS):
                    raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str) or not data or len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
        if not any(rows):
            return None  # an empty inline keyboard means "no keyboard"
        return copy.deepcopy(markup)
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays')
        return copy.deepcopy(markup)
    if "remove_keyboard" in markup or "force_reply" in markup:
        return copy.deepcopy(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")
