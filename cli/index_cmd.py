"""`vraagbaak index`: load, chunk, embed and publish articles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (DEFAULT_INDEX, EXIT_PARTIAL, IndexOption, JsonOption, ModelOption,
                        describe_vector_indexes, handle_errors, print_json, settings)
from indexer.index.vectors import INDEX_TYPES
from indexer.write.chunking import DEFAULT_MAX_TOKENS

VectorIndexType = Enum("VectorIndexType", {name: name for name in INDEX_TYPES}, type=str)
Device = Enum("Device", {name: name for name in ("auto", "cpu", "cpu-bf16", "cuda")}, type=str)  # embedders.DEVICES


def index(
    paths: Annotated[list[Path], typer.Argument(
        help="Article files (.txt in the sample format, .jsonl one article per line) or folders "
             "(searched recursively).", show_default=False)],
    index_dir: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    max_tokens: Annotated[int, typer.Option(
        "--max-tokens", min=32, max=500, help="Token budget per passage.")] = DEFAULT_MAX_TOKENS,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Also remove indexed articles whose source file under PATHS is gone or "
                        "no longer holds them.")] = False,
    vector_index: Annotated[VectorIndexType | None, typer.Option(
        "--vector-index", help="Vector search: exact (flat), approximate (ivf), or auto: exact "
                               "below 50,000 vectors, IVF from there. Kept for later runs; "
                               "default: the index's own setting, auto for a new index.",
        show_default=False)] = None,
    device: Annotated[Device, typer.Option(
        "--device", help="Where the model embeds: auto picks a CUDA GPU when torch sees one "
                         "(fp16 there), else the CPU: for the bundled model bf16 matrix "
                         "products where the CPU has AVX-512 BF16 and a short probe measures "
                         "them faster than fp32 (docs/decisions/0061), else fp32 on "
                         "OpenVINO's kernels (0069); cpu: always fp32 on torch (any model, no "
                         "OpenVINO); cpu-bf16: always bf16 products. With --ray: auto gives "
                         "each actor a GPU where the cluster has GPUs, else the actors embed "
                         "in fp32 on CPUs (cpu-bf16 asks for bf16 there); cuda always a GPU "
                         "each. The manifest records which path made the vectors.")] = Device.auto,
    vectors: Annotated[str | None, typer.Option(
        "--vectors", metavar="URI",
        help="Where a new index keeps its vectors: faiss (files in the index folder, the "
             "default), milvus://HOST:PORT (a Milvus server) or PATH.db (milvus-lite). Kept in "
             "the manifest: later runs, search and serve find it there.",
        show_default=False)] = None,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="local|auto|ADDRESS",
        help="Embed on Ray, one model per actor (needs the extra: pip install "
             "'vraagbaak[ray]'): local starts a private Ray on this machine for the run; auto "
             "joins the cluster Ray finds (RAY_ADDRESS, or one started here with `ray start`), "
             "else starts a private one; or a cluster's address, ray://HOST:10001 or "
             "HOST:6379. Every node needs the model at the same path.",
        show_default=False)] = None,
    ray_actors: Annotated[int | None, typer.Option(
        "--ray-actors", min=1, help="Actors (models) on Ray; default: as many as the "
                                    "cluster's CPUs (divided by --ray-threads), memory and, on GPUs, GPUs hold.",
        show_default=False)] = None,
    ray_threads: Annotated[int, typer.Option(
        "--ray-threads", min=1, help="Torch threads per actor (the CPUs each asks Ray for).")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Index articles: add new ones, update changed ones, skip unchanged ones.

    Only new or changed text is embedded. Articles already in the index that PATHS do not hold
    stay, unless --prune (or `vraagbaak remove`). Files that cannot be read are reported with the
    reason and left out; the rest are indexed (exit code 3 then, 1 if nothing could be indexed).
    With --ray, the new texts are embedded on a Ray cluster; the rest of the run stays here.
    """
    from indexer import embedders
    from indexer.embedders.base import LazyEmbedder, resolve_model_for_index
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.index.stores import asked_store
    from indexer.write.pipeline import load_for_index, update_index

    with handle_errors():
        asked_store(vectors)  # a URI that is not one fails before anything is read
        ray_settings = _ray_settings(ray, ray_actors, ray_threads, device)
        loaded = load_for_index(paths)  # bad input fails before the model takes seconds to load
        target = IndexDirectory(index_dir)
        manifest = target.manifest_if_any()
        spec = resolve_model_for_index(manifest.model if manifest else None, model,
                                       settings().models_dir)
        with progress_display() as show:
            def load(spec):
                show.status("loading the model…")
                model = embedders.load_embedder(spec, _document_backend(spec, device,
                                                                        bool(ray_settings)))
                show.status("embedding passages")
                return model

            embedder = LazyEmbedder(spec, load)  # not loaded when nothing is new
            report = update_index(target, embedder, ParagraphChunker(embedder, max_tokens), loaded,
                                  prune_under=paths if prune else (),
                                  index_type=vector_index.value if vector_index else None,
                                  progress=show.advance, vectors=vectors,
                                  embedding=_embedding(ray_settings, show.status),
                                  merges=settings().merges)
    if as_json:
        print_json(report_json(report, embedder.spec.model_id))
    else:
        print_summary(report, embedder.spec.model_id)
    if report.problems:
        raise typer.Exit(EXIT_PARTIAL)


def _document_backend(spec, device: Device, on_ray: bool) -> str:
    """The path this process loads. With --ray the driver embeds nothing and its CPU actors run
    its path (a GPU is the actors', ray_placement.py): under auto or cuda, fp32 (OpenVINO's where
    it is there), since this machine's bf16 probe says nothing of the actors' CPUs."""
    from indexer import embedders

    if on_ray and device in (Device.auto, Device.cuda):
        return embedders.document_backend_for(spec, "auto", cuda_available=lambda: False,
                                              bf16_faster=lambda: False)
    return embedders.document_backend_for(spec, device.value)


def _ray_settings(address: str | None, actors: int | None, threads: int, device: Device):
    from indexer.errors import ClusterError
    from indexer.settings import RaySettings

    if address is None:
        if actors is not None:
            raise ClusterError("--ray-actors needs --ray", hint="e.g. --ray local --ray-actors 2")
        return None
    from indexer.write.ray_embedding import check_ray

    # auto and cuda: the actors' GPUs, where the cluster has them (ray_placement.py); cpu and
    # cpu-bf16: the actors run the driver's CPU backend
    on = device.value if device in (Device.auto, Device.cuda) else "cpu"
    settings = RaySettings(address.strip(), actors=actors, threads=threads, device=on)
    check_ray(settings)  # before the model takes seconds to load
    return settings


def _embedding(ray_settings, status):
    """Who embeds the new texts: this process, or Ray (imported only then)."""
    from indexer.write.embedding import LocalEmbedding

    if ray_settings is None:
        return LocalEmbedding()
    from indexer.write.ray_embedding import RayEmbedding

    return RayEmbedding(ray_settings, status=status)


class PlainProgress:
    """Progress as plain lines on stderr, for logs and pipes (a bar there is invisible, or
    escape codes): at every further tenth of the texts, and at least every ``every`` seconds."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last_time = time.monotonic()
        self._last_tenth = 0

    def status(self, text: str) -> None:
        typer.echo(text, err=True)

    def advance(self, done: int, total: int) -> None:
        tenth = 10 * done // total if total else 10
        now = time.monotonic()
        if tenth > self._last_tenth or now - self._last_time >= self.every or done == total:
            self._last_tenth, self._last_time = tenth, now
            typer.echo(f"embedded {done:,} of {total:,} texts", err=True)


class _BarProgress:
    """The rich bar, for a terminal."""

    def __init__(self, bar) -> None:
        self._bar = bar
        self._task = bar.add_task("comparing with the index", total=None)

    def status(self, text: str) -> None:
        self._bar.update(self._task, description=text)

    def advance(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)


@contextmanager
def progress_display() -> Iterator[PlainProgress | _BarProgress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield PlainProgress()
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        yield _BarProgress(bar)


def report_json(report, model_id: str | None) -> dict:
    return {
        "index": str(report.index_dir), "model": model_id, "articles": report.articles,
        "chunks": report.chunks, "tokens": report.tokens, "seconds": round(report.seconds, 2),
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "removed": report.removed, "kept": report.kept, "embedded": report.embedded,
        "reused": report.reused, "published": report.published,
        "vector_indexes": report.vector_indexes, "unknown": report.unknown,
        "problems": [{"path": p.path, "line": p.line, "message": p.message} for p in report.problems],
        "ignored": [str(p) for p in report.ignored],
    }


def print_summary(report, model_id: str | None) -> None:
    changes = (f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.removed} removed")
    if not report.published:
        typer.echo(f"Nothing changed ({changes}); the index at {report.index_dir} stays as it was")
    else:
        typer.echo(f"Indexed into {report.index_dir}: {changes} ({report.seconds:.1f} s; "
                   f"embedded {report.embedded} texts, reused {report.reused})")
    typer.echo(f"The index holds {report.articles} articles as {report.chunks} passages "
               f"({report.tokens:,} tokens)" + (f"; model: {model_id}" if model_id else ""))
    if report.vector_indexes.get("passages"):
        typer.echo(f"Vector search: {describe_vector_indexes(report.vector_indexes)}")
    if report.unknown:
        typer.echo(f"Not in the index ({len(report.unknown)}): {', '.join(report.unknown)}", err=True)
    if report.problems:
        typer.echo(f"Left out ({len(report.problems)}):", err=True)
        for problem in report.problems:
            typer.echo(f"  {problem}", err=True)
    if report.ignored:
        shown = ", ".join(str(p) for p in report.ignored[:3])
        more = f" and {len(report.ignored) - 3} more" if len(report.ignored) > 3 else ""
        typer.echo(f"Ignored {len(report.ignored)} files that are not .txt or .jsonl: {shown}{more}")
