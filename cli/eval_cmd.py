"""`vraagbaak eval`: retrieval quality of an index against files of judged questions.

One JSONL file: metrics per language, as ever. Several files, or a ``.json`` manifest of sets
(bench/data/eval/sets.json): one row per set, then all questions pooled and the sets' mean."""

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
    print_json,
    open_searcher,
)
from search.options import MAX_K, SearchMode


def evaluate(
    queries: Annotated[list[Path], typer.Argument(
        show_default=False,
        help='JSONL file(s) of judged questions: {"id", "text", "relevant": list of doc ids} per '
             'line, optionally "lang"; or a .json manifest of sets {"sets": [{"name", "file", '
             '...}]}. More than one file, or a manifest, gives one row per set.')],
    index_dir: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=MAX_K,
                                   help="Articles to rank per question; the @10 metrics see at "
                                        "most this many.")] = 10,
    mode: Annotated[SearchMode, typer.Option(
        "--mode", help="hybrid, dense or keyword.")] = SearchMode.HYBRID,
    only: Annotated[list[str] | None, typer.Option(
        "--set", help="Only the set of this name (repeatable); sets are named by the manifest "
                      "or by their file name without .jsonl.")] = None,
    fusion: Annotated[str | None, typer.Option(
        "--fusion", show_default=False,
        help="How hybrid fuses its legs: rrf (ranks), minmax or zscore (scaled scores); "
             "default: the searcher's (docs/decisions/0056).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure recall@1, recall@10, MRR@10, nDCG@10 and query latency on judged questions."""
    from search.evaluation import MANIFEST_SUFFIX
    from search.fusion import FusionWeights

    with handle_errors():  # a bad method is reported before the model loads
        weights = FusionWeights() if fusion is None else FusionWeights(method=fusion)
    if len(queries) == 1 and queries[0].suffix != MANIFEST_SUFFIX and not only:
        _evaluate_one(queries[0], index_dir, model, k, mode, weights, as_json)
    else:
        _evaluate_sets(queries, only or [], index_dir, model, k, mode, weights, as_json)


def _evaluate_one(queries: Path, index_dir: Path, model, k: int, mode: SearchMode, weights,
                  as_json: bool) -> None:
    from search.evaluation import evaluate as run_evaluation
    from search.evaluation import load_eval_queries
    from search.options import validate_query

    with handle_errors():
        # Read the questions before loading the model: a bad file should fail fast.
        questions, problems = load_eval_queries(queries, check_text=validate_query)
        for problem in problems:
            error(problem)
        if not questions:
            error(f"{queries} holds no usable questions",
                  hint='one {"id": ..., "text": ..., "relevant": ["doc id", ...]} per line')
            raise typer.Exit(EXIT_ERROR)
        report = _with_searcher(index_dir, model, k, mode, weights, questions[0].text,
                                lambda ranked: run_evaluation(questions, ranked))
    if as_json:
        print_json({**report.as_dict(), "problems": problems})
    else:
        _print_table(report)
    if problems:
        raise typer.Exit(EXIT_PARTIAL)


def _evaluate_sets(paths: list[Path], only: list[str], index_dir: Path, model, k: int,
                   mode: SearchMode, weights, as_json: bool) -> None:
    from search.evaluation import evaluate_sets, load_eval_sets
    from search.options import validate_query

    with handle_errors():
        sets, problems = load_eval_sets(paths, check_text=validate_query, only=only)
        for problem in problems:
            error(problem)
        if not sets:
            error("no question set holds a usable question",
                  hint='one {"id": ..., "text": ..., "relevant": ["doc id", ...]} per line')
            raise typer.Exit(EXIT_ERROR)
        report = _with_searcher(index_dir, model, k, mode, weights, sets[0].queries[0].text,
                                lambda ranked: evaluate_sets(sets, ranked))
    if as_json:
        print_json({"mode": mode.value, "fusion": weights.method, **report.as_dict(sets),
                    "problems": problems})
    else:
        _print_sets_table(report, sets)
    if problems:
        raise typer.Exit(EXIT_PARTIAL)


def _with_searcher(index_dir: Path, model, k: int, mode: SearchMode, weights, warm_up: str,
                   measure):
    """Open the index, search ``warm_up`` once untimed (the first forward pass pays one-off
    set-up costs that would otherwise land in p95), then ``measure(ranked_docs)``."""
    from search.evaluation import first_occurrences
    from search.options import SearchOptions

    # grouped: one entry per article, as judged
    options = SearchOptions(k=k, mode=mode, weights=weights)
    searcher = open_searcher(index_dir, model)
    try:
        searcher.search(warm_up, options)
        return measure(lambda text: first_occurrences(
            (hit.doc_id for hit in searcher.search(text, options).hits), k))
    finally:
        searcher.close()


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


def _print_sets_table(report, sets) -> None:
    header = ("set", "lang", "level", "n", "R@1", "R@10", "MRR@10", "nDCG@10", "p50 ms", "p95 ms")
    about = {s.name: s for s in sets}
    rows = [(name, about[name].language or "/".join(r.by_lang), about[name].level or "article",
             *_row("", r.overall)[1:]) for name, r in report.sets.items()]
    rows.append(("all", "", "", *_row("", report.overall)[1:]))
    mean = _row("", report.mean_of_sets)[1:]
    rows.append(("mean of sets", "", "", f"{report.mean_of_sets.n} sets", *mean[1:]))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                              row[2].ljust(widths[2])]
                             + [cell.rjust(width) for cell, width in zip(row[3:], widths[3:])]))
