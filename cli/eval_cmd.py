"""`vraagbaak eval`: retrieval quality of an index against a file of judged questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    DEFAULT_INDEX,
    EXIT_ERROR,
    EXIT_PARTIAL,
    IndexOption,
    JsonOption,
    ModelOption,
    error,
    handle_errors,
    open_searcher,
    print_json,
)
from search.options import MAX_K, SearchMode


def evaluate(
    queries: Annotated[Path, typer.Argument(
        show_default=False,
        help='JSONL file of judged questions: {"id", "text", "relevant": list of doc ids} per '
             'line, optionally "lang".')],
    index_dir: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=MAX_K,
                                   help="Articles to rank per question; the @10 metrics see at "
                                        "most this many.")] = 10,
    mode: Annotated[SearchMode, typer.Option(
        "--mode", help="hybrid, dense or keyword.")] = SearchMode.HYBRID,
    as_json: JsonOption = False,
) -> None:
    """Measure recall@1, recall@10, MRR@10, nDCG@10 and query latency on judged questions."""
    from search.evaluation import evaluate as run_evaluation
    from search.evaluation import first_occurrences, load_eval_queries
    from search.options import SearchOptions, validate_query

    with handle_errors():
        # Read the questions before loading the model: a bad file should fail fast.
        options = SearchOptions(k=k, mode=mode)  # grouped: one entry per article, as judged
        questions, problems = load_eval_queries(queries, check_text=validate_query)
        for problem in problems:
            error(problem)
        if not questions:
            error(f"{queries} holds no usable questions",
                  hint='one {"id": ..., "text": ..., "relevant": ["doc id", ...]} per line')
            raise typer.Exit(EXIT_ERROR)
        searcher = open_searcher(index_dir, model)
        try:
            # One untimed question first: the first forward pass pays one-off set-up costs that
            # would otherwise land in p95.
            searcher.search(questions[0].text, options)
            report = run_evaluation(questions, lambda text: first_occurrences(
                (hit.doc_id for hit in searcher.search(text, options).hits), k))
        finally:
            searcher.close()
    if as_json:
        print_json({**report.as_dict(), "problems": problems})
    else:
        _print_table(report)
    if problems:
        raise typer.Exit(EXIT_PARTIAL)


def _print_table(report) -> None:
    header = ("lang", "n", "R@1", "R@10", "MRR@10", "nDCG@10", "p50 ms", "p95 ms")
    rows = [_row(lang, m) for lang, m in report.by_lang.items()] + [_row("all", report.overall)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join([row[0].ljust(widths[0])]
                             + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]))


def _row(lang: str, m) -> tuple[str, ...]:
    return (lang, str(m.n), f"{m.recall_at_1:.3f}", f"{m.recall_at_10:.3f}", f"{m.mrr_at_10:.3f}",
            f"{m.ndcg_at_10:.3f}", f"{m.p50_ms:.1f}", f"{m.p95_ms:.1f}")
