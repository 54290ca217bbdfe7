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

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer import errors as domain_errors
from indexer.write.chunking import ParagraphChunker
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import load_for_index, update_index
from search.searcher import Searcher
from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.fakes import FakeEmbedder
from tests.server import running

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


# --- 1. body limits on the bytes that arrive, and the key before the body --------------------

def test_a_chunked_search_body_over_the_limit_is_refused_before_it_is_all_sent(fake_searcher,
                                                                             tmp_path):
    with running(create_app(settings(tmp_path), fake_searcher)) as url:
        sent, answer = send_chunked(url, _head(url, "POST", "/search"), total=64 * MiB)
        status, headers, body = parse(answer)
        assert status == 413 and _error_code(body) == "body_too_large"
        assert "the limit is 262144" in json.loads(body)["error"]["message"]
        assert headers.get("connection") == "close"
        # 256 KiB is the limit; the rest of what was sent sat in socket buffers, unread
        assert sent < 16 * MiB, f"{sent} bytes went out before the answer"
        assert httpx.get(f"{url}/health").status_code == 200  # the server is fine


def test_a_wrong_key_is_refused_before_the_body_is_read(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path, api_key=KEY), fake_searcher)) as url:
        for path in ("/search", "/documents", "/mcp"):
            started = time.monotonic()
            sent, answer = send_chunked(url, _head(url, "POST", path, "Authorization: Bearer no"),
                                        total=64 * MiB, timeout=10)
            status, headers, body = parse(answer)
            assert status == 401 and _error_code(body) == "unauthorized", path
            assert headers["www-authenticate"] == "Bearer"
            assert sent < 16 * MiB and time.monotonic() - started < 10, path


def test_a_chunked_article_over_the_write_limit_is_not_stored(fake_searcher, tmp_path):
    app = create_app(settings(tmp_path, api_key=KEY, max_write_bytes=64 * 1024), fake_searcher)
    article = json.dumps({"id": "big", "text": "woord " * 40_000}).encode()  # 240 KB
    with running(app) as url:
        with socket.create_connection(_address(url), timeout=10) as sock:
            sock.sendall(_head(url, "POST", "/documents", f"Authorization: Bearer {KEY}",
                               "Transfer-Encoding: chunked").encode() + b"\r\n")
            for start in range(0, len(article), 8192):
                piece = article[start:start + 8192]
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                except (BrokenPipeError, ConnectionResetError):
                    break
            else:
                sock.sendall(b"0\r\n\r\n")
            status, _, body = parse(_read_all(sock, time.monotonic() + 10))
        assert status == 413 and _error_code(body) == "body_too_large"
        assert httpx.get(f"{url}/documents/big", headers=AUTH).status_code == 404


def test_a_chunked_mcp_body_over_the_limit_is_refused(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path), fake_searcher)) as url:
        sent, answer = send_chunked(url, _head(url, "POST", "/mcp",
                                               "Accept: application/json, text/event-stream"),
                                    total=32 * MiB)
        status, _, body = parse(answer)
        assert status == 413 and _error_code(body) == "body_too_large"
        assert sent < 16 * MiB


def test_a_body_that_stalls_is_answered_408(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path, read_timeout_s=0.5), fake_searcher)) as url:
        started = time.monotonic()
        status, _, body = raw_request(url, _head(url, "POST", "/search", "Content-Length: 100")
                                      .encode() + b'\r\n{"q": "Poe', timeout=10)
        assert status == 408 and _error_code(body) == "body_timeout"
        assert time.monotonic() - started < 5


# --- 6. DNS rebinding: the Host header on every endpoint of a loopback server ---------------

REBOUND = ["/search?q=Poetin", "/documents/001_2bed4d3526be678e", "/stats", "/health", "/",
           "/static/app.js", "/docs", "/openapi.json"]


def test_a_loopback_server_answers_only_loopback_host_names(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path), fake_searcher)) as url, \
            httpx.Client(base_url=url, timeout=10) as http:
        port = url.rsplit(":", 1)[1]
        for path in REBOUND:
            refused = http.get(path, headers={"Host": f"attacker.example:{port}"})
            assert refused.status_code == 421, path
            assert refused.json()["error"]["code"] == "untrusted_host"
            assert "attacker.example" in refused.json()["error"]["message"]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}",
                     f"LOCALHOST:{port}"):
            assert http.get("/search?q=Poetin", headers={"Host": host}).status_code == 200, host
        for host in ("127.0.0.1.attacker.example", "localhost.attacker.example", "", "a:b:c"):
            assert http.get("/stats", headers={"Host": host}).status_code in (400, 421), host


def test_allowed_hosts_extend_the_names_for_a_proxy(fake_searcher, tmp_path, monkeypatch):
    monkeypatch.setenv("VRAAGBAAK_ALLOWED_HOSTS", "search.example.org, Other.example")
    app = create_app(ServerSettings.from_env(index_dir=tmp_path / "idx"), fake_searcher)
    mcp_call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    mcp_headers = {"Accept": "application/json, text/event-stream"}
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        for host in ("search.example.org", "other.example:8443"):
            assert http.get("/stats", headers={"Host": host}).status_code == 200, host
            assert http.post("/mcp", json=mcp_call, headers=mcp_headers | {"Host": host}
                             ).status_code == 200, host
        assert http.get("/stats", headers={"Host": "attacker.example"}).status_code == 421


def test_a_server_bound_elsewhere_leaves_the_host_to_its_proxy(fake_searcher, tmp_path):
    app = create_app(settings(tmp_path, host="0.0.0.0"), fake_searcher)
    with running(app) as url:  # reached on loopback here, but configured for another address
        assert httpx.get(f"{url}/stats", headers={"Host": "search.example.org"}).status_code == 200


# --- 9. ids with ".." are ids, not paths ----------------------------------------------------

def test_ids_with_dot_segments_are_taken_literally(tmp_path):
    articles = tmp_path / "a.jsonl"
    articles.write_text("".join(json.dumps({"id": i, "text": f"Artikel {n} over iets."}) + "\n"
                                for n, i in enumerate(["2021/1", "nos/2021/1", "nos/../x/1"])))
    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([articles]))
    app = create_app(settings(tmp_path), Searcher(IndexDirectory(tmp_path / "idx"), embedder))
    with running(app) as url:
        def get(path: str):
            status, _, body = raw_request(url, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                               "Connection: close\r\n\r\n".encode())
            return status, json.loads(body)

        for path in ("/documents/nos/../2021/1", "/documents/nos/%2e%2e/2021/1",
                     "/documents/x/../nos/2021/1", "/documents/./2021/1"):
            status, body = get(path)
            assert status == 404 and body["error"]["code"] == "not_found", (path, body)
        status, body = get("/documents/nos/../x/1")
        assert status == 200 and body["doc_id"] == "nos/../x/1"
        assert get("/documents/nos/2021/1")[1]["doc_id"] == "nos/2021/1"


# --- 10. connections are not held open ------------------------------------------------------

def test_get_mcp_is_405_not_an_open_stream(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path), fake_searcher)) as url:
        response = httpx.get(f"{url}/mcp", headers={"Accept": "text/event-stream"}, timeout=5)
        assert response.status_code == 405 and response.headers["allow"] == "POST"
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert httpx.delete(f"{url}/mcp", timeout=5).status_code == 405


def _slow_client(url: str, results: list, pace: float, lines: int) -> None:
    """Send a request head one header line every ``pace`` seconds; record when it was cut off."""
    started = time.monotonic()
    with socket.create_connection(_address(url), timeout=10) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for n in range(lines):
                if select.select([sock], [], [], pace)[0]:
                    break
                sock.sendall(b"X-Slow-%d: 1\r\n" % n)
            answer = _read_all(sock, time.monotonic() + 10)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""
    results.append((time.monotonic() - started, answer))


def test_a_client_that_sends_its_headers_slowly_is_cut_off(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path), fake_searcher), bounded=True,
                 head_timeout=1.0) as url:
        results: list = []
        clients = [threading.Thread(target=_slow_client, args=(url, results, 0.3, 40))
                   for _ in range(20)]
        for client in clients:
            client.start()
        idle = socket.create_connection(_address(url), timeout=10)  # connects, sends nothing
        for client in clients:
            client.join(timeout=30)
        assert len(results) == 20
        for took, answer in results:  # 40 lines at 0.3 s would be 12 s
            assert took < 6, took
            assert parse(answer)[0] == 408 and _error_code(parse(answer)[2]) == "head_timeout"
        idle.settimeout(5)
        assert idle.recv(100) == b"", "an idle connection is closed without a word"
        idle.close()
        with httpx.Client(base_url=url, timeout=10) as http:  # and a normal client is served,
            assert http.get("/health").status_code == 200  # twice on one connection, the second
            time.sleep(1.5)  # after more than the head timeout: keep-alive is its own timer
            assert http.get("/health").status_code == 200


def test_serve_uses_the_bounded_uvicorn_settings(monkeypatch, fake_index, run):
    from cli.server import serving

    seen = {}
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: seen.update(
        config=self.config, sockets=sockets))
    result = run("serve", "--index", fake_index)
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert issubclass(config.http, serving.HeadTimeoutProtocol)
    assert config.timeout_keep_alive == serving.KEEP_ALIVE_S
    assert config.limit_concurrency == serving.MAX_CONCURRENCY
    assert config.h11_max_incomplete_event_size == serving.MAX_HEAD_BYTES
    assert seen["sockets"] is None  # uvicorn opens its own


def test_serve_reuse_port_hands_uvicorn_a_shared_socket_not_yet_listening(monkeypatch,
                                                                         fake_index, run):
    seen = {}
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: seen.update(
        config=self.config, sockets=sockets))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("serve", "--index", fake_index, "--port", port, "--reuse-port")
    assert result.exit_code == 0, result.output
    [shared] = seen["sockets"]
    with shared:
        assert shared.getsockname() == ("127.0.0.1", port)
        assert shared.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        # not listening: the kernel gives it no connection while the model loads
        assert shared.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:  # a second replica
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            other.bind(("127.0.0.1", port))
    from cli.server import serving

    assert issubclass(seen["config"].http, serving.HeadTimeoutProtocol)  # the same limits


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
    from cli.server.errors import ERROR_STATUS

    def fail(*_a, **_k):
        raise cls("it went wrong", hint="do this")

    monkeypatch.setattr("cli.server.app.run_search", fail)
    response = client.post("/search", json={"q": "Poetin"})
    status, code = ERROR_STATUS[cls]
    assert response.status_code == status
    error = response.json()["error"]
    assert error == {"code": code, "message": "it went wrong", "hint": "do this"}
    assert code.isascii() and code == code.lower() and " " not in code and "error" != code


def test_the_codes_are_the_documented_ones():
    from cli.server.errors import ERROR_STATUS

    assert {cls.__name__: code for cls, (_, code) in ERROR_STATUS.items()} == {
        "QueryError": "invalid_query", "InputError": "invalid_input",
        "IndexBusyError": "index_busy", "IndexNotFoundError": "index_not_found",
        "IndexFormatError": "index_format", "ModelError": "model_error",
        "ModelMismatchError": "model_mismatch", "IndexWriteError": "index_write",
        "VectorStoreError": "vector_store_unavailable"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_says_so(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/search", "/search/batch"):
        response = client.post(path, content=b'{"q": "Poetin"}', headers=headers)
        assert response.status_code == 415, response.text
        error = response.json()["error"]
        assert error["code"] == "unsupported_media_type"
        assert "must be JSON" in error["message"] and "Content-Type: application/json" in error["hint"]


def test_an_empty_body_says_so(client):
    response = client.post("/search", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["message"] == \
        "the request has no body"


def test_a_blank_question_in_a_batch_is_named(client):
    response = client.post("/search/batch", json={"queries": [
        {"id": "a", "q": "Poetin"}, {"id": "b", "q": "   "}, {"id": 3, "q": "Biden"}]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == "queries[1] (id 'b').q: the question is empty"
    response = client.post("/search/batch", json={"queries": [{"id": 7, "q": ""}]})
    assert response.json()["error"]["message"].startswith("queries[0] (id 7).q: ")


@pytest.mark.parametrize("body", [{"q": "Poetin", "k": True}, {"q": "Poetin", "per_article": True},
                                  {"q": "Poetin", "max_chars": False}])
def test_numbers_are_not_booleans(client, body):
    response = client.post("/search", json=body)
    assert response.status_code == 422
    assert "must be a number, not true or false" in response.json()["error"]["message"]


def test_batch_ids_are_not_booleans_and_numbers_still_parse(client):
    response = client.post("/search/batch", json={"queries": [{"id": True, "q": "Poetin"}]})
    assert response.status_code == 422 and "queries[0]" in response.json()["error"]["message"]
    assert client.get("/search", params={"q": "Poetin", "k": "2"}).status_code == 200
    assert client.post("/search", json={"q": "Poetin", "k": 2}).status_code == 200


def test_mcp_numbers_are_not_booleans(fake_searcher, tmp_path):
    import asyncio

    from mcp import Client

    async def call():
        async with Client(url + "/mcp") as mcp:
            return await mcp.call_tool("search_news", {"question": "Poetin", "k": True})

    with running(create_app(settings(tmp_path), fake_searcher)) as url:
        result = asyncio.run(call())
    assert result.is_error is True


def test_docs_work_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "https://" not in page.text  # nothing from elsewhere
    assert 'href="/openapi.json"' in page.text and "README" in page.text
    assert "<code>/search/batch</code>" in page.text
    assert client.get("/redoc").status_code == 404
