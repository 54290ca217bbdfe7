"""Where the passage holding the answer ranks under variants of the dense leg (real model).

The answer-quality issue asks for the answer passage at rank 1 for >= 90% of the sample
questions and in the top 3 for all. This script ranks all passages of the sample index for each
question under every variant tried, to show which misses any dense scoring could fix and which
none can. It tunes on the test questions themselves, so it is an upper bound, not a method.

Variants: the sentence weight w (score = (1 - w) * passage cosine + w * best sentence cosine),
and pseudo-relevance feedback (the question vector moved towards the mean of its top m
passages by beta, then scored again).

usage: python bench/dense_variants.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
    from indexer.write.chunking import ParagraphChunker
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import update_index, load_for_index
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    questions = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_questions.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = IndexDirectory(Path(tmp) / "sample")
        update_index(index_dir, embedder, ParagraphChunker(embedder),
                     load_for_index([ROOT / "data" / "sample"]))
        searcher = Searcher(index_dir, embedder)
        n = len(searcher.dense.passages)
        chunks = searcher.store.get_chunks(list(range(n)))
        holds = {q["id"]: np.array([any(e["doc_id"] == chunks[i].chunk.doc_id and e["contains"] in chunks[i].chunk.text
                                        for e in q["evidence"]) for i in range(n)]) for q in questions}
        vectors = embedder.embed_queries([q["text"] for q in questions])
        variants = [(f"w={w}", lambda v, w=w: all_scores(searcher, v, w)) for w in WEIGHTS]
        variants += [(f"feedback beta={b} m={m}", lambda v, b=b, m=m: with_feedback(searcher, v, b, m))
                     for b, m in FEEDBACK]
        print(f"{n} passages; rank of the answer passage, dense leg only (ungrouped)")
        worst: dict[str, int] = {}
        best: dict[str, int] = {}
        for name, score in variants:
            ranks = {q["id"]: answer_rank(score(v), holds[q["id"]]) for q, v in zip(questions, vectors)}
            for qid, r in ranks.items():
                best[qid], worst[qid] = min(best.get(qid, r), r), max(worst.get(qid, r), r)
            cells = []
            for lang in ("nl", "en"):
                rs = [ranks[q["id"]] for q in questions if q["lang"] == lang]
                cells.append(f"{lang} @1 {sum(r == 1 for r in rs):2}/{len(rs)} top3 {sum(r <= 3 for r in rs):2}")
            misses = ", ".join(f"{qid}:{r}" for qid, r in ranks.items() if r > 1)
            print(f"  {name:24} {' | '.join(cells)} | not at 1: {misses}")
        print("best rank any variant reaches, for questions not always at rank 1:")
        print("  " + ", ".join(f"{qid}: {best[qid]} (worst {worst[qid]})"
                               for qid in best if worst[qid] > 1))


if __name__ == "__main__":
    main()
