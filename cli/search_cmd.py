"""`vraagbaak search`: answer one question, or a file of them."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (DEFAULT_INDEX, EXIT_PARTIAL, IndexOption, JsonOption, ModelOption, error,
                        handle_errors, open_searcher, print_json)
from search.options import (DEFAULT_K, MAX_K, MAX_PER_ARTICLE, SearchMode, SearchOptions,
                            validate_query)

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

    if (question is None) == (batch is None):
        error("give either a QUESTION or --batch FILE.jsonl (not both)",
              hint='vraagbaak search "Wat zei Poetin over Navalny?"')
        raise typer.Exit(2)
    with handle_errors():
        options = SearchOptions(k=k, mode=mode, group=group, per_article=per_article, since=since,
                                until=until, dates_from_question=question_dates)
        # Before loading the model: a bad question or batch file should fail fast.
        if question is not None:
            validate_query(question)
        else:
            questions, all_good = _checked_batch(batch)
        searcher = open_searcher(index_dir, model, one_question=batch is None)
        if batch is not None:
            _run_batch(searcher, questions, options)
            if not all_good:
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


def _speakers(quotes) -> str:
    """The passage's speakers, once each; the one the question asks about first, with a *."""
    asked = {}
    for q in quotes:
        asked[q.speaker] = asked.get(q.speaker, False) or q.asked
    ordered = sorted(asked, key=lambda name: not asked[name])
    return ", ".join(name + ("*" if asked[name] else "") for name in ordered)


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
            if passage.quotes:
                typer.echo(f"   quoted: {_speakers(passage.quotes)}")
        for dup in hit.duplicates:
            typer.echo(f"   also in {dup.doc_id} (characters {dup.start}–{dup.end})")
        typer.echo()


def _batch_lines(path: Path) -> list[str]:
    try:
        if str(path) == "-":
            return sys.stdin.read().splitlines()
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        from indexer.errors import InputError

        reason = getattr(exc, "strerror", None) or "it is not UTF-8 text"
        raise InputError(f"cannot read the questions in {path} ({reason})",
                         hint='give a JSONL file, one {"id": ..., "text": ...} per line, or "-" '
                              "for stdin") from exc


def _read_batch(path: Path) -> Iterator[tuple[int, dict | str]]:
    """(line number, {"id", "text"}) for good lines, (line number, message) for bad ones."""
    for number, line in enumerate(_batch_lines(path), start=1):
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


def _checked_batch(path: Path) -> tuple[list[dict], bool]:
    """The good questions, and whether every line was good; bad lines are reported on stderr.
    Raises when the file cannot be read or holds no usable question (nothing to search)."""
    from indexer.errors import InputError, QueryError
    from search.options import validate_query

    questions, all_good = [], True
    for number, item in _read_batch(path):
        if isinstance(item, str):
            error(f"{path}:{number}: {item}")
            all_good = False
            continue
        try:
            validate_query(item["text"])
        except QueryError as exc:
            error(f"{path}:{number}: question {item['id']!r}: {exc}")
            all_good = False
            continue
        questions.append(item)
    if not questions:
        raise InputError(f"{path} holds no usable questions",
                         hint='one {"id": ..., "text": ...} per line')
    return questions, all_good


def _run_batch(searcher, questions: list[dict], options) -> None:
    """Print a JSON line per question, searched BATCH_SIZE at a time."""
    for begin in range(0, len(questions), BATCH_SIZE):
        _flush(searcher, questions[begin:begin + BATCH_SIZE], options)


def _flush(searcher, pending: list[dict], options) -> None:
    results = searcher.search_many([item["text"] for item in pending], options)
    for item, result in zip(pending, results):
        print_json({"id": item["id"]} | result.as_dict())
