"""Answer quality on judged questions: where the passage holding the answer ranks, and
article-level recall@1 / MRR@10 (search.evaluation's metrics)."""

from __future__ import annotations

from pathlib import Path

from bench.lib import indexes


def built(paths: list[Path], root: Path, embedder):
    """``paths`` indexed into ``root``; its IndexDirectory, for Searcher(...)."""
    indexes.build_index(root, embedder, paths)
    return indexes.directory(root)


def passage_ranks(searcher, questions: list[dict], options: dict) -> tuple[list, int]:
    """Rank of the passage that holds each answer (None past 10; passages ungrouped), and how
    many of the found ones have the answer in their snippet too."""
    results = searcher.search_many([q["text"] for q in questions], k=10, group=False, **options)
    ranks, in_snippet = [], 0
    for q, result in zip(questions, results):
        hit = next((h for h in result.hits if any(
            h.doc_id == e["doc_id"] and e["contains"] in h.text for e in q["evidence"])), None)
        ranks.append(hit.rank if hit else None)
        in_snippet += bool(hit) and any(e["contains"] in hit.snippet for e in q["evidence"])
    return ranks, in_snippet


def article_metrics(searcher, questions: list[dict], options: dict) -> tuple[float, float]:
    """Article-level recall@1 and MRR@10."""
    from search.evaluation import mrr_at, recall_at

    results = searcher.search_many([q["text"] for q in questions], k=10, **options)
    ranked = [[h.doc_id for h in r.hits] for r in results]
    n = len(questions)
    return (sum(recall_at(r, q["relevant"], 1) for r, q in zip(ranked, questions)) / n,
            sum(mrr_at(r, q["relevant"], 10) for r, q in zip(ranked, questions)) / n)


EVAL_MODES = ("hybrid", "dense")
EVAL_METRICS = ("recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10")


def eval_sets(root: Path, modes=EVAL_MODES) -> dict[str, dict[str, dict]]:
    """`vraagbaak eval` of bench/data/eval/sets.json on the index at ``root`` (the CLI, in its own
    process): {mode: {set name: metrics}}, every set and "mean of sets"."""
    import json

    from bench.eval_sets import EVAL, vraagbaak

    found = {}
    for mode in modes:
        data = json.loads(vraagbaak("eval", str(EVAL / "sets.json"), "--index", str(root),
                                    "--mode", mode, "--json"))
        found[mode] = {s["name"]: s["overall"] for s in data["sets"]} | {"mean of sets": data["mean_of_sets"]}
    return found


def within(reference: dict, other: dict, tolerance: float = 0.005,
           metrics=("recall_at_1", "recall_at_10", "mrr_at_10")) -> bool:
    """Whether ``other`` keeps the answers of ``reference`` (both eval_sets results): on every
    set and mode, each metric no more than ``tolerance`` below."""
    return all(other[mode][name][m] >= reference[mode][name][m] - tolerance
               for mode in reference for name in reference[mode] for m in metrics)


def worst_drop(reference: dict, other: dict, metrics=("recall_at_1", "recall_at_10", "mrr_at_10")) -> str:
    """Where ``other`` falls furthest below ``reference``: "set mode metric -0.123"."""
    drops = [(reference[mode][name][m] - other[mode][name][m], f"{name} {mode} {m}")
             for mode in reference for name in reference[mode] if name != "mean of sets" for m in metrics]
    gap, where = max(drops)
    return f"{where} {-gap:+.3f}"
