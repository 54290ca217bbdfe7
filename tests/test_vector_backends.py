"""The contract every registered vector backend keeps (txtai's runTests pattern): a backend
gets these tests by being registered in indexer.index.vectors.BACKENDS."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.index import vectors as registry
from indexer.index.vectors import BACKENDS, backend_for_kind, load_vector_index
from tests.test_vector_index import clustered, queries_near, recall_at_10

N = 6_000


@pytest.fixture(scope="module")
def corpus():
    vectors = clustered(N, seed=21)
    exact = registry.backend_named("flat").load_class().build(vectors)
    return vectors, queries_near(vectors, 60, seed=22), exact


@pytest.fixture(scope="module", params=BACKENDS, ids=lambda b: b.name)
def built(request, corpus):
    backend = request.param
    return backend, backend.load_class().build(corpus[0])


def test_it_holds_every_vector_under_its_position_id(built, corpus):
    backend, index = built
    vectors = corpus[0]
    assert len(index) == N and index.dim == vectors.shape[1]
    assert index.kind in backend.kinds and backend_for_kind(index.kind) == backend
    ids = np.array([0, 17, N - 1])
    assert np.allclose(index.vectors(ids), vectors[ids], atol=1e-3)
    assert index.vectors(np.array([], np.int64)).shape == (0, index.dim)


def test_it_finds_what_exact_search_finds_best_first(built, corpus):
    _, index = built
    vectors, queries, exact = corpus
    scores, ids = index.search(queries, 10)
    assert scores.shape == ids.shape == (len(queries), 10)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    assert recall_at_10(exact.search(queries, 10)[1], ids) >= 0.98
    _, self_ids = index.search(vectors[:20], 1)  # a stored vector finds itself
    assert self_ids[:, 0].tolist() == list(range(20))
    assert index.search(queries[:0], 10)[1].shape == (0, 10)


@pytest.mark.parametrize("share", [0.002, 0.5])  # the exact-subset path and the filtered scan
def test_a_filter_returns_only_allowed_ids(built, corpus, share):
    _, index = built
    vectors, queries, exact = corpus
    allowed = np.sort(np.random.default_rng(4).choice(N, int(share * N), replace=False))
    _, ids = index.search(queries, 10, allowed)
    found = ids[ids >= 0]
    assert set(found.tolist()) <= set(allowed.tolist())
    assert recall_at_10(exact.search(queries, 10, allowed)[1], ids) >= 0.97
    _, none = index.search(queries[:3], 5, np.empty(0, np.int64))
    assert (none == -1).all()


def test_it_round_trips_through_its_files_and_its_description(built, corpus, tmp_path):
    _, index = built
    queries = corpus[1]
    index.save(tmp_path / "part")
    described = index.describe()
    assert described["kind"] == index.kind and described["vectors"] == N
    loaded = load_vector_index(tmp_path / "part", described, "manifest.json")
    assert type(loaded) is type(index) and len(loaded) == N
    assert np.array_equal(loaded.search(queries, 10)[1], index.search(queries, 10)[1])


def test_a_rebuild_may_build_on_the_previous_index(built, corpus):
    backend, index = built
    grown = np.concatenate([corpus[0], clustered(500, seed=23)])
    rebuilt = backend.load_class().build(grown, index)
    assert len(rebuilt) == N + 500 and rebuilt.kind in backend.kinds
    _, ids = rebuilt.search(grown[-5:], 1)
    assert ids[:, 0].tolist() == list(range(N + 495, N + 500))
