"""Calibrate the `confident` threshold on the best hit's dense_score (real model).

Answerable: the 30 sample questions (their answer is in the sample index), and the 701 FLORES
queries against the FLORES index. Unanswerable: 20 questions the sample articles do not answer
(tests/data/unanswerable_questions.jsonl; half off topic, half on topic but not covered), and
the FLORES queries with their own passage filtered out (the best remaining passage is, by
construction, not the answer). Reports the score distributions and, per threshold, the share of
answerable questions kept and of unanswerable ones let through, and their balanced accuracy.

usage: python -m bench.calibrate_confidence
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.lib import corpora, results
from bench.lib.quality import built
from bench.lib.timing import percentile


def scores(embedder) -> dict[str, list[float]]:
    from search.searcher import Searcher

    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        sample = Searcher(built([corpora.SAMPLE], Path(tmp) / "s", embedder), embedder)
        found["sample answerable"] = [r.hits[0].dense_score for r in sample.search_many(corpora.question_texts(), k=1)]
        found["sample unanswerable"] = [r.hits[0].dense_score for r in
                                        sample.search_many(corpora.unanswerable_texts(), k=1)]
        dev = corpora.flores()
        if dev:
            flores = Searcher(built([corpora.dev_dir() / "corpus.jsonl"], Path(tmp) / "f", embedder), embedder)
            present, removed = [], []
            for q, r in zip(dev[1], flores.search_many([q["text"] for q in dev[1]], k=2, dates_from_question=False)):
                if r.hits[0].doc_id == q["relevant"][0]:
                    present.append(r.hits[0].dense_score)
                removed.append(next(h for h in r.hits if h.doc_id != q["relevant"][0]).dense_score)
            found["FLORES answer present"], found["FLORES answer removed"] = present, removed
    return found


def main() -> None:
    from indexer.embedders.base import resolve_model
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder

    found = scores(SentenceTransformerEmbedder(resolve_model()))
    kept_sets = [k for k in found if "unanswerable" not in k and "removed" not in k]
    rows = []
    for t in np.arange(0.70, 0.95, 0.01):
        rates = [float(np.mean(np.array(v) >= t)) if k in kept_sets else float(np.mean(np.array(v) < t))
                 for k, v in found.items()]
        rows.append({"threshold": round(float(t), 2), "rates": rates, "balanced": float(np.mean(rates))})
    best = max(rows, key=lambda r: r["balanced"])
    first = results.table("The best hit's dense_score", ["questions", "n", "min", "p10", "median", "p90", "max"],
                          [[k, len(v), *(f"{percentile(v, p):.3f}" for p in (0, 10, 50, 90, 100))]
                           for k, v in found.items()])
    second = results.table(
        "Per threshold: share kept (answerable) or let through (unanswerable)",
        ["threshold", *found, "balanced accuracy"],
        [[f"{r['threshold']:.2f}", *(f"{x if k in kept_sets else 1 - x:.2f}" for k, x in zip(found, r["rates"])),
          f"{r['balanced']:.3f}"] for r in rows],
        f"best threshold {best['threshold']:.2f} (balanced accuracy {best['balanced']:.3f})")
    results.publish({"scores": found, "thresholds": rows, "best": best}, [first, second])


if __name__ == "__main__":
    main()
