"""The error every service raises for bad input: a message the user can act on."""

from __future__ import annotations


class ServiceError(Exception):
    """Bad input or a broken rule; ``field`` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)
