"""Indexes whose vectors live in Milvus (milvus-lite here: the real Milvus core, file-backed),
through the CLI and the web API, against the same index with FAISS files (fake model)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SAMPLE_DIR, write

pytest.importorskip("pymilvus")

QUESTIONS = ["wat zei Poetin over Navalny", "cyberveiligheid afspraken", "Genève topontmoeting"]


def hits(run, index, question, *extra):
    result = run("search", question, "--index", index, "-k", "5", "--json", *extra)
    assert result.exit_code == 0, result.output
    return [(r["doc_id"], r["chunk_id"]) for r in json.loads(result.stdout)["results"]]


def changed_sample(tmp_path):
    """The sample articles with one of them changed (a sentence added that the others lack)."""
    changed = tmp_path / "changed"
    for f in SAMPLE_DIR.iterdir():
        write(changed / f.name, f.read_text(encoding="utf-8"))
    first = sorted(changed.iterdir())[0]
    write(first, first.read_text(encoding="utf-8") + "\n\nDe klimaatwet van Jetten is aangenomen.")
    return changed


def rows_in(db, part: str) -> int:
    from pymilvus import MilvusClient

    client = MilvusClient(str(db))
    try:
        name = next(n for n in client.list_collections() if n.endswith(part))
        return client.query(name, filter="", output_fields=["count(*)"],
                            consistency_level="Strong")[0]["count(*)"]
    finally:
        client.close()


@pytest.fixture
def both(run, fake_model, tmp_path):
    faiss, milvus, db = tmp_path / "faiss", tmp_path / "milvus", tmp_path / "store" / "v.db"
    assert run("index", SAMPLE_DIR, "--index", faiss, "--model", fake_model).exit_code == 0
    made = run("index", SAMPLE_DIR, "--index", milvus, "--model", fake_model, "--vectors", db)
    assert made.exit_code == 0, made.output
    assert "Milvus for passages" in made.stdout
    return faiss, milvus, db


def test_a_milvus_index_answers_as_the_faiss_one(run, both):
    faiss, milvus, db = both
    version = milvus / "versions" / (milvus / "CURRENT").read_text().strip()
    assert not list(version.rglob("*.faiss"))  # the segments hold no vector files
    manifest = json.loads((version / "manifest.json").read_text())
    store = manifest["vector_store"]
    assert store["kind"] == "milvus" and store["uri"] == str(db)
    assert set(store["collections"]) == {"passages", "sentences"}
    assert rows_in(db, "_passages") == manifest["chunks"]
    assert rows_in(db, "_sentences") == manifest["sentences"]
    for question in QUESTIONS:
        for mode in ("dense", "hybrid"):
            assert hits(run, milvus, question, "--mode", mode) == \
                hits(run, faiss, question, "--mode", mode)
    dated = hits(run, milvus, "Biden", "--since", "2021-07-01", "--mode", "dense")
    assert dated == hits(run, faiss, "Biden", "--since", "2021-07-01", "--mode", "dense")
    assert dated and "001_2bed4d3526be678e" not in {d for d, _ in dated}  # a June article
    info = run("info", "--index", milvus)
    assert f"store: Milvus at {db}" in info.stdout


def test_updates_removals_and_optimize_go_to_milvus(run, fake_model, both, tmp_path):
    faiss, milvus, db = both
    changed = changed_sample(tmp_path)
    for index in (faiss, milvus):
        assert run("index", changed, "--index", index, "--model", fake_model).exit_code == 0
        assert run("remove", "004_2279d42696e0605c", "--index", index).exit_code == 0
    for question in [*QUESTIONS, "klimaatwet Jetten"]:
        assert hits(run, milvus, question, "--mode", "dense") == \
            hits(run, faiss, question, "--mode", "dense")
    assert "004_2279d42696e0605c" not in {d for d, _ in hits(run, milvus, "Biden ransomware")}
    manifest = json.loads(run("info", "--index", milvus, "--json").stdout)
    # The update's dead rows went one version later; the removal's wait for the next write.
    waiting = sum(b - a + 1 for a, b in manifest["vector_store"]["dead"]["chunks"])
    assert waiting > 0 and rows_in(db, "_passages") == manifest["chunks"] + waiting
    optimized = run("optimize", "--index", milvus)
    assert optimized.exit_code == 0, optimized.output
    manifest = json.loads(run("info", "--index", milvus, "--json").stdout)
    assert len(manifest["segments"]) == 1 and rows_in(db, "_passages") == manifest["chunks"]
    version = milvus / "versions" / (milvus / "CURRENT").read_text().strip()
    assert not list(version.rglob("*.faiss"))
    assert hits(run, milvus, "klimaatwet Jetten", "--mode", "dense") == \
        hits(run, faiss, "klimaatwet Jetten", "--mode", "dense")


def test_one_index_never_mixes_stores(run, fake_model, both, tmp_path):
    faiss, milvus, db = both
    refused = run("index", SAMPLE_DIR, "--index", faiss, "--model", fake_model, "--vectors", db)
    assert refused.exit_code == 1 and "keeps its vectors in FAISS files" in refused.stderr
    assert "build a separate index" in refused.stderr and "Traceback" not in refused.output
    other = tmp_path / "other.db"
    refused = run("index", SAMPLE_DIR, "--index", milvus, "--model", fake_model, "--vectors", other)
    assert refused.exit_code == 1 and f"Milvus at {db}" in refused.stderr
    refused = run("index", SAMPLE_DIR, "--index", milvus, "--model", fake_model, "--vectors", "faiss")
    assert refused.exit_code == 1 and "FAISS files" in refused.stderr
    bad = run("index", SAMPLE_DIR, "--index", tmp_path / "new", "--model", fake_model,
              "--vectors", "qdrant://x")
    assert bad.exit_code == 1 and "not a Milvus location" in bad.stderr


def test_an_unreachable_milvus_is_named_without_a_traceback(run, fake_model, tmp_path):
    started = time.monotonic()
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model,
                 "--vectors", "milvus://127.0.0.1:9")
    assert result.exit_code == 1, result.output
    assert "cannot use the Milvus vector store at milvus://127.0.0.1:9" in result.stderr
    assert "hint: start Milvus there" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "idx" / "CURRENT").exists()
    assert time.monotonic() - started < 60


def test_a_collection_of_another_model_is_refused(tmp_path):
    from indexer.errors import ModelMismatchError
    from indexer.index.stores.milvus import Location
    from indexer.index.stores.milvus_collections import MilvusCollections

    location = Location.parse(str(tmp_path / "v.db"))
    index = {"index_type": "FLAT", "metric_type": "IP"}
    MilvusCollections(location, {"passages": "x_passages"}, 8, "aaa", index).close()
    for dim, fingerprint in ((16, "aaa"), (8, "bbb")):
        with pytest.raises(ModelMismatchError, match="holds other vectors"):
            MilvusCollections(location, {"passages": "x_passages"}, dim, fingerprint, index)


def test_api_writes_are_searchable_at_once(tmp_path):
    from cli.server.app import create_app
    from cli.server.settings import ServerSettings
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.pipeline import load_for_index, update_index
    from search.searcher import Searcher
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([SAMPLE_DIR]), vectors=str(tmp_path / "v.db"))
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    auth = {"Authorization": "Bearer k"}
    article = {"id": "nos/1", "text": "De klimaatwet van Jetten is aangenomen.", "date": "2021-07-01"}
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx", api_key="k"),
                               searcher)) as client:
        assert client.post("/documents", json=article, headers=auth).status_code == 200
        found = client.get("/search", params={"q": "klimaatwet Jetten", "k": 1, "mode": "dense"},
                           headers=auth).json()["results"]
        assert found[0]["doc_id"] == "nos/1"
        assert client.delete("/documents/nos/1", headers=auth).status_code == 200
        found = client.get("/search", params={"q": "klimaatwet Jetten", "k": 3, "mode": "dense"},
                           headers=auth).json()["results"]
        assert all(r["doc_id"] != "nos/1" for r in found)
    searcher.close()


def test_a_db_file_held_by_another_process_is_named_quietly(run, both):
    """milvus-lite serves a .db file to one process; this one holds it (it built the index),
    so `vraagbaak info` (which opens what a search opens) in another process is refused, in two
    lines."""
    from tests.test_end_to_end import vraagbaak

    _, milvus, db = both
    result = vraagbaak("info", "--index", milvus, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot use the Milvus vector store at {db} (Open local milvus failed)",
        "hint: check that the .db file's folder is writable and no other process holds it open"]


def test_a_rebuild_writes_new_rows_and_the_next_write_deletes_the_old(run, fake_model, both):
    faiss, milvus, db = both
    for index in (faiss, milvus):  # new chunker settings: every article split anew, new ids
        done = run("index", SAMPLE_DIR, "--index", index, "--model", fake_model, "--max-tokens", "64")
        assert done.exit_code == 0, done.output
    manifest = json.loads(run("info", "--index", milvus, "--json").stdout)
    old = sum(b - a + 1 for a, b in manifest["vector_store"]["dead"]["chunks"])
    assert old > 0 and rows_in(db, "_passages") == manifest["chunks"] + old
    assert hits(run, milvus, "Biden", "--mode", "dense") == hits(run, faiss, "Biden", "--mode", "dense")
    assert run("remove", "004_2279d42696e0605c", "--index", milvus).exit_code == 0
    manifest = json.loads(run("info", "--index", milvus, "--json").stdout)
    waiting = sum(b - a + 1 for a, b in manifest["vector_store"]["dead"]["chunks"])
    assert rows_in(db, "_passages") == manifest["chunks"] + waiting  # the rebuild's are gone



@pytest.mark.slow  # make test-slow: it waits out the idle time (80-100 s) gRPC's GOAWAY needs
def test_an_idle_milvus_lite_connection_prints_nothing_and_keeps_working(tmp_path, capfd):
    """A long-lived connection (a `serve` process, a long --ray run before the write) outlives
    milvus-lite's patience with idle keepalive pings: with pymilvus's own, gRPC prints "Received
    a GOAWAY ... too_many_pings" to the process's stderr after 80-100 s. A client with those
    defaults sits beside ours as the control; gRPC names each line's socket after its file."""
    from pymilvus import MilvusClient

    from indexer.index.stores.milvus import Location, connect

    ours = connect(Location.parse(str(tmp_path / "ours.db")))
    plain = MilvusClient(str(tmp_path / "plain.db"))
    try:
        for client in (ours, plain):
            client.create_collection("idle", dimension=4)
            client.insert("idle", [{"id": 1, "vector": [0.5] * 4}])
        capfd.readouterr()
        time.sleep(130)
        for client in (ours, plain):
            assert [row["id"] for row in client.get("idle", ids=[1])] == [1]
    finally:
        ours.close()
        plain.close()
    lines = capfd.readouterr().err.splitlines()
    assert any("GOAWAY" in line and "plain.db.sock" in line for line in lines), \
        "the control got no GOAWAY: this test no longer tests anything\n" + "\n".join(lines)
    assert not [line for line in lines if "ours.db.sock" in line], "\n".join(lines)


def test_a_backup_with_vectors_answers_without_milvus(run, fake_model, both, tmp_path):
    """--with-vectors: the copy's vectors come out of Milvus as its segments' FAISS files (two
    segments, a removed article's tombstones); with the Milvus file gone, the copy answers as
    the FAISS index does."""
    faiss, milvus, db = both
    changed = changed_sample(tmp_path)
    for index in (faiss, milvus):
        assert run("index", changed, "--index", index, "--model", fake_model).exit_code == 0
        assert run("remove", "004_2279d42696e0605c", "--index", index).exit_code == 0
    copied = run("backup", tmp_path / "copy", "--index", milvus, "--with-vectors", "--json")
    assert copied.exit_code == 0, copied.output
    said = json.loads(copied.stdout)
    assert said["vectors_copied"] is True and said["vector_store"]["kind"] == "faiss"
    assert said["vectors_from"] == {"kind": "milvus", "uri": str(db)} and not copied.stderr
    info = json.loads(run("info", "--index", tmp_path / "copy", "--json").stdout)
    assert len(info["segments"]) == 2 and info["vector_store"]["kind"] == "faiss"
    (db.parent).rename(tmp_path / "gone")  # no Milvus behind the copy now
    for question in [*QUESTIONS, "klimaatwet Jetten", "Biden ransomware"]:
        for mode in ("dense", "hybrid"):
            assert hits(run, tmp_path / "copy", question, "--mode", mode) == \
                hits(run, faiss, question, "--mode", mode)
    plain = run("backup", tmp_path / "faiss-copy", "--index", faiss, "--with-vectors", "--json")
    assert plain.exit_code == 0 and json.loads(plain.stdout)["vectors_from"] is None


def test_a_backup_whose_vectors_cannot_be_read_leaves_no_half_copy(run, both, tmp_path):
    from pymilvus import MilvusClient

    faiss, milvus, db = both
    client = MilvusClient(str(db))  # the sentences' collection dropped outside vraagbaak
    client.drop_collection(next(n for n in client.list_collections() if n.endswith("_sentences")))
    client.close()
    dest = tmp_path / "copy"
    dest.mkdir()  # an empty folder given: it stays, empty
    failed = run("backup", dest, "--index", milvus, "--with-vectors")
    assert failed.exit_code != 0 and "Traceback" not in failed.output, failed.output
    assert "_sentences at " in failed.output and "which is not there" in failed.output
    assert not list(dest.iterdir())
