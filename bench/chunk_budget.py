"""Choose the chunker's token budget by answer quality (real model).

Two signals, for each budget:
- the 30 questions about the sample articles (tests/data/sample_questions.jsonl): is the passage
  that holds the answer at rank 1, in the top 3 (passage level, not just the right article)?
- FLORES dev sentences (shared/data/dev) packed into pseudo-articles of 12 Dutch sentences, 3 per
  paragraph: does the English sentence find the passage that holds its translation (recall@1)?
  Longer passages dilute one sentence among many, which this measures.

usage: python -m bench.chunk_budget [--budgets 64,96,128,160,200,256,320] [--detail]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.lib import corpora, results
from bench.lib.timing import Timer


def flores_articles(corpus: list[dict], queries: list[dict], per_article: int = 12, per_paragraph: int = 3):
    from indexer.records import Document

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
    from indexer.index.vectors.flat import FlatIPIndex

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="64,96,128,160,200,256,320")
    parser.add_argument("--detail", action="store_true",
                        help="per-question ranks on the sample, per language, for each budget")
    args = parser.parse_args()
    from indexer.embedders.base import resolve_model
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import load_articles

    embedder = SentenceTransformerEmbedder(resolve_model())
    sample_docs = load_articles([corpora.SAMPLE]).documents
    sample_q = corpora.sample_questions()
    sample_vecs = embedder.embed_queries([q["text"] for q in sample_q])
    sample_ev = [[(e["doc_id"], e["contains"]) for e in q["evidence"]] for q in sample_q]
    flores, dev = None, corpora.flores()
    if dev:
        docs, pairs = flores_articles(*dev)
        flores = (docs, [[ev] for _, ev in pairs], embedder.embed_queries([q for q, _ in pairs]))
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        timer = Timer()
        with timer:
            chunker = ParagraphChunker(embedder, budget)
            r, n, avg = ranks(embedder, chunker, sample_docs, sample_ev, sample_vecs)
            row = {"budget": budget, "chunks": n, "avg_tokens": avg,
                   "sample": {"at_1": _at(r, 1), "top_3": _at(r, 3), "mrr": _mrr(r)}}
            if flores:
                fr, _, _ = ranks(embedder, chunker, *flores)
                row["flores"] = {"at_1": _at(fr, 1), "at_10": _at(fr, 10), "mrr": _mrr(fr)}
        rows.append(row | {"seconds": timer.last_s})
        print(f"budget {budget} measured", flush=True)
        if args.detail:
            _print_detail(sample_q, r)
    table = results.table(
        "Passage budget: sample answer passage @1 / top 3 / MRR; FLORES (12-sentence pseudo-articles) @1 / @10 / MRR",
        ["budget", "chunks", "avg tokens", "sample @1", "top 3", "MRR", "FLORES @1", "@10", "MRR"],
        [[r["budget"], r["chunks"], f"{r['avg_tokens']:.0f}",
          *(f"{r['sample'][k]:.3f}" for k in ("at_1", "top_3", "mrr")),
          *((f"{r['flores'][k]:.3f}" for k in ("at_1", "at_10", "mrr")) if "flores" in r else ("-",) * 3)]
         for r in rows])
    results.publish({"budgets": rows}, [table])


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
