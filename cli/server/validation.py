"""A request FastAPI could not validate, as one error that says where and what."""

from __future__ import annotations

import email.message

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from cli.server.errors import error_response

JSON_HINT = "send a JSON object with the header 'Content-Type: application/json'"


def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """415 for a body that is not declared JSON (FastAPI does not parse it then, and pydantic's
    complaint about the raw bytes would mislead); otherwise 422 naming the first bad field, and
    for an item of a list, its index and id ("queries[1] (id 'b').q")."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = tuple(first.get("loc", ()))
    content_type = request.headers.get("content-type")
    if loc == ("body",) and first.get("type") == "missing":
        return error_response(422, "invalid_request", "the request has no body", hint=JSON_HINT)
    if loc[:1] == ("body",) and not is_json(content_type) and request.method == "POST":
        said = f"it was sent as {content_type!r}" if content_type else "it had no Content-Type"
        return error_response(415, "unsupported_media_type",
                              f"the request body must be JSON; {said}", hint=JSON_HINT)
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    where = field_path(loc, getattr(exc, "body", None))
    return error_response(422, "invalid_request", f"{where}: {message}" if where else message,
                          hint="see /openapi.json (or /docs) for the accepted fields and limits")


def is_json(content_type: str | None) -> bool:
    """application/json or application/<anything>+json, as FastAPI decides whether to parse."""
    if not content_type:
        return False
    header = email.message.Message()
    header["content-type"] = content_type
    subtype = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def field_path(loc: tuple, body) -> str:
    """("body", "queries", 1, "q") -> "queries[1] (id 'b').q", with the id from the body."""
    parts: list[str] = []
    node = body
    for part in loc[1:] if loc[:1] in (("body",), ("query",), ("path",)) else loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            named = f" (id {node['id']!r})" if isinstance(node, dict) and "id" in node else ""
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]{named}"]
        else:
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(str(part))
    return ".".join(parts)
