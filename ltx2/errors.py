"""Errors about what the user asked for, as (field, message) pairs a UI or CLI can show one per line."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. ``problems`` lists (field path, message) pairs; str() joins them."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" if field else msg for field, msg in problems))
