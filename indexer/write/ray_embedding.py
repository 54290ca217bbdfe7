"""Embedding on Ray (`vraagbaak index --ray`): a change's texts, with the stable ids the driver
gave their rows, go to a pool of actors, one model each; their vectors stream back in batches.

Ray Data runs it: blocks of texts (longest first, one task each) -> map_batches(EmbedActor,
ActorPoolStrategy, num_cpus=threads) -> iter_batches here, block by block, into the vector cache
(embedding.py). Ray Data restarts an actor that dies and retries its task; a text's vector is
kept once, by its key, so a retry cannot duplicate a row (and a sink that upserts by stable id
is idempotent for the same reason). None of Ray's noise reaches users: its loggers, progress
bars and the C++ core's lines go to a log file, which an error names.
Why Ray sits here: docs/decisions/0045-ray-embeds-the-texts.md
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.embedders import backend_of, load_embedder
from indexer.embedders.base import Embedder, ModelSpec, passive_openmp_waits, resolve_model
from indexer import errors
from indexer.errors import ClusterError, IndexWriteError, ModelError, VraagbaakError
from indexer.settings import RAY_AUTO, RAY_LOCAL, RaySettings
from indexer.write.embedding import Batches, StoreWrite, TextRow, batch_size_of, longest_first

INSTALL_HINT = "install the extra: pip install 'vraagbaak[ray]' (ray[data]==2.60.0)"
BATCHES_PER_TASK = 8  # a task's texts: enough that Ray's per-task cost is noise
TASKS_PER_ACTOR = 4  # at least, where there are texts enough
MAX_TASKS = 10_000  # larger changes get larger tasks: the driver tracks every block
CONNECT_SECONDS = 5.0
_OWN_ERROR = re.compile(r"^indexer\.errors\.(\w+): (.+)$", re.M)


class EmbedActor:
    """One model per actor, built from the driver's ModelSpec by the same registry entry (so
    the same prompts, precision and batch size) as `vraagbaak index` without Ray."""

    def __init__(self, spec: dict, backend: str, threads: int, batch_size: int) -> None:
        passive_openmp_waits()  # before torch, and its libgomp, load
        import torch

        torch.set_num_threads(threads)
        self.batch_size = batch_size
        self.embedder = load_embedder(_same_model_here(ModelSpec(**spec)), backend)

    def __call__(self, batch):
        if not isinstance(batch, dict):  # an Arrow table, on its way to a sink: texts out
            return with_vectors(batch, self._vectors(batch.column("text").to_pylist()))
        out = {k: batch[k] for k in ("key", "id", "part", "article", "date")}
        return out | {"vector": self._vectors([str(t) for t in batch["text"]])}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        vectors = [self.embedder.embed_documents(texts[b:b + self.batch_size])
                   for b in range(0, len(texts), self.batch_size)]
        return np.concatenate(vectors).astype(np.float32, copy=False)


def with_vectors(table, vectors: np.ndarray):
    """``table`` without its texts (a sink needs none), with a ``vector`` column of fixed-size
    float32 lists (plain Arrow, no Ray extension type)."""
    import pyarrow as pa

    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()),
                                               vectors.shape[1])
    return table.drop_columns(["text"]).append_column("vector", column)


def _same_model_here(spec: ModelSpec) -> ModelSpec:
    """The driver's model, found at the same place on this node, or a clear error."""
    try:
        here = resolve_model(spec.location) if spec.kind != "hub" else spec
    except ModelError as exc:
        raise ModelError(f"on Ray node {socket.gethostname()}: {exc} (every node needs the "
                         "model at the same path)",
                         hint="every node needs the model at the same path (a shared volume, or "
                              "the image), or pass --model with a hub id") from exc
    if here.fingerprint != spec.fingerprint:
        raise ModelError(f"on Ray node {socket.gethostname()}, the model at {spec.location} is "
                         "not the driver's (another fingerprint; every node needs the same one)",
                         hint="give every node the same model folder")
    return spec


@dataclass(frozen=True)
class RayEmbedding:
    """The DocumentEmbedding executor on Ray. ``actor``: the actor class (tests give one that
    dies once); ``actor_options``: its further constructor keywords; ``per_task``: texts per
    task (None: BATCHES_PER_TASK batches, more for very large changes); ``status``: where it
    says what it is doing before the first vectors come."""

    settings: RaySettings
    actor: type = EmbedActor
    actor_options: tuple[tuple[str, object], ...] = ()
    per_task: int | None = None
    status: Callable[[str], None] | None = None
    sink: type | None = None  # the Milvus sink's class (None: milvus_sink.MilvusSink; tests
    # give one that dies once)
    sink_options: tuple[tuple[str, object], ...] = ()

    def embed(self, rows: Sequence[TextRow], embedder: Embedder, batch_size: int | None) -> Batches:
        if not rows:
            return
        size = batch_size_of(embedder, batch_size)
        options = self._options(embedder, size)
        say = self.status or (lambda _: None)
        say(_starting(self.settings))
        with ray_session(self.settings) as (ray, log):
            pool = actor_pool(ray, self.settings)
            say(f"embedding on Ray: {_describe(pool)}, {_threads(self.settings)} each")
            data = _dataset(ray, rows, self._per_task(len(rows), size, pool.max_size))
            data = data.map_batches(self.actor, fn_constructor_kwargs=options, batch_size=None,
                                    compute=pool, num_cpus=self.settings.threads,
                                    memory=self.settings.actor_memory_mb << 20,
                                    batch_format="numpy")
            try:
                for batch in data.iter_batches(batch_size=None, batch_format="numpy"):
                    yield [str(k) for k in batch["key"]], batch["vector"]
            except Exception as exc:  # noqa: BLE001 (Ray wraps what failed in its own types)
                raise _failure(exc, log) from None

    def writes_to(self, store: dict) -> bool:
        """Whether the workers write the vectors themselves: into a Milvus server, which every
        worker reaches (milvus-lite is one process's file, FAISS files are the driver's)."""
        return store.get("kind") == "milvus" and not store["uri"].endswith(".db")

    def write(self, rows: Sequence[TextRow], holders: dict, embedder: Embedder,
              batch_size: int | None, store: dict, dim: int,
              progress: Callable[[int, int], None] | None = None) -> StoreWrite:
        """Embed ``rows`` on the actors and upsert each vector under every one of its
        ``holders`` (key -> [Holder]) from Ray's workers (milvus_sink.py); nothing but counts
        comes back. Raises unless every text was written."""
        from indexer.write import milvus_sink

        if not rows:
            return StoreWrite(frozenset())
        size = batch_size_of(embedder, batch_size)
        options = self._options(embedder, size)
        target = milvus_sink.Target(store["uri"], store["collections"], store["index"], dim,
                                    embedder.spec.fingerprint)
        say = self.status or (lambda _: None)
        say(_starting(self.settings))
        with ray_session(self.settings) as (ray, log):
            pool = actor_pool(ray, self.settings)
            say(f"embedding on Ray: {_describe(pool)}, {_threads(self.settings)} each, "
                f"writing to Milvus from the workers")
            blocks = milvus_sink.text_blocks(rows, holders,
                                             self._per_task(len(rows), size, pool.max_size))
            data = ray.data.from_arrow(blocks)
            data = data.map_batches(self.actor, fn_constructor_kwargs=options, batch_size=None,
                                    compute=pool, num_cpus=self.settings.threads,
                                    memory=self.settings.actor_memory_mb << 20,
                                    batch_format="pyarrow")
            sink = (self.sink or milvus_sink.MilvusSink)(target, milvus_sink.tally_actor(ray),
                                                         **dict(self.sink_options))
            try:
                milvus_sink.run(data, sink, len(rows), progress, pool.max_size)
            except VraagbaakError:
                raise
            except Exception as exc:  # noqa: BLE001 (Ray wraps what failed in its own types)
                raise _failure(exc, log) from None
        written = sink.written()
        missing = written.missing({b: t.num_rows for b, t in enumerate(blocks)})
        if missing:
            raise IndexWriteError(f"{missing} of {len(rows)} texts were not written to Milvus; "
                                  "nothing was published",
                                  hint="run the same command again (it writes them anew)")
        return StoreWrite(frozenset(r.key for r in rows), written.written_ts)

    def _options(self, embedder: Embedder, size: int) -> dict:
        return {"spec": embedder.spec.as_dict(), "backend": backend_of(embedder),
                "threads": self.settings.threads, "batch_size": size} | dict(self.actor_options)

    def _per_task(self, n: int, size: int, actors: int) -> int:
        """Whole batches (the same padding as without Ray); a few tasks per actor at least, so
        that every actor has work and the last task is short; fewer than MAX_TASKS in all."""
        if self.per_task:
            return self.per_task
        batches = -(-n // size)
        per = min(BATCHES_PER_TASK, max(1, -(-batches // (TASKS_PER_ACTOR * actors))))
        return size * max(per, -(-batches // MAX_TASKS))


def _starting(settings: RaySettings) -> str:
    if settings.address == RAY_LOCAL:
        return "starting a private Ray…"
    return "joining a Ray cluster…" if settings.address != RAY_AUTO else "finding a Ray cluster…"


def _threads(settings: RaySettings) -> str:
    return f"{settings.threads} thread{'s' if settings.threads > 1 else ''}"


def _describe(pool) -> str:
    low, high = pool.min_size, pool.max_size
    return f"{low} actors" if low == high else f"{low} to {high} actors"


def _dataset(ray, rows: Sequence[TextRow], per_task: int):
    """Blocks of ``per_task`` texts, the longest first (similar lengths batched together)."""
    import pyarrow as pa

    ordered = [rows[i] for i in longest_first(rows)]
    table = pa.table({
        "key": [r.key for r in ordered], "text": [r.text for r in ordered],
        "id": pa.array([r.id for r in ordered], pa.int64()), "part": [r.part for r in ordered],
        "article": pa.array([r.article for r in ordered], pa.int64()),
        "date": [r.date for r in ordered]})
    return ray.data.from_arrow([table.slice(b, per_task) for b in range(0, len(ordered), per_task)])


def actor_pool(ray, settings: RaySettings):
    """A fixed pool of the actors asked for (default: as many as the cluster's CPUs and memory
    hold); where fewer fit now, it starts with those and grows as the cluster does."""
    resources = ray.cluster_resources()
    fit = min(int(resources.get("CPU", 1) // settings.threads),
              int(resources.get("memory", float("inf")) // (settings.actor_memory_mb << 20)))
    fit = max(1, fit)
    wanted = settings.actors or fit
    if wanted <= fit:
        return ray.data.ActorPoolStrategy(size=wanted)
    return ray.data.ActorPoolStrategy(min_size=fit, max_size=wanted)


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[tuple[object, Path | None]]:
    """Ray connected as ``settings`` say, quiet, and disconnected afterwards (a private Ray
    stopped). A Ray this process already started (a test's, a notebook's) is used and left."""
    ray = _import_ray()
    if ray.is_initialized():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _quiet_data(ray)
            yield ray, None
        return
    with _quiet_stderr() as log:
        _connect(ray, settings, log)
        try:
            _quiet_data(ray)
            yield ray, log
        finally:
            ray.shutdown()


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ClusterError(f"--ray needs Ray, which is not installed here ({exc.name})",
                           hint=INSTALL_HINT) from None
    return ray


def _connect(ray, settings: RaySettings, log: Path) -> None:
    common = {"include_dashboard": False, "log_to_driver": False,
              "logging_level": logging.ERROR}
    private = {"num_cpus": settings.cpus or os.cpu_count() or 1,
               "object_store_memory": settings.object_store_mb << 20}
    if settings.address == RAY_LOCAL:
        return _init(ray, settings, log, address="local", **common, **private)
    if settings.address == RAY_AUTO:
        try:
            return ray.init(address="auto", **common)
        except ConnectionError:  # no cluster to join: a private one
            return _init(ray, settings, log, address="local", **common, **private)
    check_reachable(settings)
    return _init(ray, settings, log, address=settings.address, **common)


def _init(ray, settings: RaySettings, log: Path, **options) -> None:
    try:
        ray.init(**options)
    except Exception as exc:  # noqa: BLE001 (ConnectionError, RuntimeError, grpc's...)
        where = "a private Ray" if options["address"] == "local" else settings.address
        raise ClusterError(f"cannot start or join {where}: {_first_line(exc)}",
                           hint=f"Ray's own messages are in {log}") from None


def check_ray(settings: RaySettings) -> None:
    """Before anything takes time: Ray is installed, and a cluster's address answers."""
    _import_ray()
    if settings.host_port:
        check_reachable(settings)


def check_reachable(settings: RaySettings) -> None:
    """A quick, clear answer for an address nothing listens on (Ray itself retries for long)."""
    try:
        socket.create_connection(settings.host_port, timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {settings.address}: "
                           f"{exc.strerror or type(exc).__name__}",
                           hint="is the cluster up (`ray status` on its head node)? --ray local "
                                "runs a private Ray on this machine") from None


def _quiet_data(ray) -> None:
    """No progress bars, no execution banners; Ray Data's console log handler silenced (its
    log file stays), and the user's own exception rather than Ray's wrapper."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_operator_progress_bars = False
    context.print_on_execution_start = False
    context.raise_original_map_exception = True
    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.CRITICAL + 1)


@contextmanager
def _quiet_stderr() -> Iterator[Path]:
    """Everything written to file descriptor 2 (Ray's C++ core, its child processes, its
    handlers) and to sys.stdout goes to a log file while Ray runs; Python's sys.stderr, where
    vraagbaak's own progress goes, still reaches the user. The log is kept only when an error names it (or
    something unforeseen failed)."""
    fd, name = tempfile.mkstemp(prefix="vraagbaak-ray-", suffix=".log")
    sys.stderr.flush()
    saved = os.dup(2)
    own, own_out = sys.stderr, sys.stdout
    keep = True
    try:
        os.dup2(fd, 2)
        sys.stderr = open(os.dup(saved), "w", encoding=getattr(own, "encoding", None) or "utf-8",
                          errors="replace", buffering=1)
        # Ray prints its workers' errors to sys.stdout from a thread of its own: to the log too
        # (vraagbaak writes nothing to stdout while Ray runs)
        sys.stdout = open(os.dup(fd), "w", encoding="utf-8", errors="replace", buffering=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield Path(name)
        keep = False
    except VraagbaakError as exc:
        keep = name in (exc.hint or "")  # the error names it
        raise
    finally:
        sys.stderr.close()
        sys.stdout.close()
        sys.stderr, sys.stdout = own, own_out
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
        if not keep:
            Path(name).unlink(missing_ok=True)


def _failure(exc: Exception, log: Path | None) -> VraagbaakError:
    """What failed on the cluster, as vraagbaak's own error where it was one. Ray keeps an
    actor's own exception only as text (an ActorDiedError's message ends with its traceback),
    so the last `indexer.errors.X: message` line there is read back as that error."""
    where = f"Ray's own messages are in {log}" if log else None
    seen, chain = set(), [exc]
    while chain and len(seen) < 16:
        current = chain.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, VraagbaakError):
            hint = "; ".join(h for h in (current.hint, where) if h) or None
            return type(current)(str(current).split("\n")[0], hint=hint)
        own = _OWN_ERROR.findall(str(current))
        if own and isinstance(getattr(errors, own[-1][0], None), type):
            return getattr(errors, own[-1][0])(own[-1][1].strip(), hint=where)
        chain += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return ClusterError(f"embedding on Ray failed: {type(exc).__name__}: {_first_line(exc)}",
                        hint="nothing was published; the vectors made so far are kept"
                             + (f"; {where}" if where else ""))


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(exc).__name__
