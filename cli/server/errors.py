"""The web layer's own error: an HTTP status and a stable code with the message."""

from __future__ import annotations

from indexer.errors import VraagbaakError


class ApiError(VraagbaakError):
    """An error the web layer raises itself, with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status, self.code = status, code
