"""Hostile HTTP against a real uvicorn server on 127.0.0.1: bodies sent chunked past the limits or
with a wrong key, Host headers of another site (DNS rebinding), ids with "..", connections held
open (GET /mcp, headers sent slowly); and the error codes, content types and field types of the
API (TestClient). Every wait is bounded: the sockets time out, the loops count."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer import errors as domain_errors
from indexer.chunking import ParagraphChunker
from indexer.index_dir import IndexDirectory
from indexer.pipeline import load_for_index, update_index
from search.searcher import Searcher
from search.web.app import create_app
from search.web.settings import ServerSettings
from tests.fakes import FakeEmbedder
from tests.server import free_port, running

KEY = "hardening-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MiB = 1024 * 1024


def settings(tmp_path, **kw) -> ServerSettings:
    return ServerSettings(index_dir=tmp_path / "idx", **kw)


# --- raw HTTP over a socket: httpx would fix what these tests send on purpose ----------------

def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _read_all(sock: socket.socket, deadline: float) -> bytes:
    """What the server sent until it closed, or until the deadline."""
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            part = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not part:
            break
        data += part
        if _complete(data):
            break
    return data


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def parse(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def raw_request(url: str, request: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    with socket.create_connection(_address(url), timeout=timeout) as sock:
        sock.sendall(request)
        return parse(_read_all(sock, time.monotonic() + timeout))


def send_chunked(url: str, head: str, total: int, chunk: int = 16 * 1024,
                 timeout: float = 20) -> tuple[int, bytes]:
    """Send a chunked body of up to ``total`` bytes, and stop as soon as an answer is readable.
    Returns the bytes of body sent, and the answer."""
    frame = b"%x\r\n" % chunk + b"x" * chunk + b"\r\n"
    deadline = time.monotonic() + timeout
    with socket.create_connection(_address(url), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        sent = 0
        while sent < total and time.monotonic() < deadline:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered: stop sending
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break  # it closed the connection (after answering, read below)
            sent += chunk
        else:
            if sent >= total:
                sock.sendall(b"0\r\n\r\n")
        return sent, _read_all(sock, deadline)


def _head(url: str, method: str, path: str, *lines: str) -> str:
    host = url.removeprefix("http://")
    return "".join([f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n",
                    "Content-Type: application/json\r\n", *(f"{l}\r\n" for l in lines)])


def _error_code(body: bytes) -> str:
    return json.loads(body)["error"]["code"]


# --- 11. error codes, content types, field types, /docs -------------------------------------

@pytest.fixture
def client(fake_searcher, tmp_path):
    with TestClient(create_app(settings(tmp_path), fake_searcher)) as c:
        yield c


DOMAIN_ERRORS = [cls for cls in vars(domain_errors).values()
                 if isinstance(cls, type) and issubclass(cls, domain_errors.VraagbaakError)
                 and cls is not domain_errors.VraagbaakError]


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_every_domain_error_has_a_snake_case_code(client, monkeypatch, cls):
    from search.web.errors import ERROR_STATUS

    def fail(*_a, **_k):
        raise cls("it went wrong", hint="do this")

    monkeypatch.setattr("search.web.app.run_search", fail)
    response = client.post("/search", json={"q": "Poetin"})
    status, code = ERROR_STATUS[cls]
    assert response.status_code == status
    error = response.json()["error"]
    assert error == {"code": code, "message": "it went wrong", "hint": "do this"}
    assert code.isascii() and code == code.lower() and " " not in code and "error" != code


def test_the_codes_are_the_documented_ones():
    from search.web.errors import ERROR_STATUS

    assert {cls.__name__: code for cls, (_, code) in ERROR_STATUS.items()} == {
        "QueryError": "invalid_query", "InputError": "invalid_input",
        "IndexBusyError": "index_busy", "IndexNotFoundError": "index_not_found",
        "IndexFormatError": "index_format", "ModelError": "model_error",
        "ModelMismatchError": "model_mismatch", "IndexWriteError": "index_write"}


