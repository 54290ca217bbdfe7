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
