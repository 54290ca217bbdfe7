"""`vraagbaak index --ray`: the texts embedded on a real Ray (one local cluster for the module,
2 CPUs, a 200 MB object store) by the real model, against the same run without Ray; and the
executor seam's promises (each text once, kept batch by batch) with a fake model."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import ClusterError, IndexNotFoundError, IndexWriteError
from indexer.index.directory import IndexDirectory
from indexer.index.version import IndexVersion
from indexer.settings import RaySettings
from indexer.write.chunking import ParagraphChunker
from indexer.write.embedding import PASSAGES, LocalEmbedding, TextRow
from indexer.write.pipeline import load_for_index, update_index
from indexer.write.vector_cache import VectorCache
from tests.conftest import ROOT, SAMPLE_DIR, sample_questions, write
from tests.fakes import FakeEmbedder

NO_RAY = "Ray is not installed: pip install -e '.[ray]' (make test installs it)"


@contextmanager
def local_ray(gpus: int):
    """A private Ray of 2 CPUs and ``gpus`` GPUs (Ray believes what it is told), small and quiet."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    from indexer.write.ray_session import init

    init(ray, address="local", num_cpus=2, num_gpus=gpus, object_store_memory=200 << 20,
         include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def cluster() -> str:
    """A local Ray for the module's tests, of CPUs only on any machine (GPU actors:
    tests/test_ray_gpus.py); its address, for a CLI run in another process."""
    with local_ray(gpus=0) as ray:
        yield ray.get_runtime_context().gcs_address


class Counted:
    """An executor that counts what comes back from the one it wraps."""

    def __init__(self, inner) -> None:
        self.inner, self.keys = inner, []

    def embed(self, rows, embedder, batch_size):
        for keys, vectors in self.inner.embed(rows, embedder, batch_size):
            self.keys.extend(keys)
            yield keys, vectors


def contents(root: Path) -> dict:
    """Every row's stable id, where it is, and its vector."""
    with IndexVersion.open(IndexDirectory(root).current_version()) as version:
        store = version.store
        ids = store.chunk_ids()
        chunks = store.get_chunks(ids.tolist())
        rows = store.sentence_rows()
        sentence_ids = np.asarray([r[0] for r in rows], np.int64)
        return {
            "passages": {i: (c.chunk.doc_id, c.chunk.start, c.chunk.end) for i, c in chunks.items()},
            "sentences": [r[:4] for r in rows],
            "passage_vectors": version.passages.vectors(ids),
            "sentence_vectors": version.sentences.vectors(sentence_ids),
        }


def assert_same_index(a: Path, b: Path) -> None:
    one, two = contents(a), contents(b)
    assert one["passages"] == two["passages"] and one["passages"]
    assert one["sentences"] == two["sentences"] and one["sentences"]
    for part in ("passage_vectors", "sentence_vectors"):
        cosines = np.sum(one[part] * two[part], axis=1)
        assert cosines.min() >= 1 - 1e-4, (part, cosines.min())


def answers(root: Path, embedder) -> list:
    from search.searcher import Searcher

    searcher = Searcher(IndexDirectory(root), embedder)
    try:
        return [[(h.doc_id, [p.passage_id for p in h.passages], round(h.score, 3))
                 for h in searcher.search(q["text"], k=5).hits] for q in sample_questions()]
    finally:
        searcher.close()


def vraagbaak(*args) -> subprocess.CompletedProcess:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from cli.main import main; main()",
                           *map(str, args)], capture_output=True, text=True, env=env, timeout=600)


# --- the real thing ----------------------------------------------------------------------------

@pytest.mark.model
@pytest.mark.slow  # make test-slow
def test_an_index_built_on_ray_is_the_index_built_without(cluster, tmp_path, real_embedder):
    """The CLI in fresh processes, as a user runs it: the same ids, the same vectors, the same
    answers; and on stderr only vraagbaak's own progress, none of Ray's logs or bars. Without Ray
    on fp32 (`--device cpu`), the arithmetic Ray's actors use under `auto`."""
    without = vraagbaak("index", SAMPLE_DIR, "--index", tmp_path / "local", "--device", "cpu")
    assert without.returncode == 0, without.stderr
    on_ray = vraagbaak("index", SAMPLE_DIR, "--index", tmp_path / "ray", "--ray", cluster,
                       "--ray-actors", "2")
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stdout.splitlines()[0].endswith("embedded 173 texts, reused 0)")
    said = on_ray.stderr.splitlines()
    assert said[:5] == ["loading the model…", "embedding passages", "joining a Ray cluster…",
                        "splitting 5 articles on Ray: 2 actors, 1 thread each",
                        "embedding on Ray: 2 actors, 1 thread each"], on_ray.stderr
    assert said[5:] and all(line.startswith("embedded ") for line in said[5:]), on_ray.stderr
    assert said[-1] == "embedded 173 of 173 texts"
    assert_same_index(tmp_path / "local", tmp_path / "ray")
    assert answers(tmp_path / "local", real_embedder) == answers(tmp_path / "ray", real_embedder)


@pytest.mark.model
def test_an_actor_that_dies_mid_run_duplicates_nothing(cluster, tmp_path, real_embedder,
                                                       real_index):
    """An actor's process exits on its second batch: Ray restarts it and retries the batch;
    every text comes back exactly once, and the index is the one built without Ray. Its vectors
    go to a Milvus store (milvus-lite) as they do without Ray: upserted by stable id from here."""
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import DiesOnce

    marker = tmp_path / "died"
    executor = Counted(RayEmbedding(RaySettings(actors=2), actor=DiesOnce,
                                    actor_options=(("marker", str(marker)),), per_task=16))
    report = update_index(IndexDirectory(tmp_path / "idx"), real_embedder,
                          ParagraphChunker(real_embedder), load_for_index([SAMPLE_DIR]),
                          embedding=executor, vectors=str(tmp_path / "vectors.db"))
    assert marker.read_text(), "no actor died: the test tested nothing"
    assert len(executor.keys) == len(set(executor.keys)) == report.embedded == 173
    with IndexVersion.open(IndexDirectory(tmp_path / "idx").current_version()) as version:
        assert version.manifest.vector_store["kind"] == "milvus"
        assert len(version.passages) == 37
    assert_same_index(real_index, tmp_path / "idx")


def twenty_rows() -> list[TextRow]:
    return [TextRow(f"k{i}", f"tekst {i}", i, PASSAGES, 0, "") for i in range(20)]


def test_a_node_without_the_model_is_named(cluster):
    """An actor that cannot find the driver's model on its node fails the run with vraagbaak's
    own error (read back from Ray's text of it), not Ray's wrapper."""
    from indexer.errors import ModelError
    from indexer.write.ray_embedding import RayEmbedding

    rows = twenty_rows()
    executor = RayEmbedding(RaySettings(actors=1))
    with pytest.raises(ModelError, match=r"^on Ray node .*: model folder /nonexistent/fake does "
                                         r"not exist \(every node needs the model at the same path\)$"
                       ) as caught:
        list(executor.embed(rows, FakeEmbedder(), 16))
    # the actor's hint, which Ray's text of its error would lose (keeps_hint)
    assert caught.value.hint.startswith("every node needs the model at the same path (a shared")


def test_an_actor_s_error_comes_back_as_itself_with_its_hint_from_ray_s_text():
    """Ray gives the driver an actor's failed start as text (its traceback); keeps_hint puts the
    hint where failure() reads it back. Without a hint, the message alone comes back."""
    import traceback

    from indexer.errors import ModelError
    from indexer.write.ray_session import failure, keeps_hint

    @keeps_hint
    def start(hint):
        raise ModelError("on Ray node n1, no model", hint=hint)

    for hint in ("give every node the model", None):
        with pytest.raises(ModelError) as caught:
            start(hint)
        text = "".join(traceback.format_exception(caught.value))
        died = RuntimeError("The actor died because of an error raised in its creation task, "
                            f"ray::EmbedActor.__init__()\n{text}")
        back = failure(died, None)
        assert type(back) is ModelError and str(back) == "on Ray node n1, no model"
        assert back.hint == hint
    assert failure(died, Path("/tmp/ray.log")).hint == "Ray's own messages are in /tmp/ray.log"


def test_a_batch_an_actor_fails_with_vraagbaak_s_error_comes_back_as_it(cluster):
    """Not at the actor's start but in a batch (Ray Data wraps it in its own errors)."""
    from indexer.errors import ModelError
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import RefusesABatch

    rows = twenty_rows()
    executor = RayEmbedding(RaySettings(actors=1), actor=RefusesABatch)
    with pytest.raises(ModelError) as caught:
        list(executor.embed(rows, FakeEmbedder(), 16))
    assert str(caught.value) == "this node's model refused a batch"
    assert caught.value.hint == "look at the node's model"
    assert type(caught.value) is ModelError  # not Ray's RayTaskError(ModelError)


def test_an_article_a_splitting_actor_fails_with_vraagbaak_s_error_comes_back_as_it(cluster):
    from indexer.errors import InputError
    from indexer.write.changes import stored
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import FakeActor, RefusesToSplit

    documents = [stored(d) for d in load_for_index([SAMPLE_DIR]).documents]
    embedder = FakeEmbedder()
    executor = RayEmbedding(RaySettings(actors=1), actor=FakeActor, splitter=RefusesToSplit)
    with pytest.raises(InputError, match=r"^article .* cannot be split here$") as caught:
        executor.split_all(documents, ParagraphChunker(embedder), embedder)
    assert type(caught.value) is InputError and caught.value.hint == "look at the node"


# --- what the seam promises, on a fake model ----------------------------------------------------

class Repeating:
    """Yields each batch twice (what a retried task whose first try also arrived looks like)."""

    def embed(self, rows, embedder, batch_size):
        for batch in LocalEmbedding().embed(rows, embedder, batch_size):
            yield batch
            yield batch


class FailsAfter:
    """Delivers ``n`` batches, then fails (a lost cluster)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def embed(self, rows, embedder, batch_size):
        for done, batch in enumerate(LocalEmbedding().embed(rows, embedder, batch_size)):
            if done == self.n:
                raise ClusterError("the cluster went away")
            yield batch


def _index(root: Path, embedding=None):
    embedder = FakeEmbedder()
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                        load_for_index([SAMPLE_DIR]), embedding=embedding, batch_size=16)


def test_a_text_that_comes_back_twice_is_kept_once(tmp_path):
    twice = _index(tmp_path / "twice", Repeating())
    once = _index(tmp_path / "once")
    assert twice.embedded == once.embedded > 3 * 16
    assert_same_index(tmp_path / "once", tmp_path / "twice")


def test_vectors_made_before_a_failure_are_kept_and_not_made_again(tmp_path):
    with pytest.raises(ClusterError):
        _index(tmp_path / "idx", FailsAfter(3))
    assert IndexDirectory(tmp_path / "idx").manifest_if_any() is None  # nothing published
    cache = VectorCache.open(tmp_path / "idx", FakeEmbedder().spec.fingerprint, FakeEmbedder().dim)
    try:
        assert len(cache) == 3 * 16
    finally:
        cache.close()
    again = _index(tmp_path / "idx")
    total = _index(tmp_path / "whole").embedded
    assert (again.embedded, again.reused) == (total - 3 * 16, 3 * 16)
    assert_same_index(tmp_path / "whole", tmp_path / "idx")


def test_an_executor_that_loses_texts_publishes_nothing(tmp_path):
    class Loses:
        def embed(self, rows, embedder, batch_size):
            yield from list(LocalEmbedding().embed(rows, embedder, batch_size))[1:]

    with pytest.raises(IndexWriteError, match="texts came back without a vector"):
        _index(tmp_path / "idx", Loses())
    assert IndexDirectory(tmp_path / "idx").manifest_if_any() is None


# --- the settings and the CLI's errors ----------------------------------------------------------

@pytest.mark.parametrize("address, host_port", [
    ("ray://head.example:10001", ("head.example", 10001)), ("10.0.0.5:6379", ("10.0.0.5", 6379)),
    ("[::1]:6379", ("::1", 6379)), ("local", None), ("auto", None)])
def test_addresses(address, host_port):
    assert RaySettings(address).host_port == host_port


@pytest.mark.parametrize("address", ["", "bogus", "ray://head", "head:port", "head:70000"])
def test_what_is_not_an_address_is_refused(address):
    with pytest.raises(ClusterError, match="is not local, auto, or a Ray address"):
        RaySettings(address)


@pytest.mark.parametrize("args, message, hint", [
    (["--ray", "bogus"], "--ray 'bogus' is not local, auto, or a Ray address", "ray://HOST:10001"),
    (["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1: Connection refused",
     "ray status"),
    (["--ray-actors", "2"], "--ray-actors needs --ray", "--ray local"),
])
def test_the_cli_says_what_is_wrong_before_loading_a_model(run, tmp_path, args, message, hint):
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", *args)
    assert result.exit_code == 1
    assert f"error: {message}" in result.output and "hint: " in result.output
    assert hint in result.output.split("hint: ")[1]
    assert "loading the model" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "idx").exists()


def test_cuda_on_a_ray_without_gpus_is_a_clear_error_and_publishes_nothing(cluster, run, tmp_path):
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--ray", cluster,
                 "--device", "cuda")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: --device cuda with --ray, but the Ray cluster has no GPUs" in result.output
    assert "ray start --num-gpus N" in result.output.split("hint: ")[1]
    assert IndexDirectory(tmp_path / "idx").manifest_if_any() is None


def test_without_ray_installed_the_cli_says_how_to_install_it(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where it is absent
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--ray", "local")
    assert result.exit_code == 1
    assert "error: --ray needs Ray, which is not installed here" in result.output
    assert "hint: install the extra: pip install 'vraagbaak[ray]'" in result.output



# --- splitting on Ray (fake model in the actors) -------------------------------------------------

HARD_ARTICLES = [  # a paragraph over the budget, a repeated paragraph, quotes and reported speech
    {"id": "long", "text": " ".join(f"Zin {i} over de begroting en het kabinet." for i in range(80))},
    {"id": "twice", "text": "Eerste alinea over stikstof.\n\nTweede alinea.\n\nEerste alinea over stikstof."},
    {"id": "quotes", "text": "\"We gaan door,\" zei minister Jetten van Klimaat en Energie.\n\n"
                             "Volgens Biden is het 'een goed gesprek' geweest."},
]


def test_articles_split_on_ray_are_split_as_here(cluster, tmp_path):
    from indexer.write.changes import stored
    from indexer.write.quotes import attribute
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import FakeActor

    write(tmp_path / "hard.jsonl", "\n".join(json.dumps(a) for a in HARD_ARTICLES) + "\n")
    documents = [stored(d) for d in load_for_index([SAMPLE_DIR, tmp_path / "hard.jsonl"]).documents]
    embedder = FakeEmbedder()
    chunker = ParagraphChunker(embedder, 32)  # small passages: several per article
    pieces = RayEmbedding(RaySettings(actors=2), actor=FakeActor).split_all(documents, chunker, embedder)
    assert [p.chunks for p in pieces] == [chunker.split(d.document) for d in documents]
    assert [p.quotes for p in pieces] == [attribute(d.document.doc_id, d.document.text) for d in documents]
    assert sum(len(p.chunks) for p in pieces) > 2 * len(documents) and any(p.quotes for p in pieces)


def test_an_article_lost_in_the_split_stops_the_run_and_publishes_nothing(cluster, tmp_path):
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import FakeActor, LosesAnArticle

    embedder = FakeEmbedder()
    embedding = RayEmbedding(RaySettings(actors=2), actor=FakeActor, splitter=LosesAnArticle)
    with pytest.raises(IndexWriteError, match="1 of 5 articles did not come back") as caught:
        update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                     load_for_index([SAMPLE_DIR]), embedding=embedding, batch_size=16)
    assert "nothing was published" in str(caught.value) and caught.value.hint
    with pytest.raises(IndexNotFoundError):
        IndexDirectory(tmp_path / "idx").current_version()


def test_an_index_split_and_embedded_on_ray_is_the_index_made_here(cluster, tmp_path):
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import FakeActor

    def build(root, embedding):
        embedder = FakeEmbedder()
        return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                            load_for_index([SAMPLE_DIR]), embedding=embedding, batch_size=16)

    build(tmp_path / "here", LocalEmbedding())
    seen = []
    build(tmp_path / "ray", RayEmbedding(RaySettings(actors=2), actor=FakeActor, status=seen.append))
    assert seen[:3] == ["starting a private Ray…", "splitting 5 articles on Ray: 2 actors, 1 thread each",
                        "embedding on Ray: 2 actors, 1 thread each"]  # one session for both
    assert_same_index(tmp_path / "here", tmp_path / "ray")
    ids = [d.doc_id for d in load_for_index([SAMPLE_DIR]).documents]

    def quotes(root):
        with IndexVersion.open(IndexDirectory(root).current_version()) as version:
            return {k: list(v) for k, v in version.store.quotes_of(ids).items()}
    assert quotes(tmp_path / "ray") == quotes(tmp_path / "here") and any(quotes(tmp_path / "ray").values())

class StartsOnTry:
    """A stand-in for the ray module whose init fails until try ``works``, as Ray's own start
    does when its raylet misses the 30 s it is given."""

    def __init__(self, works: int) -> None:
        self.works, self.inits, self.shutdowns = works, 0, 0

    def init(self, **options) -> None:
        self.inits += 1
        if self.inits < self.works:
            raise Exception("The current node timed out during startup.")

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.mark.parametrize("address, works, inits, fails", [
    ("local", 2, 2, False),  # a private Ray's start is tried again once
    ("local", 3, 2, True),  # ... not more
    ("ray://head:10001", 2, 1, True),  # joining a cluster is not retried: its own error stands
])
def test_a_private_ray_that_does_not_start_is_tried_once_more(address, works, inits, fails):
    from indexer.write.ray_session import init

    ray = StartsOnTry(works)
    if fails:
        with pytest.raises(Exception, match="timed out during startup"):
            init(ray, address=address)
    else:
        init(ray, address=address)
    assert ray.inits == inits and ray.shutdowns == inits - (not fails)
