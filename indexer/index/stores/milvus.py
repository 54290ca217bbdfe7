"""Vectors in Milvus: one collection per index and part, shared by all the index's versions.

Fields: ``id`` INT64 primary (the stable id), ``vector`` FLOAT_VECTOR (inner product: vectors are
normalised), ``date_from``/``date_to`` INT64 (the article date's span as YYYYMMDD, so a date
filter is an expression Milvus evaluates during the search, with the searcher's overlap rule),
``article`` INT64 (the stable article id). One pymilvus ``MilvusClient`` code path; only the URI
differs: ``http://HOST:PORT`` for a server, a ``.db`` path for milvus-lite.

A writer upserts a change's rows by stable id before the version is published (so a rerun after
a crash rewrites the same rows) and deletes dead ids one version later (indexer/write/
store_writes.py). A reader sees only the ids its version holds live, and asks Milvus for a
guarantee timestamp no older than its version's own write: every process reads the writes of
the version it opened, and a search pays no more than Bounded once they are visible.
Why: docs/decisions/0043-vector-stores-and-consistency.md
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError, InputError, VectorStoreError
from indexer.index.stores.base import DateBounds, LiveIds

KIND = "milvus"
TOPK_MAX = 16_384  # Milvus's largest limit per search
ID_FILTER_MAX = 4_096  # an ``allowed`` set up to this size is sent as ``id in [...]``
BATCH = 2_000  # rows per upsert, ids per get or delete
NO_DATE = (99_999_999, 0)  # a span no filter overlaps: an undated article passes no date filter
TIMEOUT_S = 15.0
# milvus-lite's server sends GOAWAY "too_many_pings" after about 80 s of pymilvus's idle 10 s
# keepalive pings, and gRPC prints that to stderr: no keepalive to a child process's socket
LITE_GRPC = {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": 0}
INSTALL_HINT = "install the Milvus client: pip install 'vraagbaak[milvus]'"


@dataclass(frozen=True)
class Location:
    """Where a store's collections are: the URI as given (for messages and the manifest) and
    what pymilvus is given."""

    uri: str
    target: str

    @classmethod
    def parse(cls, uri: str) -> Location:
        if uri.startswith("milvus://"):
            return cls(uri, "http://" + uri.removeprefix("milvus://").rstrip("/"))
        if uri.startswith(("http://", "https://")):
            return cls(uri, uri.rstrip("/"))
        if uri.endswith(".db"):
            path = Path(uri).expanduser().absolute()
            return cls(str(path), str(path))
        raise InputError(f"--vectors {uri!r} is not a Milvus location",
                         hint="give milvus://HOST:PORT (a Milvus server) or a path ending in .db "
                              "(milvus-lite), or leave --vectors out for FAISS files")

    @property
    def lite(self) -> bool:
        return self.target.endswith(".db")


def connect(location: Location):
    """A MilvusClient for ``location``; a clear error when pymilvus is missing or Milvus
    cannot be reached, never the library's traceback or log lines."""
    try:
        with warnings.catch_warnings():  # milvus-lite imports pkg_resources, which warns
            warnings.simplefilter("ignore")
            from pymilvus import MilvusClient
    except ImportError as exc:
        raise InputError(f"the index's vectors are in Milvus ({location.uri}), but the Milvus "
                         "client is not installed", hint=INSTALL_HINT) from exc
    _quiet()
    if location.lite:
        Path(location.target).parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MilvusClient(uri=location.target, timeout=TIMEOUT_S,
                                **({"grpc_options": LITE_GRPC} if location.lite else {}))
    except Exception as exc:  # pymilvus raises MilvusException, grpc errors, or a bare Exception
        raise unreachable(location, exc) from exc


def unreachable(location: Location, exc: BaseException) -> VectorStoreError:
    reason = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).splitlines()[0]
    hint = ("check that the .db file's folder is writable and no other process holds it open"
            if location.lite else
            f"start Milvus there (or fix the address), e.g. `milvus run standalone`; the "
            f"index's vectors live in Milvus, so searching and writing it need it")
    return VectorStoreError(f"cannot use the Milvus vector store at {location.uri} ({reason})",
                            hint=hint)


def _quiet() -> None:
    """pymilvus logs retries on its own loggers and milvus-lite errors on the root logger (which,
    unconfigured, prints them); vraagbaak says what went wrong itself."""
    for name in ("pymilvus", "milvus_lite", "grpc"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    root = logging.getLogger()
    if not any(isinstance(f, _FromMilvusLite) for f in root.filters):
        root.addFilter(_FromMilvusLite())


class _FromMilvusLite(logging.Filter):
    """Drops the records milvus-lite makes on the root logger itself, and only those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{os.sep}milvus_lite{os.sep}" not in record.pathname


def date_expression(dates: DateBounds | None) -> str:
    """The overlap rule as a Milvus expression: a span passes when it ends on or after ``since``
    and starts on or before ``until`` (an undated row's span passes neither)."""
    if dates is None:
        return ""
    terms = []
    if dates.since is not None:
        terms.append(f"date_to >= {int(dates.since)}")
    if dates.until is not None:
        terms.append(f"date_from <= {int(dates.until)}")
    return " and ".join(terms)


class MilvusClientUser:
    """What the read and the write side do alike with their pymilvus client (``_client``, at
    ``location``): every call's failure becomes a VectorStoreError naming the store."""

    _client: object
    location: Location

    def _call(self, method: str, *args, **kwargs):
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except Exception as exc:
            raise unreachable(self.location, exc) from exc

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # a connection already gone (both parts may share one client)
            pass


class MilvusVectors(MilvusClientUser):
    """One part's vectors of one version, in a collection that all the index's versions share."""

    kind = KIND

    def __init__(self, client, location: Location, collection: str, live: LiveIds, dim: int,
                 written_ts: int = 0, index: dict | None = None) -> None:
        self._client, self.location, self.collection = client, location, collection
        self._live, self.dim = live, dim
        self._written_ts = int(written_ts)
        self.index = dict(index or {"index_type": "FLAT", "metric_type": "IP"})  # the manifest's
        self._search_params = {"metric_type": "IP", "params": dict(self.index.get("search", {}))}

    @property
    def id_space(self) -> int:
        return self._live.space

    def __len__(self) -> int:
        return self._live.count

    def _consistency(self, strong: bool = False) -> dict:
        """Strong when asked (a vector the version holds was not found: wait for the newest);
        else a guarantee no older than the version's write (its rows are visible to whoever
        opened it: read-your-writes across processes); Bounded where no timestamp was had
        (milvus-lite answers at once)."""
        if strong:
            return {"consistency_level": "Strong"}
        if self._written_ts:
            return {"consistency_level": "Customized", "guarantee_timestamp": self._written_ts}
        return {"consistency_level": "Bounded"}

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               dates: DateBounds | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        keep = self._live.mask if allowed is None else _allowed_mask(self._live, allowed)
        wanted = int(np.count_nonzero(keep))
        if not len(queries) or k == 0 or wanted == 0:
            return scores, ids
        expression = date_expression(dates)
        if allowed is not None and not expression and len(allowed) <= ID_FILTER_MAX:
            expression = f"id in {np.asarray(allowed, np.int64).tolist()}"
        # Rows outside the version (dead, or of a later write) take places in Milvus's answer:
        # ask for more until k are kept, Milvus has no more, or the limit is reached.
        limit = min(TOPK_MAX, max(2 * k, k + 16))
        todo = list(range(len(queries)))
        while todo:
            found = self._call("search", self.collection, data=queries[todo].tolist(),
                               limit=limit, filter=expression, anns_field="vector",
                               search_params=self._search_params, **self._consistency())
            again = []
            for row, hits in zip(todo, found):
                got = np.asarray([h["id"] for h in hits], np.int64)
                near = np.asarray([h["distance"] for h in hits], np.float32)
                kept = np.zeros(len(got), bool)
                inside = (got >= 0) & (got < len(keep))
                kept[inside] = keep[got[inside]]
                take = np.flatnonzero(kept)[:k]
                scores[row, :len(take)], ids[row, :len(take)] = near[take], got[take]
                if len(take) < min(k, wanted) and len(hits) == limit and limit < TOPK_MAX:
                    again.append(row)
            todo, limit = again, min(TOPK_MAX, limit * 4)
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        out = np.empty((len(ids), self.dim), np.float32)
        if not len(ids):
            return out
        live = self._live.holds(ids)
        if not live.all():
            raise KeyError(f"no live vector has the id {int(ids[~live][0])}")
        wanted = np.unique(ids)
        found = self._get(wanted, strong=False)
        if len(found) < len(wanted):  # written, but not yet visible at that timestamp
            found.update(self._get(np.asarray([i for i in wanted if int(i) not in found]), True))
        for at, i in enumerate(ids.tolist()):
            if i not in found:
                raise IndexFormatError(
                    f"the Milvus collection {self.collection} at {self.location.uri} lacks the "
                    f"vector {i}, which this index version holds",
                    hint="rebuild the index (the collection was changed or dropped outside it)")
            out[at] = found[i]
        return out

    def _get(self, ids: np.ndarray, strong: bool) -> dict[int, np.ndarray]:
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(ids), BATCH):
            rows = self._call("get", self.collection, ids=ids[start:start + BATCH].tolist(),
                              output_fields=["vector"], **self._consistency(strong))
            found.update((int(r["id"]), np.asarray(r["vector"], np.float32)) for r in rows)
        return found

    def describe(self) -> dict:
        return {"kind": self.kind, "uri": self.location.uri, "collection": self.collection,
                "live": len(self), "index": self.index}


def _allowed_mask(live: LiveIds, allowed: np.ndarray) -> np.ndarray:
    allowed = np.asarray(allowed, np.int64)
    allowed = allowed[(allowed >= 0) & (allowed < live.space)]
    mask = np.zeros(live.space, bool)
    mask[allowed] = True
    return mask & live.mask


def open_part(location: Location, collection: str, live: LiveIds, dim: int, written_ts: int,
              client=None, index: dict | None = None):
    """The reader of one part; ``client``: one shared by both parts of a version."""
    client = client or connect(location)
    try:
        if not client.has_collection(collection):
            raise IndexFormatError(f"the index's vectors should be in the Milvus collection "
                                   f"{collection} at {location.uri}, which is not there",
                                   hint="rebuild the index with --vectors "
                                        f"{location.uri} (the collection was dropped)")
    except IndexFormatError:
        raise
    except Exception as exc:
        raise unreachable(location, exc) from exc
    return MilvusVectors(client, location, collection, live, dim, written_ts, index)


def open_parts(path, manifest, segments, tombstones) -> tuple[MilvusVectors, MilvusVectors]:
    """The passage and sentence stores of a version: the ids its segments hold live, over the
    collections its manifest names (one client for both)."""
    described = manifest.vector_store
    location = Location.parse(described["uri"])
    for segment in segments:
        segment.load_ids()
    live = (LiveIds([s.chunk_ids for s in segments], tombstones.chunks),
            LiveIds([s.sentence_ids for s in segments], tombstones.sentences))
    client = connect(location)
    ts = int(described.get("written_ts", 0))
    names, indexes = described["collections"], described.get("indexes", {})
    return tuple(open_part(location, names[part], ids, manifest.dim, ts, client,
                           indexes.get(part, described.get("index")))
                 for part, ids in zip(("passages", "sentences"), live))
