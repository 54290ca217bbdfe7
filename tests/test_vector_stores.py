"""The contract every registered vector store keeps (indexer.index.stores.BACKENDS): FAISS
segments, and Milvus through milvus-lite (the real Milvus core, file-backed, in a tmp dir).

A store holds the rows of a version and more: rows the version deleted, and rows of a later (or
crashed) write that this version never held. Each store must answer over the version's live ids
only, exactly as brute force over those would.
"""

from __future__ import annotations

import numpy as np
import pytest

from indexer.dates import date_span
from indexer.index.stores import BACKENDS
from indexer.index.stores.base import DateBounds, LiveIds
from indexer.index.vectors.flat import FlatIPIndex
from tests.test_vector_index import clustered, queries_near

N, DIM = 3_000, 48
DATES = ["2021", "2021-03", "2021-03-15", "2021-06-30", "2022-01", None, "2020-12-31"]


@pytest.fixture(scope="module")
def rows():
    vectors = clustered(N, DIM, seed=31)
    ids = np.arange(N, dtype=np.int64) * 2 + 5  # stable ids: not positions, with gaps
    rng = np.random.default_rng(32)
    dates = [DATES[i] for i in rng.integers(0, len(DATES), N)]
    dead = frozenset(int(i) for i in rng.choice(ids, 300, replace=False))
    # A later write's rows: in the shared store, never live in this version.
    foreign = np.arange(200, dtype=np.int64) * 2 + ids[-1] + 2
    return vectors, ids, dates, dead, foreign, queries_near(vectors, 40, seed=33)


def _faiss(rows, tmp_path_factory):
    from indexer.index.segments import SegmentedVectors

    vectors, ids, _, dead, _, _ = rows
    cut = N // 3  # two segments, as a version with one change has
    return SegmentedVectors([FlatIPIndex.build(vectors[:cut]), FlatIPIndex.build(vectors[cut:])],
                            [ids[:cut], ids[cut:]], dead, DIM)


def _milvus(rows, tmp_path_factory):
    pytest.importorskip("pymilvus")
    from indexer.index.stores.milvus import NO_DATE, Location, open_part
    from indexer.index.stores.milvus_collections import MilvusCollections

    vectors, ids, dates, dead, foreign, _ = rows
    location = Location.parse(str(tmp_path_factory.mktemp("milvus") / "vectors.db"))
    names = {"passages": "contract_passages", "sentences": "contract_sentences"}
    collections = MilvusCollections(location, names, DIM, "fingerprint", {
        "index_type": "FLAT", "metric_type": "IP"})
    spans = [date_span(d) or NO_DATE for d in dates]
    collections.upsert("passages", ids, vectors, spans, ids // 4)
    other = clustered(len(foreign), DIM, seed=34)
    collections.upsert("passages", foreign, other, [NO_DATE] * len(foreign), foreign)
    collections.close()
    return open_part(location, names["passages"], LiveIds([ids], dead), DIM, 0)


MAKERS = {"faiss": _faiss, "milvus": _milvus}


def test_every_registered_store_is_tested():
    assert {b.name for b in BACKENDS} == set(MAKERS)


@pytest.fixture(scope="module", params=[b.name for b in BACKENDS])
def store(request, rows, tmp_path_factory):
    made = MAKERS[request.param](rows, tmp_path_factory)
    yield made
    if hasattr(made, "close"):
        made.close()


def _exact(rows, queries, k, keep):
    vectors, ids, _, dead, _, _ = rows
    live = np.array([int(i) not in dead for i in ids]) & keep
    scores = queries @ vectors[live].T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[live][order]


def test_it_holds_the_live_ids_and_their_vectors(store, rows):
    vectors, ids, _, dead, foreign, _ = rows
    assert len(store) == N - len(dead) and store.dim == DIM
    assert int(max(set(ids.tolist()) - dead)) < store.id_space <= int(ids[-1]) + 1
    some = np.array([i for i in ids[[0, 7, N // 2, N - 1]] if int(i) not in dead])
    at = np.searchsorted(ids, some)
    assert np.allclose(store.vectors(some), vectors[at], atol=1e-5)
    assert store.vectors(np.empty(0, np.int64)).shape == (0, DIM)
    with pytest.raises(KeyError):
        store.vectors(np.array([next(iter(dead))]))
    with pytest.raises(KeyError):
        store.vectors(foreign[:1])
    assert store.kind in {b.name for b in BACKENDS}


def test_search_is_exact_over_live_ids_only(store, rows):
    vectors, ids, _, dead, foreign, queries = rows
    scores, found = store.search(queries, 10)
    assert found.shape == scores.shape == (len(queries), 10)
    assert np.all(np.diff(scores, axis=1) <= 1e-5)
    assert not (set(found.ravel().tolist()) & (dead | set(foreign.tolist())))
    expected = _exact(rows, queries, 10, np.ones(N, bool))
    agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, expected)])
    assert agree >= 0.99
    # A dead row's own vector does not find it; a live one's does.
    alive = ids[[int(i) not in dead for i in ids]][:5]
    _, self_hit = store.search(store.vectors(alive), 1)
    assert self_hit[:, 0].tolist() == alive.tolist()


@pytest.mark.parametrize("share", [0.01, 0.6])  # sent as ids to Milvus, or filtered after
def test_allowed_ids_are_the_only_ones_returned(store, rows, share):
    _, ids, _, dead, _, queries = rows
    rng = np.random.default_rng(35)
    keep = rng.random(N) < share
    allowed = np.sort(ids[keep])
    _, found = store.search(queries, 10, allowed)
    hits = found[found >= 0]
    assert set(hits.tolist()) <= set(allowed.tolist()) - dead
    expected = _exact(rows, queries, 10, keep)
    for got, want in zip(found, expected):
        assert set(got[got >= 0].tolist()) == set(want.tolist())
    _, none = store.search(queries[:2], 5, np.empty(0, np.int64))
    assert (none == -1).all()


@pytest.mark.parametrize("since,until", [(20210301, 20210331), (20210601, None), (None, 20201231)])
def test_date_bounds_never_lose_what_the_ids_allow(store, rows, since, until):
    """The searcher's ids are the truth; a store that filters by date itself (Milvus) must
    keep every row whose date span overlaps the bounds, as the searcher's rule does."""
    _, ids, dates, dead, _, queries = rows
    bounds = DateBounds(since, until)

    def overlaps(d):
        span = date_span(d)
        return span is not None and (since is None or span[1] >= since) and \
            (until is None or span[0] <= until)
    keep = np.array([overlaps(d) for d in dates])
    _, found = store.search(queries, 10, np.sort(ids[keep]), bounds)
    expected = _exact(rows, queries, 10, keep)
    for got, want in zip(found, expected):
        assert set(got[got >= 0].tolist()) == set(want.tolist())


def test_fewer_live_rows_than_k_pad_with_minus_one(store, rows):
    _, ids, _, dead, _, queries = rows
    few = np.array([i for i in ids[:20] if int(i) not in dead][:3])
    scores, found = store.search(queries[:2], 8, few)
    assert found.shape == (2, 8)
    assert set(found[:, :3].ravel().tolist()) == set(few.tolist())
    assert (found[:, 3:] == -1).all() and np.isinf(scores[:, 3:]).all()
