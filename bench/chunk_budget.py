"""Choose the chunker's token budget by answer quality (real model).

Two signals, for each budget:
- the 30 questions about the sample articles (tests/data/sample_questions.jsonl): is the passage
  that holds the answer at rank 1, in the top 3 (passage level, not just the right article)?
- FLORES dev sentences (shared/data/dev) packed into pseudo-articles of 12 Dutch sentences, 3 per
  paragraph: does the English sentence find the passage that holds its translation (recall@1)?
  Longer passages dilute one sentence among many, which this measures.

usage: python bench/chunk_budget.py [--budgets 64,96,128,160,200,256,320] [--dev PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.write.chunking import ParagraphChunker  # noqa: E402
from indexer.records import Document
from indexer.write.loading import load_articles  # noqa: E402
from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
from indexer.embedders.base import resolve_model  # noqa: E402
from indexer.index.vectors.flat import FlatIPIndex  # noqa: E402


def flores_articles(dev: Path, per_article: int = 12, per_paragraph: int = 3):
    corpus = [json.loads(line) for line in (dev / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (dev / "queries.jsonl").open()]
    docs, where = [], {}
    for a in range(0, len(corpus), per_article):
        group = corpus[a:a + per_article]
        paragraphs = [" ".join(s["text"] for s in group[p:p + per_paragraph])
                      for p in range(0, len(group), per_paragraph)]
        text = "\n\n".join(paragraphs)
        docs.append(Document(doc_id=f"flores-article-{a // per_article}", text=text))
        for s in group:
            where[s["id"]] = (docs[-1].doc_id, s["text"])
    return docs, [(q["text"], where[q["relevant"][0]]) for q in queries]


def ranks(embedder, chunker, docs, questions, query_vectors):
    """Rank (1-based, or None past 10) of the first passage that holds each question's evidence."""
    chunks = [c for d in docs for c in chunker.split(d)]
    index = FlatIPIndex(embedder.dim)
    index.add(np.arange(len(chunks)), embedder.embed_documents([c.text for c in chunks]))
    _, ids = index.search(query_vectors, 10)
    out = []
    for evidence, row in zip(questions, ids):
        hits = [chunks[i] for i in row if i >= 0]
        out.append(next((r for r, c in enumerate(hits, 1)
                         if any(c.doc_id == d and text in c.text for d, text in evidence)), None))
    return out, len(chunks), float(np.mean([c.n_tokens for c in chunks]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", default="64,96,128,160,200,256,320")
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    parser.add_argument("--detail", action="store_true",
                        help="per-question ranks on the sample, per language, for each budget")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder(resolve_model())
    sample_docs = load_articles([ROOT / "data" / "sample"]).documents
    sample_q = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_questions.jsonl").open()]
    sample_vecs = embedder.embed_queries([q["text"] for q in sample_q])
    sample_ev = [[(e["doc_id"], e["contains"]) for e in q["evidence"]] for q in sample_q]
    flores = None
    if (args.dev / "corpus.jsonl").is_file():
        docs, pairs = flores_articles(args.dev)
        flores = (docs, [[ev] for _, ev in pairs], embedder.embed_queries([q for q, _ in pairs]))
    print(f"{'budget':>6} {'chunks':>6} {'avg tok':>7} | sample: {'@1':>5} {'top3':>5} {'MRR':>5}"
          f" | flores: {'@1':>5} {'@10':>5} {'MRR':>5} | s")
    for budget in (int(b) for b in args.budgets.split(",")):
        started = time.perf_counter()
        chunker = ParagraphChunker(embedder, budget)
        r, n, avg = ranks(embedder, chunker, sample_docs, sample_ev, sample_vecs)
        line = (f"{budget:>6} {n:>6} {avg:>7.0f} | sample: {_at(r, 1):>5.2f} {_at(r, 3):>5.2f} "
                f"{_mrr(r):>5.3f}")
        if flores:
            fr, _, _ = ranks(embedder, chunker, *flores)
            line += f" | flores: {_at(fr, 1):>5.3f} {_at(fr, 10):>5.3f} {_mrr(fr):>5.3f}"
        print(line + f" | {time.perf_counter() - started:.0f}", flush=True)
        if args.detail:
            _print_detail(sample_q, r)


def _print_detail(questions, r):
    for lang in ("nl", "en"):
        mine = [x for q, x in zip(questions, r) if q["lang"] == lang]
        print(f"         {lang}: {len(mine)} questions, rank 1: {sum(1 for x in mine if x == 1)}, "
              f"top 3: {sum(1 for x in mine if x and x <= 3)}, MRR {_mrr(mine):.3f}")
    misses = ", ".join(f"{q['id']}={x or '>10'}" for q, x in zip(questions, r) if x != 1)
    print(f"         not at rank 1: {misses}")


def _at(r, k):
    return sum(1 for x in r if x is not None and x <= k) / len(r)


def _mrr(r):
    return sum(1 / x for x in r if x is not None) / len(r)


if __name__ == "__main__":
    main()
