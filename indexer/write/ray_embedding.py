"""Embedding on Ray (`vraagbaak index --ray`): a change's articles are split on a pool of actors
(ray_splitting.py), the driver gives the stable ids, and the texts, with those ids, go to a pool
of actors, one model each; both stages in one Ray session (`session`).

Ray Data runs it: blocks of texts (longest first, one task each) -> map_batches(EmbedActor,
ActorPoolStrategy, num_cpus=threads) -> either iter_batches here, block by block, into the
vector cache (embedding.py), or, where the vectors go to a Milvus server, the workers' sink
(milvus_sink.py), which upserts them by stable id and sends back only counts. Ray Data restarts
an actor that dies and retries its task; a text's vector is kept once, by its key, and an
upsert by stable id rewrites the same row, so a retry cannot duplicate a row. Connecting, and
keeping Ray's noise from users: ray_session.py.
Why Ray sits here: docs/decisions/0045-ray-embeds-the-texts.md; why the workers write to a
Milvus server: docs/decisions/0047-ray-workers-write-milvus.md
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from indexer.embedders import backend_of, load_embedder, load_token_counter
from indexer.embedders.base import Embedder, ModelSpec, passive_openmp_waits, resolve_model
from indexer.errors import IndexWriteError, ModelError
from indexer.settings import RAY_AUTO, RAY_LOCAL, RaySettings
from indexer.write.embedding import Batches, StoreWrite, TextRow, batch_size_of, longest_first
from indexer.write.ray_placement import Placement, cpu_placement, embedding_placement, on_gpus
from indexer.write.ray_session import (check_ray, failure, keeps_hint,  # noqa: F401 (check_ray: the CLI's)
                                       ray_session)

BATCHES_PER_TASK = 8  # a task's texts: enough that Ray's per-task cost is noise
TASKS_PER_ACTOR = 4  # at least, where there are texts enough
MAX_TASKS = 10_000  # larger changes get larger tasks: the driver tracks every block


class EmbedActor:
    """One model per actor, built from the driver's ModelSpec by the same registry entry (so
    the same prompts, precision and batch size) as `vraagbaak index` without Ray."""

    @keeps_hint
    def __init__(self, spec: dict, backend: str, threads: int, batch_size: int) -> None:
        passive_openmp_waits()  # before torch, and its libgomp, load
        import torch

        torch.set_num_threads(threads)
        self.batch_size = batch_size
        _cuda_here(backend)
        self.embedder = load_embedder(_same_model_here(ModelSpec(**spec)), backend)

    @staticmethod
    def token_counter(spec: dict, backend: str, **_) -> object:
        """What counts tokens as this actor's embedder would, from the same options, without
        loading the model where its tokenizer alone counts alike: for an actor that only
        splits (ray_splitting.py)."""
        return load_token_counter(_same_model_here(ModelSpec(**spec)), backend)

    @keeps_hint
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


def _cuda_here(backend_name: str) -> None:
    """A GPU actor on a node whose torch sees no CUDA (a CPU build of torch, a driver missing)
    fails with that said, not with torch's assertion."""
    from indexer.embedders import backend

    if backend(backend_name).device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        import ray

        # the remedy in the message too, for Ray's own logs, which show the message alone
        raise ModelError(f"on Ray node {socket.gethostname()}, Ray gave this actor GPU "
                         f"{','.join(map(str, ray.get_gpu_ids())) or '?'}, but torch sees no CUDA "
                         "there (install a CUDA build of torch on the GPU nodes)",
                         hint="install a CUDA build of torch on the GPU nodes (README, \"On a "
                              "GPU\"), or leave out --device to embed on the cluster's CPUs")


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
    splitter: type | None = None  # the splitting actor's class (None: ray_splitting.SplitActor;
    # tests give one that loses an article)
    _held: dict = field(default_factory=dict, compare=False, repr=False)  # the open session
    _ran: dict = field(default_factory=dict, compare=False, repr=False)  # the backend the actors ran

    @contextmanager
    def session(self) -> Iterator[None]:
        """One Ray for what runs inside (a run's splitting, then its embedding): a private Ray
        starts once; the stages' own calls reuse it."""
        if self._held:
            yield
            return
        self._say(_starting(self.settings))
        with ray_session(self.settings) as (ray, log):
            on_gpus(ray, self.settings)  # --device cuda on a cluster without GPUs: before the split
            self._held.update(ray=ray, log=log)
            try:
                yield
            finally:
                self._held.clear()

    @contextmanager
    def _ray(self) -> Iterator[tuple]:
        with self.session():
            yield self._held["ray"], self._held["log"]

    def split_all(self, documents: Sequence, chunker, embedder: Embedder) -> list:
        """Every document's passages and quotes, made on the actors (ray_splitting.py)."""
        from indexer.write.ray_splitting import split_on_ray

        with self._ray() as (ray, log):
            place = cpu_placement(ray, self.settings, backend_of(embedder),
                                  batch_size_of(embedder, None))
            self._say(f"splitting {len(documents):,} articles on Ray: {place.describe()}")
            try:
                return split_on_ray(ray, place.pool, documents, self.actor,
                                    self._options(embedder, place), chunker.settings(),
                                    place.resources, self.splitter)
            except Exception as exc:  # noqa: BLE001 (Ray wraps what failed in its own types)
                raise failure(exc, log) from None

    def _say(self, text: str) -> None:
        if self.status:
            self.status(text)

    def made_by(self, embedder: Embedder) -> str:
        """The backend whose vectors this run's actors made (a GPU's, where they ran on GPUs),
        for the manifest; the driver's where nothing was embedded on Ray."""
        return self._ran.get("backend", backend_of(embedder))

    def _placed(self, ray, embedder: Embedder, batch_size: int | None) -> Placement:
        place = embedding_placement(ray, self.settings, embedder.spec, backend_of(embedder),
                                    batch_size_of(embedder, batch_size), batch_size)
        self._ran["backend"] = place.backend
        return place

    def embed(self, rows: Sequence[TextRow], embedder: Embedder, batch_size: int | None) -> Batches:
        if not rows:
            return
        with self._ray() as (ray, log):
            place = self._placed(ray, embedder, batch_size)
            self._say(f"embedding on Ray: {place.describe()}")
            per_task = self._per_task(len(rows), place.batch_size, place.pool.max_size)
            data = self._mapped(_dataset(ray, rows, per_task), embedder, place, per_task, "numpy")
            try:
                for batch in data.iter_batches(batch_size=None, batch_format="numpy"):
                    yield [str(k) for k in batch["key"]], batch["vector"]
            except Exception as exc:  # noqa: BLE001 (Ray wraps what failed in its own types)
                raise failure(exc, log) from None

    def writes_to(self, store: dict) -> bool:
        """Whether the workers write the vectors themselves: into a Milvus server, which every
        worker reaches (milvus-lite is one process's file, FAISS files are the driver's)."""
        from indexer.index.stores.milvus import KIND, Location

        return store.get("kind") == KIND and not Location.parse(store["uri"]).lite

    def write(self, rows: Sequence[TextRow], holders: dict, embedder: Embedder,
              batch_size: int | None, store: dict, dim: int,
              progress: Callable[[int, int], None] | None = None) -> StoreWrite:
        """Embed ``rows`` on the actors and upsert each vector under every one of its
        ``holders`` (key -> [Holder]) from Ray's workers (milvus_sink.py); nothing but counts
        comes back. Raises unless every text was written."""
        from indexer.write import milvus_sink

        if not rows:
            return StoreWrite(frozenset())
        target = milvus_sink.Target(store["uri"], store["collections"], store["index"], dim,
                                    embedder.spec.fingerprint)
        with self._ray() as (ray, log):
            place = self._placed(ray, embedder, batch_size)
            pool = place.pool
            self._say(f"embedding on Ray: {place.describe()}, writing to Milvus from the workers")
            per_task = self._per_task(len(rows), place.batch_size, pool.max_size)
            blocks = milvus_sink.text_blocks(rows, holders, per_task)
            data = self._mapped(ray.data.from_arrow(blocks), embedder, place, per_task, "pyarrow")
            sink = (self.sink or milvus_sink.MilvusSink)(target, milvus_sink.tally_actor(ray),
                                                         **dict(self.sink_options))
            try:
                milvus_sink.run(data, sink, len(rows), progress, pool.max_size)
            except Exception as exc:  # noqa: BLE001 (Ray wraps what failed in its own types)
                raise failure(exc, log) from None
        written = sink.written()
        missing = written.missing({b: t.num_rows for b, t in enumerate(blocks)})
        if missing:
            raise IndexWriteError(f"{missing} of {len(rows)} texts were not written to Milvus; "
                                  "nothing was published",
                                  hint="run the same command again (it writes them anew)")
        return StoreWrite(frozenset(r.key for r in rows), written.written_ts)

    def _mapped(self, data, embedder: Embedder, place: Placement, per_task: int, form: str):
        """``data``'s blocks through the actors, a block a call. Ray wants the rows of a call
        named where actors ask for GPUs; a block is ``per_task`` rows (the last fewer)."""
        return data.map_batches(self.actor, fn_constructor_kwargs=self._options(embedder, place),
                                batch_size=per_task if place.gpus else None, compute=place.pool,
                                batch_format=form, **place.resources)

    def _options(self, embedder: Embedder, place: Placement) -> dict:
        return {"spec": embedder.spec.as_dict(), "backend": place.backend,
                "threads": self.settings.threads, "batch_size": place.batch_size} \
            | dict(self.actor_options)

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
