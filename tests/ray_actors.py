"""Actors and sinks for the Ray tests (tests/test_ray.py, tests/test_ray_sink.py). DiesOnce: on
its second batch, once per marker file, the actor's process exits without a word (as a node's
OOM killer or a lost node would end it), after its first batch's vectors were delivered; Ray
restarts the actor and retries the batch. FakeActor: the fake model. SinkDiesOnce, SinkFailsOn:
Milvus sinks whose write task dies, or fails, part-way. LosesAnArticle: a splitting actor that
drops one. RefusesABatch, RefusesToSplit: an embedding and a splitting actor whose batches fail
with vraagbaak's own error."""

from __future__ import annotations

import os

import pyarrow.compute as pc

from indexer.write.milvus_sink import MilvusSink
from indexer.write.ray_embedding import EmbedActor
from indexer.write.ray_splitting import SplitActor


class DiesOnce(EmbedActor):
    def __init__(self, *args, marker: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.marker, self.calls = marker, 0

    def __call__(self, batch: dict) -> dict:
        self.calls += 1
        if self.calls == 2:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:  # died once already: this one lives
                return super().__call__(batch)
            os.write(fd, ",".join(str(i) for i in batch["id"]).encode())
            os.close(fd)
            os._exit(1)
        return super().__call__(batch)


class FakeActor(EmbedActor):
    """The fake model in an actor (no model to load): for the sink's tests without the model."""

    def __init__(self, spec: dict, backend: str, threads: int, batch_size: int) -> None:
        from indexer.embedders.base import ModelSpec
        from tests.fakes import FakeEmbedder

        self.batch_size = batch_size
        self.embedder = FakeEmbedder(spec=ModelSpec(**spec))

    @staticmethod
    def token_counter(spec: dict, backend: str, **_):
        from indexer.embedders.base import ModelSpec
        from tests.fakes import FakeEmbedder

        return FakeEmbedder(spec=ModelSpec(**spec))


class RefusesABatch(FakeActor):
    def _vectors(self, texts):
        from indexer.errors import ModelError

        raise ModelError("this node's model refused a batch", hint="look at the node's model")


class RefusesToSplit(SplitActor):
    def _pieces(self, doc_id, text):
        from indexer.errors import InputError

        raise InputError(f"article {doc_id} cannot be split here", hint="look at the node")


class SinkDiesOnce(MilvusSink):
    """A write task whose process exits after its first upsert (a node lost mid-write), once
    per marker file: Ray retries the task, which writes the whole block again."""

    def __init__(self, *args, marker: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.marker = marker

    def upsert(self, collections, table) -> None:
        super().upsert(collections, table)
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, ",".join(str(k) for k in table.column("block").to_pylist()).encode())
        os.close(fd)
        os._exit(1)


class SinkFailsOn(MilvusSink):
    """A write that fails (Milvus gone) on block ``block``, after the blocks before it were
    written: the run must fail, and publish nothing."""

    def __init__(self, *args, block: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.block = block

    def upsert(self, collections, table) -> None:
        if self.block in table.column("block").to_pylist():
            from indexer.errors import VectorStoreError

            raise VectorStoreError("cannot use the Milvus vector store (it went away)")
        super().upsert(collections, table)


class LosesAnArticle(SplitActor):
    """A splitting actor whose batch holding the first article comes back without it (a
    worker that dropped a row): the run must stop, and publish nothing."""

    def __call__(self, table):
        out = super().__call__(table)
        return out.filter(pc.not_equal(out.column("position"), 0))


class RecordsItsPlace(FakeActor):
    """The fake model in an actor that writes down, once, what Ray and the driver gave it: its
    GPU ids, backend and batch size (a CPU machine's Ray can be told it has GPUs; torch then
    sees none, so the model itself stays the fake one)."""

    def __init__(self, spec: dict, backend: str, threads: int, batch_size: int, record: str) -> None:
        import json

        import ray

        super().__init__(spec, backend, threads, batch_size)
        with open(record, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"gpus": [str(g) for g in ray.get_gpu_ids()], "backend": backend,
                                 "batch_size": batch_size}) + "\n")
