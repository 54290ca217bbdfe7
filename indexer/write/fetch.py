"""Bounded HTTP GETs for `vraagbaak follow`: feeds and article pages, nothing else.

Only http and https, redirects included (a feed may not send the reader to a ``file:`` URL);
no proxy from the environment (the library reads no setting from it); a timeout per read and a
deadline for the whole response; a cap on the bytes read, checked while reading, so a server that
sends without end costs at most the cap. Every failure is a ``FetchError`` whose message names the
URL and says what went wrong.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from urllib.parse import urlsplit

from indexer.errors import InputError

USER_AGENT = "vraagbaak-follow/0.1 (+https://github.com/; a feed reader for a search index)"
TIMEOUT = 10.0  # seconds per connect and per read
DEADLINE = 30.0  # seconds for the whole response
MAX_REDIRECTS = 5
_READ = 64 * 1024
SCHEMES = ("http", "https")


class FetchError(InputError):
    """A URL that could not be read; the message is a whole sentence naming it."""


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified: ``body`` is empty)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


def is_web_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in SCHEMES and bool(urlsplit(text).netloc)


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not is_web_url(newurl):
            raise FetchError(f"{req.full_url} redirects to {newurl[:200]!r}, which is not an "
                             "http or https URL; it is not followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# No ProxyHandler from the environment, no file: or ftp: handlers: only what is named here.
_OPENER = urllib.request.OpenerDirector()
for _handler in (urllib.request.ProxyHandler({}), urllib.request.HTTPHandler(),
                 urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(),
                 _Redirects(), urllib.request.HTTPErrorProcessor()):
    _OPENER.add_handler(_handler)


def get(url: str, max_bytes: int, headers: dict[str, str] | None = None,
        what: str = "the page") -> Response:
    """GET ``url``; a 304 (when ``headers`` ask conditionally) is returned, not raised."""
    if not is_web_url(url):
        raise FetchError(f"{what} {url[:200]!r} is not an http or https URL; it is not fetched")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as answer:
            body = _read_bounded(answer, url, max_bytes, what, started + DEADLINE)
            return Response(answer.geturl(), answer.status, body,
                            {k.lower(): v for k, v in answer.headers.items()})
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Response(url, 304, b"", {k.lower(): v for k, v in (exc.headers or {}).items()})
        target = (exc.headers or {}).get("Location")
        if 300 <= exc.code < 400 and target:  # urllib refuses redirects to file:, ftp: itself
            raise FetchError(f"{what} {url} redirects to {target[:200]!r}, which is not an http "
                             "or https URL; it is not followed") from None
        raise FetchError(f"{what} {url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, FetchError):
            raise exc.reason from None
        raise FetchError(f"{what} {url} could not be reached ({_reason(exc.reason)})") from None
    except FetchError:
        raise
    except (OSError, HTTPException, ValueError) as exc:  # timeouts, resets, bad status lines
        raise FetchError(f"{what} {url} could not be read ({_reason(exc)})") from None


def _read_bounded(answer, url: str, max_bytes: int, what: str, deadline: float) -> bytes:
    declared = answer.headers.get("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{what} {url} is {int(declared):,} bytes, more than the "
                         f"{max_bytes:,} that are read; it is skipped")
    parts, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(f"{what} {url} took longer than {DEADLINE:.0f} s to arrive; it is "
                             "skipped")
        part = answer.read1(_READ) if hasattr(answer, "read1") else answer.read(_READ)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > max_bytes:
            raise FetchError(f"{what} {url} is more than the {max_bytes:,} bytes that are read; "
                             "it is skipped")
        parts.append(part)


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return f"no answer within {TIMEOUT:.0f} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
