"""Vector stores: where a version's vectors live. One module each (faiss.py: the segments' own
FAISS files, the embedded default; milvus.py: collections in Milvus), one registry (here), one
contract (base.VectorStore), one contract test run against both (tests/test_vector_stores.py).

The manifest's ``vector_store`` names the store (kind, and for Milvus its URI and collections),
so every command after `vraagbaak index --vectors URI` finds it there. The per-segment FAISS
index kinds (flat, IVF) stay the vector-index registry's (indexer/index/vectors).
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass

from indexer.errors import InputError

DEFAULT = "faiss"


@dataclass(frozen=True)
class StoreBackend:
    name: str  # the manifest's vector_store kind
    target: str  # "module:function" that opens a version's passage and sentence stores
    files: bool  # whether a segment holds the vectors as files (what Manifest.files lists)

    def open_parts(self, *args):
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)(*args)


BACKENDS = (
    StoreBackend("faiss", "indexer.index.stores.faiss:open_parts", True),
    StoreBackend("milvus", "indexer.index.stores.milvus:open_parts", False),
)


def store_of(described: dict) -> StoreBackend:
    kind = (described or {}).get("kind", DEFAULT)
    for backend in BACKENDS:
        if backend.name == kind:
            return backend
    raise InputError(f"the index's vectors are in a store of kind {kind!r}, which this vraagbaak "
                     "does not know", hint="use the vraagbaak version that built the index")


def asked_store(vectors: str | None) -> dict | None:
    """The manifest's ``vector_store`` that ``--vectors`` asks for (None: not given)."""
    if vectors is None:
        return None
    if vectors.strip().lower() == DEFAULT:
        return {"kind": DEFAULT}
    from indexer.index.stores.milvus import KIND, Location

    location = Location.parse(vectors.strip())
    return {"kind": KIND, "uri": location.uri}


def next_store(asked: dict | None, before: dict | None, root) -> dict:
    """The store the next version writes to: the index's own, or for a new index the one
    asked (FAISS by default); an index is never moved to another store by a write."""
    if before is None:
        described = dict(asked or {"kind": DEFAULT})
        if described["kind"] != DEFAULT and "collections" not in described:
            from indexer.index.stores.milvus_collections import collection_names

            # New names per index: two indexes on one server never share a collection.
            described["collections"] = collection_names(f"vraagbaak_{uuid.uuid4().hex[:12]}")
            described["index"] = {"index_type": "FLAT", "metric_type": "IP"}
        return described
    if asked is not None and (asked["kind"] != before.get("kind", DEFAULT)
                              or asked.get("uri", before.get("uri")) != before.get("uri")):
        return _refuse_mixing(asked, before, root)
    return dict(before)


def _refuse_mixing(asked: dict, before: dict, root):
    had = _said(before)
    raise InputError(f"the index at {root} keeps its vectors in {had}; --vectors asks for "
                     f"{_said(asked)}, and one index cannot hold vectors in both",
                     hint=f"leave --vectors out to write to {had}, or build a separate index "
                          "(a new --index folder) with the other store")


def _said(described: dict) -> str:
    if described.get("kind", DEFAULT) == DEFAULT:
        return "FAISS files in its folder"
    return f"Milvus at {described.get('uri')}"


def describe_store(described: dict) -> str:
    """One line for `vraagbaak info`."""
    if described.get("kind", DEFAULT) == DEFAULT:
        return "FAISS files in the index folder"
    names = ", ".join((described.get("collections") or {}).values())
    indexes = "; ".join(f"{part} {_index_said(index)}"
                        for part, index in (described.get("indexes") or {}).items())
    return f"Milvus at {described.get('uri')} (collections {names}{'; ' if indexes else ''}{indexes})"


def _index_said(index: dict) -> str:
    """'FLAT', or 'IVF_FLAT, 256 lists, 64 probed'."""
    lists, probed = index.get("params", {}).get("nlist"), index.get("search", {}).get("nprobe")
    return index.get("index_type", "?") + (f", {lists} lists, {probed} probed" if lists else "")
