"""Settings: built once at the edges (the CLI, the server) from options and the environment,
then passed in. Nothing below the edges reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import ModelError

DEFAULT_INDEX = Path("vraagbaak-index")
INDEX_ENV = "VRAAGBAAK_INDEX"
MODELS_DIR_ENV = "VRAAGBAAK_MODELS_DIR"
BACKEND_ENV = "VRAAGBAAK_BACKEND"  # what embeds the questions
QUERY_BACKENDS = ("auto", "engine", "torch")  # indexer.embedders.CHOICES


@dataclass(frozen=True)
class Settings:
    index_dir: Path = DEFAULT_INDEX
    models_dir: Path | None = None  # None: the checkout's models/, else a per-user cache
    query_backend: str = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """From the environment, with the options a user gave (None: not given) on top."""
        env = os.environ if environ is None else environ
        values = {
            "index_dir": Path(env[INDEX_ENV]) if env.get(INDEX_ENV) else DEFAULT_INDEX,
            "models_dir": Path(env[MODELS_DIR_ENV]) if env.get(MODELS_DIR_ENV) else None,
            "query_backend": (env.get(BACKEND_ENV) or "auto").strip().lower() or "auto",
        }
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))

    def __post_init__(self) -> None:
        if self.query_backend not in QUERY_BACKENDS:
            raise ModelError(f"{BACKEND_ENV} must be {', '.join(QUERY_BACKENDS[:-1])} or "
                             f"{QUERY_BACKENDS[-1]}, not {self.query_backend!r}")
