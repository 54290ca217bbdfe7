"""What every command shares: options, exit codes, and turning errors into messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from indexer.errors import VraagbaakError
from indexer.settings import DEFAULT_INDEX, INDEX_ENV, Settings  # noqa: F401 (the commands take DEFAULT_INDEX from here)

EXIT_ERROR = 1  # nothing was done
EXIT_PARTIAL = 3  # the work was done, but some input was rejected (and reported)

IndexOption = Annotated[Path, typer.Option(
    "--index", envvar=INDEX_ENV, help=f"Index directory (env {INDEX_ENV}).")]
ModelOption = Annotated[str | None, typer.Option(
    "--model", help="Sentence-transformers model: a local folder or a hub id. Default: the "
                    "bundled multilingual-e5-small (for search: the model the index was built with).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]


def settings(**given) -> Settings:
    """The settings of this run: the environment, with the options given (None: not given)."""
    return Settings.from_env(**given)


def open_searcher(index_dir: Path, model: str | None, one_question: bool = False):
    """The searcher a command answers with, in a process set up for searching."""
    from search.searcher import Searcher, single_threaded_numpy

    single_threaded_numpy()
    return Searcher.open(index_dir, model, settings=settings(), one_question=one_question)


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


def error(message: str, hint: str | None = None) -> None:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)


def fail(exc: VraagbaakError) -> NoReturn:
    error(str(exc), exc.hint)
    raise typer.Exit(EXIT_ERROR)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn vraagbaak's own errors into a message and exit code 1, never a traceback."""
    try:
        yield
    except VraagbaakError as exc:
        fail(exc)
    except KeyboardInterrupt:
        error("interrupted; nothing was changed")
        raise typer.Exit(130) from None


def describe_vector_indexes(described: dict) -> str:
    """'exact for passages, IVF (1024 lists, 32 to 512 probed, recall@10 0.99) for sentences' style."""
    parts = []
    for part in ("passages", "sentences"):
        info = described.get(part) or {}
        if "nlist" in info:  # an IVF index: lists and probing
            recall = f", recall@10 {info['recall@10']:.3f}" if "recall@10" in info else ""
            probing = info.get("probing") or {}
            probed = (f"{probing['fewest']} to {probing['most']}" if "most" in probing
                      and probing.get("fewest") != probing["most"] else info["nprobe"])
            parts.append(f"IVF ({info['nlist']} lists, {probed} probed{recall}) for {part}")
        elif info.get("kind") == "milvus":
            parts.append(f"Milvus for {part}")
        elif info:
            parts.append(f"exact for {part}")
    return (", ".join(parts) or "exact") + f" (setting: {described.get('setting', 'auto')})"
