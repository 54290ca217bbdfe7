"""`vraagbaak search`: answer one question, or a file of them."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    DEFAULT_INDEX,
    EXIT_PARTIAL,
    IndexOption,
    JsonOption,
    ModelOption,
    error,
    handle_errors,
    print_json,
    settings,
)
from search.options import (
    DEFAULT_K,
    MAX_K,
    MAX_PER_ARTICLE,
    SearchMode,
    SearchOptions,
    validate_query,
)

BATCH_SIZE = 64


def search(
    question: Annotated[str | None, typer.Argument(
        help="The question, in Dutch or English.", show_default=False)] = None,
    index_dir: IndexOption = DEFAULT_INDEX,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=MAX_K,
                                   help="How many articles (or passages, with --no-group).")] = DEFAULT_K,
    mode: Annotated[SearchMode, typer.Option(
        "--mode", help="hybrid (meaning and keywords), dense (meaning) or keyword.")] = SearchMode.HYBRID,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only articles from this date on: YYYY, YYYY-MM or YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Only articles up to this date: YYYY, YYYY-MM or YYYY-MM-DD.")] = None,
    question_dates: Annotated[bool, typer.Option(
        "--question-dates/--no-question-dates",
        help='Filter by a date written in the question ("in juni 2021") when no --since/--until '
             "is given.")] = True,
    group: Annotated[bool, typer.Option(
        "--group/--no-group", help="One entry per article (default), or every passage.")] = True,
    per_article: Annotated[int, typer.Option(
        "--per-article", min=1, max=MAX_PER_ARTICLE, help="Passages shown per article.")] = 1,
    model: ModelOption = None,
    as_json: JsonOption = False,
    batch: Annotated[Path | None, typer.Option(
        "--batch", help='JSONL file of questions, {"id": ..., "text": ...} per line ("-" for '
                        'stdin); prints one JSON line {"id", "results"} per question.')] = None,
) -> None:
    """Find the passages that answer QUESTION (or every question in --batch)."""
    from search.searcher import Searcher

    if (question is None) == (batch is None):
        error("give either a QUESTION or --batch FILE.jsonl (not both)",
              hint='vraagbaak search "Wat zei Poetin over Navalny?"')
        raise typer.Exit(2)
    with handle_errors():
        options = SearchOptions(k=k, mode=mode, group=group, per_article=per_article, since=since,
                                until=until, dates_from_question=question_dates)
        if question is not None:
            validate_query(question)  # before loading the model: a bad question should fail fast
        searcher = Searcher.open(index_dir, model, settings=settings())
        if batch is not None:
            if not _run_batch(searcher, batch, options):
                raise typer.Exit(EXIT_PARTIAL)
            return
        result = searcher.search(question, options)
    if as_json:
        print_json(result.as_dict())
    else:
        _print_result(result)


def _marked(passage):
    """The passage as rich Text: whitespace runs as one space, the snippet between » and «, the
    question's keywords in bold (rich drops the styling when output is not a terminal)."""
    from rich.text import Text

    text, base = passage.text, passage.start
    snippet = (passage.snippet_start - base, passage.snippet_end - base)
    cuts = sorted({0, len(text), *snippet, *(p - base for mark in passage.highlights for p in mark)})
    bold = {s - base for s, _ in passage.highlights}
    out = Text()
    for s, e in zip(cuts, cuts[1:]):
        if s == snippet[0]:
            out.append("»")
        piece = re.sub(r"\s+", " ", text[s:e])
        if out.plain.endswith(" ") and piece.startswith(" "):
            piece = piece[1:]
        out.append(piece, style="bold" if s in bold else None)
        if e == snippet[1]:
            out.append("«")
    return out


def _print_result(result) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    if result.date_filter:
        f = result.date_filter
        if f["applied"]:
            typer.echo(f"Dates: {f['description']}\n")
        else:
            typer.echo(f"Dates: no article is from {f['description']}; searched all dates\n")
    if not result.hits:
        typer.echo("No passages found" + (" for these dates." if result.date_filter else "."))
        return
    if not result.confident:
        typer.echo("Not sure: the best passage may not answer this question.\n")
    for hit in result.hits:
        title = f" — {hit.title}" if hit.title else ""
        score = f"{hit.dense_score:.3f}" if hit.dense_score is not None else f"{hit.score:.2f}"
        typer.echo(f"{hit.rank}. [{score}] {hit.date or 'no date'}  {hit.doc_id}{title}  "
                   f"(characters {hit.start}–{hit.end})")
        for passage in [hit, *hit.passages]:
            for line in _marked(passage).wrap(console, max(console.width - 3, 40)):
                line.rstrip()
                console.print(Text("   ") + line, soft_wrap=True)
        for dup in hit.duplicates:
            typer.echo(f"   also in {dup.doc_id} (characters {dup.start}–{dup.end})")
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


def _run_batch(searcher, path: Path, options) -> bool:
    """Print a JSON line per good question; report bad ones on stderr. True if all were good."""
    from indexer.errors import QueryError
    from search.options import validate_query

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
            _flush(searcher, pending, options)
    _flush(searcher, pending, options)
    return all_good


def _flush(searcher, pending: list[dict], options) -> None:
    results = searcher.search_many([item["text"] for item in pending], options)
    for item, result in zip(pending, results):
        print_json({"id": item["id"]} | result.as_dict())
    pending.clear()
