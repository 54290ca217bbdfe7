"""Search latency per vector store: FAISS segments, milvus-lite, a Milvus standalone server.

The same N clustered vectors (384-d, like e5-small's) in each store, each asked the same
questions the way a search asks them: top 50 (the dense leg's), top 50 under a date filter
that keeps about a tenth (ids and date bounds), and the 60 vectors a search rescores (get by id).
On the server, also each consistency level for the plain search: Strong (the newest timestamp,
so a wait for the next time tick), Bounded, and the version's own write timestamp (what
vraagbaak uses: read-your-writes, as cheap as Bounded once the write is visible).

A server is the one given with --server URI, else one started from tests/milvus_server.py's venv
(.venv-milvus, or VRAAGBAAK_MILVUS_VENV) for the run and stopped after; without either the
server rows are left out.

usage: python -m bench.milvus [--n 20000] [--questions 200] [--server http://127.0.0.1:19530]
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from bench.lib import results
from bench.lib.timing import Timer

DIM, K, RESCORED = 384, 50, 60


def corpus(n: int, questions: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(500, DIM)).astype(np.float32)
    v = centres[rng.integers(0, 500, n)] + rng.normal(0, 0.7, (n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[rng.integers(0, n, questions)] + rng.normal(0, 0.2, (questions, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    days = 20200101 + rng.integers(0, 12, n) * 100  # the first of one of 12 months
    return v, q, days


def faiss_store(v, _days, _folder):
    from indexer.index.segments import SegmentedVectors
    from indexer.index.vectors.flat import FlatIPIndex

    return SegmentedVectors([FlatIPIndex.build(v)], [np.arange(len(v), dtype=np.int64)],
                            frozenset(), DIM)


def milvus_store(uri: str):
    def make(v, days, _folder):
        from indexer.index.stores.base import LiveIds
        from indexer.index.stores.milvus import Location, open_part
        from indexer.index.stores.milvus_collections import MilvusCollections

        location = Location.parse(uri)
        name = f"bench_{np.random.default_rng().integers(1 << 30)}"
        collections = MilvusCollections(location, {"passages": name}, DIM, "bench",
                                        {"index_type": "FLAT", "metric_type": "IP"})
        ids = np.arange(len(v), dtype=np.int64)
        collections.upsert("passages", ids, v, [(d, d) for d in days], ids)
        ts = collections.written_ts()
        collections.close()
        return open_part(location, name, LiveIds([ids], frozenset()), DIM, ts)
    return make


def measure(store, q, days) -> dict:
    allowed = np.flatnonzero(days == 20200601).astype(np.int64)
    from indexer.index.stores.base import DateBounds

    bounds = DateBounds(20200601, 20200630)
    rng = np.random.default_rng(3)
    plain, dated, fetch = Timer(), Timer(), Timer()
    store.search(q[:1], K)  # a first call's set-up is not what is measured
    for row in q:
        with plain:
            store.search(row, K)
        with dated:
            store.search(row, K, allowed, bounds)
        ids = np.sort(rng.choice(len(days), RESCORED, replace=False))
        with fetch:
            store.vectors(ids)
    return {"search": plain.summary(), "dated": dated.summary(), "get": fetch.summary()}


def consistency(store, q) -> dict:
    """The plain search's p50 per consistency level, on one store's own client."""
    out = {}
    levels = {"Strong": {"consistency_level": "Strong"},
              "Bounded": {"consistency_level": "Bounded"},
              "version's write ts": store._consistency()}
    for name, level in levels.items():
        timer = Timer()
        for row in q[:50]:
            with timer:
                store._client.search(store.collection, data=[row.tolist()], limit=K,
                                     anns_field="vector", **level)
        out[name] = timer.summary()
    return out


@contextmanager
def server(given: str | None):
    if given:
        yield given
        return
    try:
        from tests import milvus_server
    except ImportError:
        yield None
        return
    if milvus_server.missing() is not None:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = milvus_server.start(Path(tmp))
        try:
            yield started.uri
        finally:
            milvus_server.stop(started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--server", help="a Milvus server's URI (default: start one, if installed)")
    args = parser.parse_args()
    v, q, days = corpus(args.n, args.questions)
    numbers, levels = {}, {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        uri = stack.enter_context(server(args.server))
        makers = {"faiss": faiss_store, "milvus-lite": milvus_store(str(Path(tmp) / "bench.db"))}
        if uri:
            makers["milvus standalone"] = milvus_store(uri)
        for name, make in makers.items():
            store = make(v, days, tmp)
            numbers[name] = measure(store, q, days)
            if name == "milvus standalone":
                levels = consistency(store, q)
            if hasattr(store, "close"):
                store.close()
    cells = ("search", "dated", "get")
    rows = [[name, *(f"{m[c]['p50']:.1f} / {m[c]['p95']:.1f}" for c in cells)]
            for name, m in numbers.items()]
    tables = [results.table(
        f"Vector store latency, {args.n:,} vectors of {DIM} dims, {args.questions} questions "
        f"(p50 / p95 ms)", ["store", f"top {K}", f"top {K}, date filter (1/12)",
                            f"get {RESCORED} vectors"], rows,
        "" if uri else "no Milvus server: its rows are left out")]
    if levels:
        tables.append(results.table(
            "Milvus standalone: a top-50 search per consistency level (p50 / p95 ms)",
            ["consistency", "ms"], [[k, f"{s['p50']:.1f} / {s['p95']:.1f}"]
                                    for k, s in levels.items()]))
    results.publish({"n": args.n, "questions": args.questions, "stores": numbers,
                     "consistency": levels}, tables)


if __name__ == "__main__":
    main()
