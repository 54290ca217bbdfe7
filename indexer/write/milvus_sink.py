"""The Ray Data sink that writes a change's new vectors into Milvus from the workers
(`vraagbaak index --ray ... --vectors milvus://HOST:PORT`): Ray has no Milvus sink of its own.

Each row of the dataset is one text: its key, its vector, the block the driver put it in, and
every row of the change that holds that text (its ``holders``: part, stable id, article, date
span; a passage and its one sentence, or two articles' equal paragraphs, share one vector). A
write task upserts every holder by its stable id with pymilvus, so a task Ray retries, or a
block written twice, rewrites the same rows with the same vectors: the collections hold each id
once. A task returns only what the driver needs to know that every text was written: how many
texts of each block it wrote, and the newest timestamp of its writes (what the version's
readers ask Milvus to have seen, indexer/index/stores/milvus.py). The vectors never reach the
driver. Why: docs/decisions/0047-ray-workers-write-milvus.md
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ray.data import Datasink  # imported only on the --ray path (ray_embedding.py)

from indexer.write.embedding import PASSAGES, SENTENCES


@dataclass(frozen=True)
class Target:
    """The collections to write to, as the manifest's ``vector_store`` names them."""

    uri: str
    collections: dict
    index: dict
    dim: int
    fingerprint: str


@dataclass(frozen=True)
class Written:
    """What the write tasks reported: texts written per block, their newest write's timestamp."""

    per_block: Counter = field(default_factory=Counter)
    written_ts: int = 0

    @classmethod
    def of(cls, returns: Iterable[dict]) -> Written:
        per_block, newest = Counter(), 0
        for returned in returns:
            per_block.update(returned["per_block"])
            newest = max(newest, int(returned["written_ts"]))
        return cls(per_block, newest)

    def missing(self, expected: dict[int, int]) -> int:
        """Texts of ``expected`` (per block) not reported written (a repeat counts once)."""
        return sum(max(0, n - self.per_block.get(b, 0)) for b, n in expected.items())


class MilvusSink(Datasink):
    """Upserts each block's vectors, by their holders' stable ids, into the index's collections.
    ``tally``: a Ray actor with ``add(n)`` that counts written texts for the driver's progress
    (a retried task counts again: progress only, never the completeness check)."""

    def __init__(self, target: Target, tally=None) -> None:
        self.target, self.tally = target, tally
        self.returns: list[dict] = []  # the write tasks' reports, kept by on_write_complete

    def get_name(self) -> str:
        return "Milvus"

    def write(self, blocks: Iterable, ctx) -> dict:
        from ray.data.block import BlockAccessor

        collections = open_target(self.target)
        per_block: Counter = Counter()
        try:
            for block in blocks:
                table = BlockAccessor.for_block(block).to_arrow()
                if not table.num_rows:
                    continue
                self.upsert(collections, table)
                per_block.update(table.column("block").to_pylist())
                if self.tally is not None:
                    self.tally.add.remote(table.num_rows)
            written_ts = collections.written_ts()
        finally:
            collections.close()
        return {"per_block": dict(per_block), "written_ts": written_ts}

    def upsert(self, collections, table) -> None:
        """Every holder of the table's texts, each part in one upsert call (batched there)."""
        vectors = vector_matrix(table, self.target.dim)
        for part, (at, ids, spans, articles) in by_part(table.column("holders").to_pylist()).items():
            collections.upsert(part, ids, vectors[at], spans, articles)

    def on_write_complete(self, write_result) -> None:
        self.returns.extend(write_result.write_returns)

    def written(self) -> Written:
        return Written.of(self.returns)


def open_target(target: Target):
    from indexer.index.stores.milvus import Location
    from indexer.index.stores.milvus_collections import MilvusCollections

    return MilvusCollections(Location.parse(target.uri), target.collections, target.dim,
                             target.fingerprint, target.index)


def vector_matrix(table, dim: int) -> np.ndarray:
    """The ``vector`` column (fixed-size lists of float32) as an (n, dim) array, no copy per row."""
    column = table.column("vector").combine_chunks()
    return np.asarray(column.flatten().to_numpy(zero_copy_only=False),
                      np.float32).reshape(-1, dim)


def by_part(holders: Sequence[list[dict]]) -> dict[str, tuple]:
    """Per part: the positions of the texts (one per holder), the holders' ids, date spans and
    articles, in the order the upserts take them."""
    out = {PASSAGES: ([], [], [], []), SENTENCES: ([], [], [], [])}
    for at, held in enumerate(holders):
        for h in held:
            positions, ids, spans, articles = out[h["part"]]
            positions.append(at)
            ids.append(h["id"])
            spans.append((h["date_from"], h["date_to"]))
            articles.append(h["article"])
    return {part: (np.asarray(p, np.int64), i, s, a) for part, (p, i, s, a) in out.items() if p}


class Tally:
    """Written texts counted for the driver's progress lines (made a Ray actor by
    ``tally_actor``; no CPU of its own)."""

    def __init__(self) -> None:
        self.done = 0

    def add(self, n: int) -> None:
        self.done += int(n)

    def get(self) -> int:
        return self.done


def tally_actor(ray):
    return ray.remote(num_cpus=0)(Tally).remote()


def text_blocks(rows: Sequence, holders: dict, per_task: int) -> list:
    """Arrow blocks of ``per_task`` texts, the longest first (as without a sink), block b's
    rows marked b, each with its holders."""
    import pyarrow as pa

    from indexer.write.embedding import longest_first

    ordered = [rows[i] for i in longest_first(rows)]
    held = pa.list_(pa.struct([("part", pa.string()), ("id", pa.int64()),
                               ("article", pa.int64()), ("date_from", pa.int64()),
                               ("date_to", pa.int64())]))
    blocks = []
    for b, start in enumerate(range(0, len(ordered), per_task)):
        part = ordered[start:start + per_task]
        blocks.append(pa.table({
            "key": [r.key for r in part], "text": [r.text for r in part],
            "block": pa.array([b] * len(part), pa.int64()),
            "holders": pa.array([[vars(h) for h in holders[r.key]] for r in part], held)}))
    return blocks


def run(data, sink: MilvusSink, total: int, progress, writers: int, every_s: float = 1.0) -> None:
    """``data`` written into ``sink``, the written texts counted into ``progress`` about every
    ``every_s`` while Ray runs (the write blocks; the tally is read from here meanwhile)."""
    from concurrent.futures import ThreadPoolExecutor, TimeoutError

    import ray

    with ThreadPoolExecutor(1) as pool:
        # Writes are mostly waiting on Milvus: no CPU of their own (the actors hold them all),
        # as many at once as there are actors.
        future = pool.submit(data.write_datasink, sink, ray_remote_args={"num_cpus": 0},
                             concurrency=max(1, writers))
        shown = -1
        while True:
            try:
                future.result(timeout=every_s)
                break
            except TimeoutError:
                shown = _show(ray, sink, total, progress, shown)
    _show(ray, sink, total, progress, shown, final=True)


def _show(ray, sink: MilvusSink, total: int, progress, shown: int, final: bool = False) -> int:
    if progress is None or sink.tally is None:
        return shown
    if final:  # what the tasks reported, not the tally (which counts a retried task twice)
        done = min(total, sum(sink.written().per_block.values()))
    else:
        done = min(total, int(ray.get(sink.tally.get.remote())))
    if done != shown:
        progress(done, total)
    return done
