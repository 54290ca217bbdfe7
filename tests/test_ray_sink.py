"""`vraagbaak index --ray ... --vectors milvus://HOST:PORT`: Ray's workers upsert the vectors
into a real Milvus standalone server (tests/milvus_server.py) through the sink
(indexer/write/milvus_sink.py); the driver gets counts only. On a real local Ray, with the fake
model in the actors (tests/ray_actors.py) and, once, the real model through the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.errors import VectorStoreError
from indexer.index.directory import IndexDirectory
from indexer.index.version import IndexVersion
from indexer.settings import RaySettings
from indexer.write.chunking import ParagraphChunker
from indexer.write.embedding import PASSAGES, SENTENCES, Holder, TextRow
from indexer.write.pipeline import load_for_index, update_index
from indexer.write.vector_cache import VectorCache
from tests.conftest import SAMPLE_DIR, write
from tests.fakes import FakeEmbedder
from tests.test_milvus_store import changed_sample
from tests.test_ray import answers, assert_same_index, cluster, vraagbaak  # noqa: F401

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
pytest.importorskip("pymilvus", reason="the milvus extra is not installed")


def _on_ray(**options):
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import FakeActor

    return RayEmbedding(RaySettings(actors=2), actor=FakeActor, **({"per_task": 16} | options))


def _index(root, uri, embedding=None, paths=(SAMPLE_DIR,)):
    embedder = FakeEmbedder()
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                        load_for_index(list(paths)), embedding=embedding, batch_size=16,
                        vectors=uri)


def _rows_in(root) -> dict:
    """How many rows each of the index's collections holds, and how many distinct ids (read
    with Strong consistency: every write seen)."""
    from pymilvus import MilvusClient

    with IndexVersion.open(IndexDirectory(root).current_version()) as version:
        store = version.manifest.vector_store
    client = MilvusClient(uri=store["uri"].replace("milvus://", "http://"))
    try:
        out = {}
        for part, name in store["collections"].items():
            rows = client.query(name, filter="id >= 0", output_fields=["id"],
                                consistency_level="Strong", limit=16_384)
            ids = [r["id"] for r in rows]
            out[part] = (len(ids), len(set(ids)))
        return out
    finally:
        client.close()


def _cached(root, embedder=None) -> int:
    embedder = embedder or FakeEmbedder()
    cache = VectorCache.open(root, embedder.spec.fingerprint, embedder.dim)
    try:
        return len(cache)
    finally:
        cache.close()


@pytest.fixture(scope="module")
def driver_index(milvus_server, tmp_path_factory):
    """The sample indexed into Milvus without Ray (the driver upserts): what the sink's runs
    must equal."""
    root = tmp_path_factory.mktemp("driver") / "idx"
    _index(root, milvus_server)
    return root


# --- the sink on its own ------------------------------------------------------------------------

def test_the_sink_upserts_every_holder_of_a_text_once(milvus_server, tmp_path):
    """One vector per text, written under each row that holds it; a block written twice (a
    retried task) leaves each id once, with that vector; the task reports counts, not vectors."""
    from indexer.index.stores.milvus_collections import collection_names
    from indexer.write import milvus_sink
    from indexer.write.ray_embedding import with_vectors

    names = collection_names(f"vraagbaak_sink_{tmp_path.name[-8:].replace('-', '_')}")
    target = milvus_sink.Target(milvus_server, names, {"index_type": "FLAT", "metric_type": "IP"},
                                64, "fp-fake-64")
    rows = [TextRow(f"k{i}", f"tekst nummer {i}" + " lang" * i, i, PASSAGES, 7, "")
            for i in range(5)]
    holders = {r.key: [Holder(PASSAGES, r.id, 7, 20240301, 20240331)] for r in rows}
    holders["k2"].append(Holder(SENTENCES, 40, 7, 20240301, 20240331))  # a passage's one sentence
    holders["k3"].append(Holder(PASSAGES, 9, 8, 99_999_999, 0))  # two articles' equal paragraph
    blocks = milvus_sink.text_blocks(rows, holders, 2)
    assert [b.num_rows for b in blocks] == [2, 2, 1]
    assert blocks[0].column("key").to_pylist() == ["k4", "k3"]  # the longest first
    vectors = FakeEmbedder().embed_documents([r.text for r in rows])
    by_key = {r.key: v for r, v in zip(rows, vectors)}
    embedded = [with_vectors(b, np.stack([by_key[k] for k in b.column("key").to_pylist()]))
                for b in blocks]
    sink = milvus_sink.MilvusSink(target)
    first = sink.write(embedded, None)
    again = sink.write(embedded[:1], None)
    assert first["per_block"] == {0: 2, 1: 2, 2: 1} and first["written_ts"] > 0
    assert again["written_ts"] >= first["written_ts"]
    collections = milvus_sink.open_target(target)
    try:
        client = collections._client
        got = {r["id"]: r for r in client.query(names["passages"], filter="id >= 0",
                                                output_fields=["id", "vector", "article",
                                                               "date_from", "date_to"],
                                                consistency_level="Strong")}
        assert sorted(got) == [0, 1, 2, 3, 4, 9]
        for r in rows:
            assert np.allclose(got[r.id]["vector"], by_key[r.key], atol=1e-6)
        assert np.allclose(got[9]["vector"], by_key["k3"], atol=1e-6)
        assert (got[9]["article"], got[9]["date_from"], got[3]["date_from"]) == (8, 99_999_999,
                                                                               20240301)
        sentences = client.query(names["sentences"], filter="id >= 0",
                                 output_fields=["id", "vector"], consistency_level="Strong")
        assert [s["id"] for s in sentences] == [40]
        assert np.allclose(sentences[0]["vector"], by_key["k2"], atol=1e-6)
    finally:
        collections.drop()
        collections.close()


def test_what_the_tasks_reported_tells_the_texts_missing():
    from indexer.write.milvus_sink import Written

    written = Written.of([{"per_block": {0: 16, 1: 16}, "written_ts": 5},
                          {"per_block": {2: 3}, "written_ts": 9}, {"per_block": {1: 16},
                                                                    "written_ts": 7}])
    assert written.written_ts == 9
    assert written.missing({0: 16, 1: 16, 2: 4, 3: 10}) == 11


# --- on Ray, into the server --------------------------------------------------------------------

def test_an_index_written_from_the_workers_is_the_index_the_driver_writes(
        cluster, milvus_server, driver_index, tmp_path):
    """The same ids, the same vectors read back from Milvus, the same answers; and no vector
    came back to the driver (it keeps every vector it receives in the vector cache)."""
    report = _index(tmp_path / "idx", milvus_server, _on_ray())
    assert report.embedded == _index(tmp_path / "plain", milvus_server).embedded > 0
    assert _cached(tmp_path / "idx") == 0
    assert _cached(tmp_path / "plain") == report.embedded
    assert_same_index(driver_index, tmp_path / "idx")
    with IndexVersion.open(IndexDirectory(tmp_path / "idx").current_version()) as version:
        assert version.manifest.vector_store["written_ts"] > 0  # the workers' newest write
        live = (len(version.passages), len(version.sentences))
    assert _rows_in(tmp_path / "idx") == {"passages": (live[0],) * 2, "sentences": (live[1],) * 2}
    assert answers(tmp_path / "idx", FakeEmbedder()) == answers(driver_index, FakeEmbedder())


def test_progress_is_counted_from_the_workers(cluster, milvus_server, tmp_path):
    seen = []
    executor = _on_ray(status=seen.append)
    embedder = FakeEmbedder()
    report = update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                          load_for_index([SAMPLE_DIR]), embedding=executor, batch_size=16,
                          vectors=milvus_server,
                          progress=lambda done, total: seen.append((done, total)))
    assert seen[:3] == ["starting a private Ray…",
                        "splitting 5 articles on Ray: 2 actors, 1 thread each",
                        "embedding on Ray: 2 actors, 1 thread each, writing to Milvus from the "
                        "workers"]
    counts = [s for s in seen[3:] if isinstance(s, tuple)]
    assert counts and counts[-1] == (report.embedded, report.embedded)
    assert [c[0] for c in counts] == sorted(c[0] for c in counts)


def test_a_write_task_that_dies_is_retried_and_each_id_is_written_once(
        cluster, milvus_server, driver_index, tmp_path):
    """A write task's process exits after its first upsert: Ray retries the task, which writes
    its block again; every id is in the collection once, with the vector the driver would
    have written."""
    from tests.ray_actors import SinkDiesOnce

    marker = tmp_path / "died"
    _index(tmp_path / "idx", milvus_server,
           _on_ray(sink=SinkDiesOnce, sink_options=(("marker", str(marker)),)))
    assert marker.exists(), "no write task died: the test tested nothing"
    counts = _rows_in(tmp_path / "idx")
    with IndexVersion.open(IndexDirectory(tmp_path / "idx").current_version()) as version:
        live = (len(version.passages), len(version.sentences))
    assert counts == {"passages": (live[0], live[0]), "sentences": (live[1], live[1])}
    assert_same_index(driver_index, tmp_path / "idx")


def test_a_failed_write_publishes_nothing_and_its_rerun_converges(cluster, milvus_server,
                                                                  tmp_path):
    """A change whose sink fails on its second block: the version before stays the published
    one; the same command again publishes the change, each id once in the collections, and
    the index equals the one built without Ray."""
    from tests.ray_actors import SinkFailsOn

    changed = changed_sample(tmp_path)
    for n in range(4):  # new articles: new texts enough for several blocks
        write(changed / f"new_{n}.txt", "\n\n".join(
            f"Nieuw bericht {n}, alinea {p}: de gemeente {n * 10 + p} besluit over woningbouw."
            for p in range(4)))
    for root, embedding in ((tmp_path / "ray", _on_ray()), (tmp_path / "plain", None)):
        _index(root, milvus_server, embedding)
    before = IndexDirectory(tmp_path / "ray").current_version()
    with pytest.raises(VectorStoreError, match="it went away"):
        _index(tmp_path / "ray", milvus_server,
               _on_ray(sink=SinkFailsOn, sink_options=(("block", 1),), per_task=8),
               paths=(changed,))
    assert IndexDirectory(tmp_path / "ray").current_version() == before
    again = _index(tmp_path / "ray", milvus_server, _on_ray(), paths=(changed,))
    plain = _index(tmp_path / "plain", milvus_server, None, paths=(changed,))
    assert again.embedded == plain.embedded > 2 * 8
    assert_same_index(tmp_path / "plain", tmp_path / "ray")
    counts = _rows_in(tmp_path / "ray")
    assert counts == _rows_in(tmp_path / "plain")
    assert all(n == distinct for n, distinct in counts.values())


# --- the real thing -----------------------------------------------------------------------------

@pytest.mark.model
@pytest.mark.slow  # make test-slow
def test_the_cli_on_ray_into_a_milvus_server_is_the_index_built_without_ray(
        cluster, milvus_server, tmp_path, real_embedder):
    """`vraagbaak index --ray ADDRESS --vectors milvus://HOST:PORT` in a fresh process, the
    real model in 2 actors, against `vraagbaak index --vectors milvus://HOST:PORT` without Ray
    (the same model and backend): the same ids, the same vectors read back from Milvus, the same
    answers to the sample questions; on stderr only vraagbaak's own lines."""
    uri = "milvus://" + milvus_server.removeprefix("http://")
    without = vraagbaak("index", SAMPLE_DIR, "--index", tmp_path / "plain", "--vectors", uri,
                        "--device", "cpu")  # fp32, as Ray's actors under auto
    assert without.returncode == 0, without.stderr
    on_ray = vraagbaak("index", SAMPLE_DIR, "--index", tmp_path / "ray", "--ray", cluster,
                       "--ray-actors", "2", "--vectors", uri)
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stdout.splitlines()[0].endswith("embedded 173 texts, reused 0)")
    said = on_ray.stderr.splitlines()
    assert said[:5] == ["loading the model…", "embedding passages", "joining a Ray cluster…",
                        "splitting 5 articles on Ray: 2 actors, 1 thread each",
                        "embedding on Ray: 2 actors, 1 thread each, writing to Milvus from "
                        "the workers"], on_ray.stderr
    assert said[5:] and all(line.startswith("embedded ") for line in said[5:]), on_ray.stderr
    assert said[-1] == "embedded 173 of 173 texts"
    with IndexVersion.open(IndexDirectory(tmp_path / "ray").current_version()) as version:
        assert version.manifest.vector_store["uri"] == uri
    assert _cached(tmp_path / "ray", real_embedder) == 0  # no vector came back to the driver
    assert_same_index(tmp_path / "plain", tmp_path / "ray")
    assert answers(tmp_path / "plain", real_embedder) == answers(tmp_path / "ray", real_embedder)
