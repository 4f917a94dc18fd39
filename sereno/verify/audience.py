"""Who public alerts reach: subscribers (a chat, a language, some neighborhoods — no link to
reports) and neighborhood channels, with the pending commands that link them.

The rules are :mod:`sereno.verify.subscriptions`' and :mod:`sereno.verify.channels`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A chat that receives alerts; `active` turns false when the person blocked the bot."""

    chat_id: int
    language: str
    active: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class ChannelLink:
    """A neighborhood's channel. `problem` is set when the broadcaster could not post."""

    neighborhood_id: str
    chat_id: int
    title: str
    language: str
    linked_at: datetime
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class LinkToken:
    """A pending link command as stored: the hash of its token, never the token. `chat_id`
    is the chat it was first posted in; `used_at` is set once it linked that chat."""

    token_hash: str
    neighborhood_id: str
    admin_id: int
    created_at: datetime
    expires_at: datetime
    chat_id: int | None = None
    used_at: datetime | None = None
