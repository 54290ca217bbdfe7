"""The web API: TestClient for shapes, errors and auth; a real uvicorn server on loopback for the
search, batch and auth paths (fake model), and once with the real model."""

import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer.write.chunking import ParagraphChunker
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import update_index, load_for_index
from search.searcher import Searcher
from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.fakes import FakeEmbedder
from tests.server import running

KEY = "s3cret-key"


@pytest.fixture
def searcher(fake_searcher):
    return fake_searcher


@pytest.fixture
def client(searcher, tmp_path):
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx"), searcher)) as c:
        yield c


def test_get_and_post_search_give_the_cli_shape(client):
    got = client.get("/search", params={"q": "Poetin Navalny", "k": 2})
    posted = client.post("/search", json={"q": "Poetin Navalny", "k": 2})
    assert got.status_code == posted.status_code == 200
    assert got.json() == posted.json()
    data = got.json()
    assert data["query"] == "Poetin Navalny" and len(data["results"]) == 2
    assert set(data) == {"query", "mode", "language", "filter", "confident", "results", "context"}
    first = data["results"][0]
    assert list(first)[:9] == ["rank", "score", "doc_id", "chunk_id", "date", "title", "text",
                               "start", "end"]
    assert first["citation"] is None and data["context"] is None


def test_filters_and_options(client):
    data = client.post("/search", json={"q": "Poetin", "k": 3, "since": "2021-12",
                                        "mode": "keyword", "group": False}).json()
    assert data["mode"] == "keyword" and {r["date"] for r in data["results"]} == {"2021-12"}
    assert data["filter"]["source"] == "options" and data["filter"]["applied"] is True


def test_context_for_chatbots(client):
    data = client.post("/search", json={"q": "Poetin", "k": 5, "context": True,
                                        "max_chars": 1200}).json()
    context = data["context"]
    assert context.startswith("[1] ") and len(context) <= 1200
    cited = [r for r in data["results"] if r["citation"] is not None]
    assert [r["citation"] for r in cited] == list(range(1, len(cited) + 1))
    for r in cited:
        assert f"[{r['citation']}] " in context and r["doc_id"] in context


def test_batch(client):
    data = client.post("/search/batch", json={"queries": [{"id": "a", "q": "Poetin"},
                                                          {"id": 2, "q": "Afghanistan"}], "k": 1}).json()
    assert [r["id"] for r in data["results"]] == ["a", 2]
    assert all(len(r["results"]) == 1 for r in data["results"])


def test_documents(client):
    doc = client.get("/documents/001_2bed4d3526be678e").json()
    assert doc["date"] == "2021-06" and "Navalny" in doc["text"]
    hit = client.get("/search", params={"q": "Navalny", "k": 1}).json()["results"][0]
    text = client.get(f"/documents/{hit['doc_id']}").json()["text"]
    assert text[hit["start"]:hit["end"]] == hit["text"]


def test_health_and_stats(client):
    assert client.get("/health").json() == {"status": "ready", "reason": None}
    stats = client.get("/stats").json()
    assert stats["articles"] == 5 and stats["passages"] > 5 and stats["language"] == "nl"
    assert stats["vector_indexes"]["passages"]["kind"] == "faiss-flat-ip"  # small: exact


@pytest.mark.parametrize("method, path, kwargs, status, code", [
    ("get", "/search", {"params": {"q": ""}}, 422, "invalid_request"),
    ("get", "/search", {"params": {"q": "x" * 2001}}, 422, "invalid_request"),
    ("get", "/search", {"params": {"q": "Poetin", "k": 0}}, 422, "invalid_request"),
    ("get", "/search", {"params": {"q": "Poetin", "k": 101}}, 422, "invalid_request"),
    ("get", "/search", {"params": {"q": "Poetin", "mode": "magic"}}, 422, "invalid_request"),
    ("post", "/search", {"json": {"q": "Poetin", "colour": "red"}}, 422, "invalid_request"),
    ("post", "/search", {"content": b"{not json", "headers": {"content-type": "application/json"}},
     422, "invalid_request"),
    ("post", "/search", {"json": {"q": "   "}}, 422, "invalid_request"),
    ("post", "/search", {"json": {"q": "Poetin", "since": "juni"}}, 400, "invalid_query"),
    ("get", "/documents/nope", {}, 404, "not_found"),
    ("get", "/documents/..%2F..%2Fetc%2Fpasswd", {}, 404, "not_found"),
    ("post", "/search/batch", {"json": {"queries": [{"id": i, "q": "x"} for i in range(33)]}},
     413, "batch_too_large"),
    ("post", "/search/batch", {"json": {"queries": []}}, 422, "invalid_request"),
    ("post", "/search", {"content": b"{" + b" " * 300_000 + b"}",
                         "headers": {"content-type": "application/json"}}, 413, "body_too_large"),
    ("get", "/nowhere", {}, 404, "not_found"),
    ("put", "/search", {}, 405, "method_not_allowed"),
])
def test_errors_have_one_shape_and_the_right_status(client, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_the_openapi_schema_describes_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/search", "/search/batch", "/documents", "/documents/{doc_id}", "/health", "/stats"}
    assert set(paths["/documents/{doc_id}"]) == {"get", "delete"} and set(paths["/documents"]) == {"post"}
    for path, operations in paths.items():  # a response model everywhere
        for operation in operations.values():
            assert operation["responses"]["200"]["content"]["application/json"]["schema"], path
    assert "200" in paths["/search"]["post"]["responses"]


def test_not_ready_without_an_index(tmp_path):
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "none"))) as c:
        health = c.get("/health")
        assert health.status_code == 503 and "there is no index" in health.json()["reason"]
        assert c.get("/search", params={"q": "x"}).json()["error"]["code"] == "not_ready"


@pytest.fixture
def keyed(searcher, tmp_path):
    settings = ServerSettings(index_dir=tmp_path / "idx", api_key=KEY)
    with TestClient(create_app(settings, searcher)) as c:
        yield c


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}])
def test_api_key_is_required_when_configured(keyed, headers):
    for path in ("/search?q=Poetin", "/stats", "/documents/001_2bed4d3526be678e"):
        response = keyed.get(path, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_api_key_accepted_and_health_stays_open(keyed):
    assert keyed.get("/search", params={"q": "Poetin"},
                     headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert keyed.get("/health").status_code == 200


def test_cors_is_off_unless_configured(client):
    response = client.get("/health", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in response.headers


# --- a real server on loopback ------------------------------------------------------------

def test_real_server_search_batch_and_auth(searcher, tmp_path):
    app = create_app(ServerSettings(index_dir=tmp_path / "idx", api_key=KEY), searcher)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {KEY}"}
        assert http.get("/health").json()["status"] == "ready"
        assert http.get("/search", params={"q": "Poetin"}).status_code == 401
        found = http.get("/search", params={"q": "Poetin Navalny", "k": 2}, headers=auth)
        assert found.status_code == 200 and len(found.json()["results"]) == 2
        batch = http.post("/search/batch", headers=auth,
                          json={"queries": [{"id": "a", "q": "Poetin"}, {"id": "b", "q": "Biden"}]})
        assert [r["id"] for r in batch.json()["results"]] == ["a", "b"]


def test_real_server_answers_concurrent_clients(searcher, tmp_path):
    app = create_app(ServerSettings(index_dir=tmp_path / "idx"), searcher)
    with running(app) as url:
        results = []

        def ask(i):
            with httpx.Client(base_url=url, timeout=30) as http:
                results.append(http.get("/search", params={"q": f"Poetin {i}", "k": 3}).status_code)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 8


@pytest.mark.model
def test_real_server_with_the_real_model(real_index, real_embedder):
    app = create_app(ServerSettings(index_dir=real_index),
                     Searcher(IndexDirectory(real_index), real_embedder))
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        data = http.get("/search", params={"q": "Wat zei Poetin over Navalny?", "k": 2}).json()
        assert any("opsluiting" in r["text"] for r in data["results"])
        first = data["results"][0]  # the quote and its speaker, in article offsets
        asked = [q for q in first["quotes"] if q["asked"]]
        assert asked and all(q["speaker"] == "Vladimir Poetin" for q in asked)
        assert all(first["start"] <= q["start"] < first["end"] for q in asked)
        assert "QuoteMark" in http.get("/openapi.json").json()["components"]["schemas"]
        data = http.post("/search", json={"q": "how long did the Geneva meeting last",
                                          "context": True}).json()
        assert "3 uur en 21 minuten" in data["context"]


def test_document_ids_may_contain_slashes(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "nos/2021/123", "text": "Een artikel met een pad als id."}\n')
    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([path]))
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx"),
                               Searcher(IndexDirectory(tmp_path / "idx"), embedder))) as c:
        assert c.get("/documents/nos/2021/123").json()["doc_id"] == "nos/2021/123"


def test_context_block_format():
    from search.context import pack_context
    from search.results import Hit

    def hit(rank, title, text):
        return Hit(rank=rank, score=1.0, doc_id=f"d{rank}", chunk_id=f"d{rank}#0", date="2021-06",
                   title=title, text=text, start=0, end=len(text), snippet=text, snippet_start=0,
                   snippet_end=len(text), highlights=[], dense_score=0.9, keyword_score=None)

    hits = [hit(1, None, "Eerste  passage.\n\nTweede alinea."), hit(2, "Titel", "x" * 500),
            hit(3, "Kort", "Derde.")]
    context, citations = pack_context(hits, 200)
    assert context == ("[1] d1 (2021-06, characters 0-32):\nEerste passage. Tweede alinea.\n\n"
                       "[2] Kort (d3, 2021-06, characters 0-6):\nDerde.")
    assert citations == {1: 1, 3: 2}, "the long one did not fit and is left out whole"
