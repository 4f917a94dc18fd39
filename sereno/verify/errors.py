"""Errors the ports raise in domain terms."""


class Conflict(Exception):
    """A write clashed with a uniqueness rule (same draft submitted twice, a reference code
    already taken); nothing of the transaction was kept."""


class Unavailable(Exception):
    """The database could not be reached, or the connection dropped mid-way: nothing of the
    transaction was kept (a commit cut short may still have landed, so a retry must be
    idempotent — intake's is, by draft). Usually passes within moments."""
