"""Where the passage holding the answer ranks under variants of the dense leg (real model).

The answer-quality issue asks for the answer passage at rank 1 for >= 90% of the sample
questions and in the top 3 for all. This script ranks all passages of the sample index for each
question under every variant tried, to show which misses any dense scoring could fix and which
none can. It tunes on the test questions themselves, so it is an upper bound, not a method.

Variants: the sentence weight w (score = (1 - w) * passage cosine + w * best sentence cosine),
and pseudo-relevance feedback (the question vector moved towards the mean of its top m
passages by beta, then scored again).

usage: python -m bench.dense_variants
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.lib import corpora, results
from bench.lib.quality import built

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
FEEDBACK = [(beta, m) for beta in (0.2, 0.5, 1.0) for m in (1, 3)]


def all_scores(searcher, query: np.ndarray, w: float) -> np.ndarray:
    ids = np.arange(len(searcher.dense.passages), dtype=np.int64)
    return np.array([(1 - w) * c.passage_score + w * float(c.sentence_scores.max(initial=c.passage_score))
                     for c in searcher.dense.score(query, ids)])


def with_feedback(searcher, query: np.ndarray, beta: float, m: int) -> np.ndarray:
    passages = searcher.dense.passages
    top = np.argsort(-all_scores(searcher, query, 0.5))[:m]
    moved = query + beta * passages.vectors(top.astype(np.int64)).mean(axis=0)
    return all_scores(searcher, moved / np.linalg.norm(moved), 0.5)


def answer_rank(scores: np.ndarray, holds_answer: np.ndarray) -> int:
    order = np.argsort(-scores, kind="stable")
    return int(np.flatnonzero(holds_answer[order])[0]) + 1


def main() -> None:
    from indexer.embedders.base import resolve_model
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    questions = corpora.sample_questions()
    with tempfile.TemporaryDirectory() as tmp:
        searcher = Searcher(built([corpora.SAMPLE], Path(tmp) / "sample", embedder), embedder)
        n = len(searcher.dense.passages)
        chunks = searcher.store.get_chunks(list(range(n)))
        holds = {q["id"]: np.array([any(e["doc_id"] == chunks[i].chunk.doc_id and e["contains"] in chunks[i].chunk.text
                                        for e in q["evidence"]) for i in range(n)]) for q in questions}
        vectors = embedder.embed_queries([q["text"] for q in questions])
        variants = [(f"w={w}", lambda v, w=w: all_scores(searcher, v, w)) for w in WEIGHTS]
        variants += [(f"feedback beta={b} m={m}", lambda v, b=b, m=m: with_feedback(searcher, v, b, m))
                     for b, m in FEEDBACK]
        worst: dict[str, int] = {}
        best: dict[str, int] = {}
        rows, by_variant = [], {}
        for name, score in variants:
            ranks = {q["id"]: answer_rank(score(v), holds[q["id"]]) for q, v in zip(questions, vectors)}
            by_variant[name] = ranks
            for qid, r in ranks.items():
                best[qid], worst[qid] = min(best.get(qid, r), r), max(worst.get(qid, r), r)
            cells = []
            for lang in ("nl", "en"):
                rs = [ranks[q["id"]] for q in questions if q["lang"] == lang]
                cells.append(f"{sum(r == 1 for r in rs)}/{len(rs)}, {sum(r <= 3 for r in rs)}")
            rows.append([name, *cells, ", ".join(f"{qid}:{r}" for qid, r in ranks.items() if r > 1)])
    table = results.table(
        f"{n} passages; rank of the answer passage, dense leg only (ungrouped)",
        ["variant", "nl @1, top 3", "en @1, top 3", "not at rank 1 (question:rank)"], rows,
        "best rank any variant reaches, for questions not always at rank 1: "
        + ", ".join(f"{qid}: {best[qid]} (worst {worst[qid]})" for qid in best if worst[qid] > 1))
    results.publish({"passages": n, "ranks": by_variant}, [table])

if __name__ == "__main__":
    main()
