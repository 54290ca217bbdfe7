"""`vraagbaak search`: answer one question, or a file of them."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (DEFAULT_INDEX, EXIT_PARTIAL, IndexOption, JsonOption, ModelOption, error,
                        handle_errors, print_json)

BATCH_SIZE = 64


def search(
    question: Annotated[str | None, typer.Argument(
        help="The question, in Dutch or English.", show_default=False)] = None,
    index_dir: IndexOption = DEFAULT_INDEX,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100,
                                   help="How many passages to return.")] = 5,
    model: ModelOption = None,
    as_json: JsonOption = False,
    batch: Annotated[Path | None, typer.Option(
        "--batch", help='JSONL file of questions, {"id": ..., "text": ...} per line ("-" for '
                        'stdin); prints one JSON line {"id", "results"} per question.')] = None,
) -> None:
    """Find the passages that answer QUESTION (or every question in --batch)."""
    from search.searcher import DenseSearcher, validate_query

    if (question is None) == (batch is None):
        error("give either a QUESTION or --batch FILE.jsonl (not both)",
              hint='vraagbaak search "Wat zei Poetin over Navalny?"')
        raise typer.Exit(2)
    with handle_errors():
        if question is not None:
            validate_query(question)  # before loading the model: a bad question should fail fast
        searcher = DenseSearcher.open(index_dir, model)
        if batch is not None:
            if not _run_batch(searcher, batch, k):
                raise typer.Exit(EXIT_PARTIAL)
            return
        result = searcher.search(question, k)
    if as_json:
        print_json(result.as_dict())
    else:
        _print_hits(result)


def _print_hits(result) -> None:
    if not result.hits:
        typer.echo("No passages found: the index is empty.")
        return
    for hit in result.hits:
        title = f" — {hit.title}" if hit.title else ""
        typer.echo(f"{hit.rank}. [{hit.score:.3f}] {hit.date or 'no date'}  {hit.doc_id}{title}  "
                   f"(characters {hit.start}–{hit.end})")
        typer.echo(textwrap.fill(" ".join(hit.text.split()), width=96,
                                 initial_indent="   ", subsequent_indent="   "))
        typer.echo()


def _read_batch(path: Path) -> Iterator[tuple[int, dict | str]]:
    """(line number, {"id", "text"}) for good lines, (line number, message) for bad ones."""
    handle = sys.stdin if str(path) == "-" else None
    try:
        lines = handle.read().splitlines() if handle else path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        yield 0, f"cannot read {path}: {exc}"
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield number, 'each line must be an object with a "text" string (and an "id")'
            continue
        yield number, {"id": record.get("id", number), "text": record["text"]}


def _run_batch(searcher, path: Path, k: int) -> bool:
    """Print a JSON line per good question; report bad ones on stderr. True if all were good."""
    from indexer.errors import QueryError
    from search.searcher import validate_query

    all_good, pending = True, []
    for number, item in _read_batch(path):
        if isinstance(item, str):
            error(f"{path}:{number}: {item}" if number else item)
            all_good = False
            continue
        try:
            validate_query(item["text"])
        except QueryError as exc:
            error(f"{path}:{number}: question {item['id']!r}: {exc}")
            all_good = False
            continue
        pending.append(item)
        if len(pending) == BATCH_SIZE:
            _flush(searcher, pending, k)
    _flush(searcher, pending, k)
    return all_good


def _flush(searcher, pending: list[dict], k: int) -> None:
    results = searcher.search_many([item["text"] for item in pending], k)
    for item, result in zip(pending, results):
        print_json({"id": item["id"], "results": result.as_dict()["results"]})
    pending.clear()
