"""A copied version's vectors brought home: read from the store that holds them (Milvus) and
written as its segments' own FAISS files, so the copy is an embedded index that answers without
that store (`vraagbaak backup --with-vectors`). milvus-backup, Milvus's own tool, is a Go binary
that no package registry here carries; this is the part of a backup that vraagbaak can make
itself, and the way off a vector database back to the embedded default.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from indexer.errors import IndexBusyError, IndexFormatError
from indexer.index.manifest import MANIFEST, SEGMENT_FILES, Manifest
from indexer.index.segments import vector_summary
from indexer.index.vectors import build_vector_index

PARTS = (("passages", "chunk_ids", "chunks"), ("sentences", "sentence_ids", "sentences"))


def bring_vectors_home(version_path: Path) -> dict:
    """Write the vectors of the version at ``version_path`` (a copy, whose manifest names the
    store that holds them) as its segments' FAISS files, and its manifest as a FAISS version's;
    the store they came from (the manifest's ``vector_store`` before).
    A row deleted since the version was written (a tombstone) gets a zero vector: no search
    returns it. Raises IndexBusyError where the store no longer holds a row the version needs."""
    from indexer.index.version import IndexVersion

    with IndexVersion.open(version_path, keywords=False) as version:
        manifest = version.manifest
        setting = manifest.vector_indexes.get("setting", "auto")
        entries = [_segment_home(segment, version, setting) for segment in version.segments]
    described = vector_summary(setting, entries)
    replace(manifest, segments=entries, vector_store={"kind": "faiss"}, vector_indexes=described,
            vector_index=described["passages"]["kind"]).write(version_path / MANIFEST)
    return manifest.vector_store


def _segment_home(segment, version, setting: str) -> dict:
    segment.load_ids()
    described = {}
    for part, ids_of, dead_of in PARTS:
        ids = getattr(segment, ids_of)
        dead = getattr(version.tombstones, dead_of)
        matrix = np.zeros((len(ids), version.manifest.dim), np.float32)
        live = np.fromiter((int(i) not in dead for i in ids), bool, len(ids))
        if live.any():
            try:
                matrix[live] = getattr(version, part).vectors(ids[live])
            except IndexFormatError as exc:  # a dead id's row goes one version after it died
                raise IndexBusyError(f"{exc}: the index changed twice while it was copied, or "
                                     "the collection was changed outside it",
                                     hint="run the backup again; if it fails the same way, "
                                          "rebuild the index") from None
        index = build_vector_index(matrix, setting)
        index.save(segment.path / SEGMENT_FILES[part])
        described[part] = index.describe()
    files = dict(SEGMENT_FILES)
    return segment.entry | {"files": files, "vector_indexes": described,
                            "bytes": {p: (segment.path / f).stat().st_size
                                      for p, f in files.items()}}


def backup_with_vectors(directory, dest: Path) -> tuple[Path, dict | None]:
    """``directory.backup(dest)``, then, where the vectors live outside the copy, the copy's
    vectors brought home; the copied version, and the store they came from (None where they
    were the version's own files). Where that fails, no half copy is left in ``dest``."""
    import shutil

    from indexer.index.stores import store_of

    made = not dest.exists()
    target = directory.backup(dest)
    try:
        elsewhere = not store_of(Manifest.from_file(target / MANIFEST).vector_store).files
        came_from = bring_vectors_home(target) if elsewhere else None
    except BaseException:
        for child in ([dest] if made else list(dest.iterdir())):
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink()
        raise
    return target, came_from
