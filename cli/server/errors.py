"""The web layer's errors: every error the API returns has an HTTP status and a stable snake_case
code (clients branch on the code; the message is for people and may change)."""

from __future__ import annotations

from starlette.responses import JSONResponse

from indexer.errors import (IndexBusyError, IndexFormatError, IndexNotFoundError, IndexWriteError,
                            InputError, ModelError, ModelMismatchError, QueryError,
                            VectorStoreError, VraagbaakError)

# The status and code of each error the layers below raise; only the API maps them.
ERROR_STATUS: dict[type[VraagbaakError], tuple[int, str]] = {
    QueryError: (400, "invalid_query"),
    InputError: (400, "invalid_input"),
    IndexBusyError: (409, "index_busy"),
    IndexNotFoundError: (503, "index_not_found"),
    IndexFormatError: (503, "index_format"),
    ModelError: (503, "model_error"),
    ModelMismatchError: (503, "model_mismatch"),
    IndexWriteError: (507, "index_write"),
    VectorStoreError: (503, "vector_store_unavailable"),
}
# An error class nobody mapped yet: a bug here, not the client's fault.
UNMAPPED = (500, "internal_error")

# The web layer's own codes for Starlette's HTTP errors (unknown path, wrong method).
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


class ApiError(VraagbaakError):
    """An error the web layer raises itself, with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status, self.code = status, code


def status_of(exc: VraagbaakError) -> tuple[int, str]:
    """The status and code for ``exc``: its own (ApiError), or its nearest mapped class's."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return UNMAPPED


def error_response(status: int, code: str, message: str, hint: str | None = None,
                   headers: dict[str, str] | None = None, close: bool = False) -> JSONResponse:
    """The one shape of every error: ``{"error": {"code", "message", "hint"}}``.

    ``close``: for an answer given before the request's body was read; the connection is closed
    after it, so the server does not go on reading (and discarding) a body nobody wants.
    """
    body = {"error": {"code": code, "message": message, "hint": hint}}
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if close:
        headers["Connection"] = "close"
    return JSONResponse(body, status_code=status, headers=headers)
