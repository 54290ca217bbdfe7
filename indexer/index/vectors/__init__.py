"""Vector backends: one module each (flat.py, ivf.py), one registry (here), one contract
(base.VectorIndex), and one contract test that runs against every registered backend
(tests/test_vector_backends.py).

A new backend is a module with a class that keeps the contract, plus one entry in BACKENDS.
The manifest records each vector index's ``kind`` (``describe()``); opening a version finds the
backend by that kind, so no file is sniffed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.errors import IndexFormatError, InputError
from indexer.index.manifest import REBUILD_HINT

if TYPE_CHECKING:  # the CLI reads INDEX_TYPES without paying for numpy and FAISS
    import numpy as np

    from indexer.index.vectors.base import VectorIndex

# From this many vectors on, "auto" builds an IVF index: below it exact search is fast enough.
# Why: docs/decisions/0013-ivf-from-50000-vectors.md
IVF_FROM = 50_000


@dataclass(frozen=True)
class VectorBackend:
    name: str  # the --vector-index setting that asks for it
    kinds: tuple[str, ...]  # the kinds its indexes record in the manifest
    target: str  # "module:Class", imported when first used

    def load_class(self) -> type[VectorIndex]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


BACKENDS = (
    VectorBackend("flat", ("faiss-flat-ip",), "indexer.index.vectors.flat:FlatIPIndex"),
    VectorBackend("ivf", ("faiss-ivf-sqfp16-ip", "faiss-ivf-flat-ip"),
                  "indexer.index.vectors.ivf:IVFIndex"),
)
AUTO = "auto"  # flat below IVF_FROM vectors, IVF from there
INDEX_TYPES = (AUTO, *(b.name for b in BACKENDS))


def ivf_lists(n: int) -> int:
    """How many lists an IVF over ``n`` vectors gets (``ivf.lists_for``, decision 0014): also
    what another engine's IVF is given (the Milvus store's collections)."""
    module = backend_named("ivf").target.partition(":")[0]
    return int(importlib.import_module(module).lists_for(n))


def backend_named(name: str) -> VectorBackend:
    for backend in BACKENDS:
        if backend.name == name:
            return backend
    raise InputError(f"unknown vector index type {name!r}",
                     hint=f"choose one of: {', '.join(INDEX_TYPES)}")


def backend_for_kind(kind: str, source: str = "") -> VectorBackend:
    for backend in BACKENDS:
        if kind in backend.kinds:
            return backend
    raise IndexFormatError(f"{source or 'the manifest'} names the vector index kind {kind!r}, "
                           "which this vraagbaak does not know",
                           hint="use the vraagbaak version that built the index, or rebuild it")


def build_vector_index(vectors: np.ndarray, setting: str = AUTO,
                       previous: VectorIndex | None = None) -> VectorIndex:
    """The index for ``vectors`` under ``setting``: exact below IVF_FROM (or when asked), else
    IVF; ``previous`` is the last version's index of the same part."""
    name = setting
    if setting == AUTO:
        name = "ivf" if len(vectors) >= IVF_FROM else "flat"
    if len(vectors) == 0:  # nothing to cluster: an empty exact index
        name = "flat"
    return backend_named(name).load_class().build(vectors, previous)


def load_vector_index(path: Path, described: dict | None = None, source: str = "",
                      mmap: bool = False) -> VectorIndex:
    """Open the vector index at ``path`` with the backend ``described`` (the manifest's entry)
    names. Format-3 indexes written before the manifest described vector indexes are exact."""
    kind = described.get("kind") if isinstance(described, dict) else None
    backend = backend_for_kind(kind, source) if kind else backend_named("flat")
    return backend.load_class().load(path, described, source, mmap)


def load_checked_vector_index(path: Path, vectors: int, dim: int, described: dict | None = None,
                              source: str = "", mmap: bool = False) -> VectorIndex:
    """``load_vector_index``, refusing a file that does not hold the ``vectors`` vectors of
    ``dim`` dimensions the manifest records (a file of another version, or of the other part)."""
    index = load_vector_index(path, described, source, mmap)
    if len(index) != vectors or index.dim != dim:
        raise IndexFormatError(f"the vector file {path} holds {len(index)} vectors of {index.dim} "
                               f"dimensions; the index's manifest records {vectors} of {dim}",
                               hint=REBUILD_HINT)
    return index
