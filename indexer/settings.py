"""Settings: built once at the edges (the CLI, the server) from options and the environment,
then passed in. Nothing below the edges reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import ClusterError, InputError, ModelError

DEFAULT_INDEX = Path("vraagbaak-index")
INDEX_ENV = "VRAAGBAAK_INDEX"
MODELS_DIR_ENV = "VRAAGBAAK_MODELS_DIR"
BACKEND_ENV = "VRAAGBAAK_BACKEND"  # what embeds the questions
QUERY_BACKENDS = ("auto", "onnx", "engine", "torch")  # indexer.embedders.CHOICES
MERGES_ENV = "VRAAGBAAK_MERGES"  # where a write's due merges run (indexer/write/background.py)
MERGE_MODES = ("background", "inline", "off")


@dataclass(frozen=True)
class Settings:
    index_dir: Path = DEFAULT_INDEX
    models_dir: Path | None = None  # None: the checkout's models/, else a per-user cache
    query_backend: str = "auto"
    merges: str = "background"  # the edges' writes: due merges in a niced child process

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """From the environment, with the options a user gave (None: not given) on top."""
        env = os.environ if environ is None else environ
        values = {
            "index_dir": Path(env[INDEX_ENV]) if env.get(INDEX_ENV) else DEFAULT_INDEX,
            "models_dir": Path(env[MODELS_DIR_ENV]) if env.get(MODELS_DIR_ENV) else None,
            "query_backend": (env.get(BACKEND_ENV) or "auto").strip().lower() or "auto",
            "merges": (env.get(MERGES_ENV) or "background").strip().lower() or "background",
        }
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))

    def __post_init__(self) -> None:
        if self.query_backend not in QUERY_BACKENDS:
            raise ModelError(f"{BACKEND_ENV} must be {', '.join(QUERY_BACKENDS[:-1])} or "
                             f"{QUERY_BACKENDS[-1]}, not {self.query_backend!r}")
        if self.merges not in MERGE_MODES:
            raise InputError(f"{MERGES_ENV} must be {', '.join(MERGE_MODES[:-1])} or "
                             f"{MERGE_MODES[-1]}, not {self.merges!r}")


RAY_LOCAL, RAY_AUTO = "local", "auto"  # `vraagbaak index --ray`; else a cluster's address
RAY_DEVICES = ("cpu", "cuda", "auto")  # where the actors embed: docs/decisions/0067-gpu-actors-on-ray.md


@dataclass(frozen=True)
class RaySettings:
    """Where and how `vraagbaak index --ray` embeds (docs/decisions/0045-ray-embeds-the-texts.md).

    ``address``: "local" starts a private Ray on this machine for the run and stops it after;
    "auto" joins the cluster Ray itself finds (RAY_ADDRESS, or one started here with `ray
    start`), else starts a private one; anything else is a cluster's address, ray://HOST:PORT
    (Ray Client) or HOST:PORT (its GCS, from a node of the cluster). ``device``: "cpu", the
    actors embed on CPUs; "cuda", each actor asks Ray for a GPU; "auto", a GPU each where the
    cluster has GPUs, else CPUs."""

    address: str = RAY_LOCAL
    actors: int | None = None  # None: as many as the cluster's CPUs and memory hold
    threads: int = 1  # torch threads per actor, and the CPUs each asks Ray for
    cpus: int | None = None  # a private Ray's CPUs; None: the machine's
    object_store_mb: int = 512  # a private Ray's object store (texts and vectors in flight)
    actor_memory_mb: int = 1024  # what each actor asks Ray for: one model (~0.8 GB) and a batch
    device: str = "cpu"  # RAY_DEVICES

    def __post_init__(self) -> None:
        if self.device not in RAY_DEVICES:
            raise ClusterError(f"the Ray setting device must be one of {', '.join(RAY_DEVICES)}, "
                               f"not {self.device!r}")
        if self.address not in (RAY_LOCAL, RAY_AUTO) and self.host_port is None:
            raise ClusterError(f"--ray {self.address!r} is not local, auto, or a Ray address",
                               hint="e.g. --ray ray://HOST:10001 (Ray Client) or --ray HOST:6379 "
                                    "(a cluster's GCS)")
        for name in ("threads", "object_store_mb", "actor_memory_mb"):
            if getattr(self, name) < 1:
                raise ClusterError(f"the Ray setting {name} must be at least 1, not {getattr(self, name)}")
        for name in ("actors", "cpus"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ClusterError(f"the Ray setting {name} must be at least 1, not {getattr(self, name)}")

    @property
    def host_port(self) -> tuple[str, int] | None:
        """A cluster address's host and port; None for local, auto, or what is not one."""
        host, _, port = self.address.removeprefix("ray://").rpartition(":")
        if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
            return None
        return host.strip("[]"), int(port)
