"""A run's writes to a vector store outside the index folder (Milvus); nothing for FAISS, whose
vectors are the segments' own files.

Before a version is published its new rows are upserted by stable id, with their article's
date span and article id; a rerun after a crash gives the same rows the same ids, so it rewrites
them (idempotent), and rows of a run that never published are never live in any version, so no
reader sees them. Ids the version makes dead are deleted one version later: the version before
CURRENT stays readable (indexer/index/directory.py), and it still holds them live.
With `--ray` and a Milvus server, Ray's workers upsert the new texts' vectors themselves
(milvus_sink.py, before this runs); here go only the rows whose vectors the driver has, and the
version records the newest timestamp of both writes.
"""

from __future__ import annotations

import numpy as np

from indexer.dates import date_span
from indexer.index.stores import DEFAULT
from indexer.write.segment_writer import SegmentRows


def keeps_files(described: dict) -> bool:
    return described.get("kind", DEFAULT) == DEFAULT


def check_store(described: dict, dim: int, fingerprint: str) -> None:
    """Reach the store and make or check its collections before anything is embedded: an
    unreachable server or another model's collection fails in a second, not after the model."""
    if keeps_files(described):
        return
    from indexer.index.stores.milvus import Location
    from indexer.index.stores.milvus_collections import MilvusCollections

    MilvusCollections(Location.parse(described["uri"]), described["collections"], dim,
                      fingerprint, described["index"]).close()


def upsert_rows(described: dict, rows: SegmentRows, dim: int, fingerprint: str,
                setting: str = "auto", counts: dict | None = None) -> dict:
    """Upsert ``rows``' vectors into the store ``described`` and fit each collection's index
    to ``counts`` (the version's live vectors per part) under ``setting`` (--vector-index);
    the description the new version records, with the indexes and the write's timestamp (what
    its readers ask Milvus to have seen)."""
    if keeps_files(described):
        return dict(described)
    from indexer.index.stores.milvus import NO_DATE, Location
    from indexer.index.stores.milvus_collections import MilvusCollections

    collections = MilvusCollections(Location.parse(described["uri"]), described["collections"],
                                    dim, fingerprint, described["index"])
    try:
        by_doc = {d.document.doc_id: (a, date_span(d.document.date) or NO_DATE)
                  for d, a in zip(rows.documents, rows.article_ids)}
        chunk_of = [by_doc[c.doc_id] for c in rows.chunks]
        position = {cid: at for at, cid in enumerate(rows.chunk_ids)}
        owner = [chunk_of[position[r[1]]] for r in rows.sentences]
        for part, ids, held, vectors, at in (
                ("passages", rows.chunk_ids, chunk_of, rows.passage_vectors, rows.passage_at),
                ("sentences", [r[0] for r in rows.sentences], owner, rows.sentence_vectors,
                 rows.sentence_at)):
            if at is not None:  # the others were written by Ray's workers (milvus_sink.py)
                ids, held = [ids[i] for i in at], [held[i] for i in at]
            collections.upsert(part, ids, vectors, [span for _, span in held],
                               [a for a, _ in held])
        indexes = collections.fit_indexes(described.get("indexes", {}), setting, counts or {})
        written = collections.written_ts()
    finally:
        collections.close()
    before = int(described.get("written_ts", 0))
    return {**described, "indexes": indexes,
            "written_ts": max(before, written, rows.stored_ts)}


def with_dead(described: dict, chunks, sentences) -> dict:
    """The description with the ids this version made dead, for the next write to delete, as
    [first, last] runs: an article's ids are consecutive, and a rebuild's are whole segments."""
    if keeps_files(described):
        return described
    return {**described, "dead": {"chunks": _runs(chunks), "sentences": _runs(sentences)}}


def _runs(ids) -> list[list[int]]:
    ids = np.unique(np.asarray(list(ids), np.int64))
    if not len(ids):
        return []
    breaks = np.flatnonzero(np.diff(ids) != 1)
    starts = np.concatenate(([ids[0]], ids[breaks + 1]))
    ends = np.concatenate((ids[breaks], [ids[-1]]))
    return [[int(a), int(b)] for a, b in zip(starts, ends)]


def _ids(runs: list) -> np.ndarray:
    if not runs:
        return np.empty(0, np.int64)
    return np.concatenate([np.arange(a, b + 1, dtype=np.int64) for a, b in runs])


def delete_dead(published_before: dict | None) -> None:
    """After a publish: delete the ids the version now before CURRENT made dead (no version
    left in the folder holds them live)."""
    if not published_before or keeps_files(published_before):
        return
    dead = published_before.get("dead") or {}
    if not any(dead.values()):
        return
    from indexer.index.stores.milvus import Location, connect

    location = Location.parse(published_before["uri"])
    client = connect(location)
    try:
        from indexer.index.stores.milvus import BATCH, unreachable

        for part, table in (("passages", "chunks"), ("sentences", "sentences")):
            ids = _ids(dead.get(table, [])).tolist()
            for start in range(0, len(ids), BATCH):
                try:
                    client.delete(published_before["collections"][part],
                                  ids=ids[start:start + BATCH])
                except Exception as exc:
                    raise unreachable(location, exc) from exc
    finally:
        client.close()
