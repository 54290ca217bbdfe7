"""Milvus-backed indexes against a real Milvus standalone server (tests/milvus_server.py starts
one; skipped without it locally, required by .ci/run), against the same index with FAISS files
(fake model): the same answers, updates and removals, and the API's read-your-writes."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SAMPLE_DIR
from tests.test_milvus_store import QUESTIONS, changed_sample, hits

pytest.importorskip("pymilvus")


def test_a_server_backed_index_answers_as_the_faiss_one(run, fake_model, tmp_path, milvus_server):
    faiss, milvus = tmp_path / "faiss", tmp_path / "milvus"
    uri = "milvus://" + milvus_server.removeprefix("http://")
    assert run("index", SAMPLE_DIR, "--index", faiss, "--model", fake_model).exit_code == 0
    made = run("index", SAMPLE_DIR, "--index", milvus, "--model", fake_model, "--vectors", uri)
    assert made.exit_code == 0, made.output
    store = json.loads(run("info", "--index", milvus, "--json").stdout)["vector_store"]
    assert store["uri"] == uri and store["written_ts"] > 0  # the server's own timestamp
    for question in QUESTIONS:
        assert hits(run, milvus, question, "--mode", "dense") == \
            hits(run, faiss, question, "--mode", "dense")
    assert hits(run, milvus, "Biden", "--since", "2021-07-01", "--mode", "dense") == \
        hits(run, faiss, "Biden", "--since", "2021-07-01", "--mode", "dense")
    changed = changed_sample(tmp_path)
    for index in (faiss, milvus):
        assert run("index", changed, "--index", index, "--model", fake_model).exit_code == 0
        assert run("remove", "004_2279d42696e0605c", "--index", index).exit_code == 0
        assert run("optimize", "--index", index).exit_code == 0
    for question in [*QUESTIONS, "klimaatwet Jetten"]:
        assert hits(run, milvus, question, "--mode", "dense") == \
            hits(run, faiss, question, "--mode", "dense")


def test_api_writes_are_searchable_at_once_on_a_server(tmp_path, milvus_server):
    from cli.server.app import create_app
    from cli.server.settings import ServerSettings
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.pipeline import load_for_index, update_index
    from search.searcher import Searcher
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([SAMPLE_DIR]), vectors=milvus_server)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    auth = {"Authorization": "Bearer k"}
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx", api_key="k"),
                               searcher)) as client:
        for n in range(3):  # each answered right after its write: no wait for Bounded's lag
            article = {"id": f"nos/{n}", "text": f"De klimaatwet nummer {n} van Jetten.",
                       "date": "2021-07-01"}
            assert client.post("/documents", json=article, headers=auth).status_code == 200
            found = client.get("/search", params={"q": f"klimaatwet nummer {n} van Jetten",
                                                  "k": 1, "mode": "dense"},
                               headers=auth).json()["results"]
            assert found[0]["doc_id"] == f"nos/{n}"
        assert client.delete("/documents/nos/0", headers=auth).status_code == 200
        found = client.get("/search", params={"q": "klimaatwet nummer 0 van Jetten", "k": 5,
                                              "mode": "dense"}, headers=auth).json()["results"]
        assert all(r["doc_id"] != "nos/0" for r in found)
    searcher.close()
