"""Answer quality and latency per retrieval mode, before and after (real model).

"before" is the first issue's search: dense, one vector per passage, no sentences, no keywords.
For the 30 sample questions it reports whether the passage holding the answer is at rank 1 / in
the top 3 (passages ungrouped), and article-level recall@1 / MRR@10; for the FLORES dev set
(English question -> Dutch passage, each sentence its own article) recall@1 / MRR@10.
Latency: p50/p95 of whole searches on the sample index, and the ratio to the first issue's path
(embed the question, FAISS over passages, SQLite join).

usage: python -m bench.answer_quality [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.lib import corpora, results
from bench.lib.quality import article_metrics, built, passage_ranks
from bench.lib.timing import Timer

CONFIGS = [  # name, search options, sentence weight
    ("before (dense, passages only)", {"mode": "dense"}, 0.0),
    ("dense + sentences", {"mode": "dense"}, 0.5),
    ("keyword", {"mode": "keyword"}, 0.5),
    ("hybrid (default)", {"mode": "hybrid"}, 0.5),
]


def latency(searcher, questions, options, repeats) -> dict[str, float]:
    timer = Timer()
    for _ in range(repeats):
        for q in questions:
            with timer:
                searcher.search(q["text"], k=5, **options)
    return timer.summary((50, 95))


def first_issue_latency(searcher, questions, repeats) -> dict[str, float]:
    """The first issue's whole search: embed, FAISS over passages, join with SQLite."""
    timer = Timer()
    for _ in range(repeats):
        for q in questions:
            with timer:
                vector = searcher.embedder.embed_queries([q["text"]])
                _, ids = searcher.dense.passages.search(vector, 5)
                searcher.store.get_chunks([int(i) for i in ids[0] if i >= 0])
    return timer.summary((50, 95))


def quality(searcher, flores_searcher, questions, flores_q, options) -> dict:
    row, snippets, found = {}, 0, 0
    for lang in ("nl", "en"):
        qs = [q for q in questions if q["lang"] == lang]
        ranks, in_snippet = passage_ranks(searcher, qs, options)
        snippets, found = snippets + in_snippet, found + sum(r is not None for r in ranks)
        r1, mrr = article_metrics(searcher, qs, options)
        row[lang] = {"n": len(qs), "at_1": sum(r == 1 for r in ranks),
                     "top_3": sum(1 for r in ranks if r and r <= 3), "recall@1": r1, "mrr@10": mrr}
    row["answer_in_snippet"] = [snippets, found]
    if flores_searcher:
        row["flores"] = dict(zip(("recall@1", "mrr@10"), article_metrics(flores_searcher, flores_q, options)))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from indexer.embedders.base import resolve_model
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    questions, dev = corpora.sample_questions(), corpora.flores()
    with tempfile.TemporaryDirectory() as tmp:
        sample = built([corpora.SAMPLE], Path(tmp) / "sample", embedder)
        flores = dev and built([corpora.dev_dir() / "corpus.jsonl"], Path(tmp) / "flores", embedder)
        rows = {name: quality(Searcher(sample, embedder, sentence_weight=w),
                              flores and Searcher(flores, embedder, sentence_weight=w),
                              questions, dev and dev[1], options) for name, options, w in CONFIGS}
        searcher = Searcher(sample, embedder)
        searcher.search("warm-up")
        speed = {"first issue path": first_issue_latency(searcher, questions, args.repeats)}
        speed |= {name: latency(Searcher(sample, embedder, sentence_weight=w), questions, options, args.repeats)
                  for name, options, w in CONFIGS[1:]}
    first = results.table(
        "Sample questions: answer passage at rank 1 / in the top 3, article R@1 and MRR@10; FLORES "
        "en->nl article R@1 and MRR@10",
        ["config", "nl @1 / top 3", "nl R@1, MRR", "en @1 / top 3", "en R@1, MRR", "answer in snippet", "FLORES R@1, MRR"],
        [[name, *(c for lang in ("nl", "en") for c in (
            f"{r[lang]['at_1']}/{r[lang]['top_3']} of {r[lang]['n']}",
            f"{r[lang]['recall@1']:.3f}, {r[lang]['mrr@10']:.3f}")),
          f"{r['answer_in_snippet'][0]}/{r['answer_in_snippet'][1]}",
          f"{r['flores']['recall@1']:.3f}, {r['flores']['mrr@10']:.3f}" if "flores" in r else "-"]
         for name, r in rows.items()])
    base = speed["first issue path"]["p50"]
    second = results.table(
        f"Latency on the sample index, {len(questions)} questions x {args.repeats}, k=5",
        ["search", "p50 ms", "p95 ms", "x first issue p50"],
        [[name, f"{s['p50']:.2f}", f"{s['p95']:.2f}", f"{s['p50'] / base:.2f}x"] for name, s in speed.items()])
    results.publish({"quality": rows, "latency_ms": speed}, [first, second])


if __name__ == "__main__":
    main()
