"""Server settings: from the command line or the environment, fixed for the app's life."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from indexer.settings import DEFAULT_INDEX, Settings

# Why: docs/decisions/0026-request-limits.md
MAX_BATCH = 32
MAX_BODY_BYTES = 256 * 1024
MAX_WRITE_BYTES = 32 * 1024 * 1024  # POST /documents: articles, not questions
READ_TIMEOUT_S = 30.0  # the longest pause within a request body


@dataclass(frozen=True)
class ServerSettings:
    index_dir: Path = DEFAULT_INDEX
    model: str | None = None
    host: str = "127.0.0.1"  # on a loopback host, every endpoint guards against DNS rebinding
    allowed_hosts: frozenset[str] = frozenset()  # Host names answered besides the loopback ones
    api_key: str | None = None  # when set, every endpoint but /health needs "Bearer <key>"
    cors_origins: tuple[str, ...] = field(default_factory=tuple)  # none: CORS off
    max_batch: int = MAX_BATCH
    max_body_bytes: int = MAX_BODY_BYTES
    max_write_bytes: int = MAX_WRITE_BYTES
    read_timeout_s: float = READ_TIMEOUT_S
    read_only: bool = False  # refuse writes even with an API key
    core: Settings = field(default_factory=Settings)  # what the library is passed: models, backends

    @property
    def writes_enabled(self) -> bool:
        """POST/DELETE /documents: only behind an API key, never on a read-only server."""
        return self.api_key is not None and not self.read_only

    @classmethod
    def from_env(cls, **overrides) -> ServerSettings:
        origins = tuple(o.strip() for o in os.environ.get("VRAAGBAAK_CORS_ORIGINS", "").split(",")
                        if o.strip())
        hosts = frozenset(h.strip().lower() for h in
                          os.environ.get("VRAAGBAAK_ALLOWED_HOSTS", "").split(",") if h.strip())
        core = Settings.from_env(index_dir=overrides.get("index_dir"))
        values = {"index_dir": core.index_dir, "core": core,
                  "api_key": os.environ.get("VRAAGBAAK_API_KEY") or None,
                  "cors_origins": origins, "allowed_hosts": hosts}
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))
