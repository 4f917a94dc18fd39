"""Errors the ports raise in domain terms."""


class Conflict(Exception):
    """A write clashed with a uniqueness rule (same draft submitted twice, a reference code
    already taken); nothing of the transaction was kept."""
