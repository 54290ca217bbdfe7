"""Answer quality and latency per retrieval mode, before and after (real model).

"before" is the first issue's search: dense, one vector per passage, no sentences, no keywords.
For the 30 sample questions it reports whether the passage holding the answer is at rank 1 / in
the top 3 (passages ungrouped), and article-level recall@1 / MRR@10; for the FLORES dev set
(English question -> Dutch passage, each sentence its own article) recall@1 / MRR@10.
Latency: p50/p95 of whole searches on the sample index, and the ratio to the first issue's path
(embed the question, FAISS over passages, SQLite join).

usage: python bench/answer_quality.py [--dev ../shared/data/dev] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = [  # name, search options, sentence weight
    ("before (dense, passages only)", {"mode": "dense"}, 0.0),
    ("dense + sentences", {"mode": "dense"}, 0.5),
    ("keyword", {"mode": "keyword"}, 0.5),
    ("hybrid (default)", {"mode": "hybrid"}, 0.5),
]


def build(paths, root, embedder):
    from indexer.write.chunking import ParagraphChunker
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import update_index, load_for_index

    update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder), load_for_index(paths))
    return IndexDirectory(root)


def passage_ranks(searcher, questions, options):
    """Rank of the passage that holds the answer, and whether its snippet holds it too."""
    results = searcher.search_many([q["text"] for q in questions], k=10, group=False, **options)
    ranks, in_snippet = [], 0
    for q, result in zip(questions, results):
        hit = next((h for h in result.hits if any(
            h.doc_id == e["doc_id"] and e["contains"] in h.text for e in q["evidence"])), None)
        ranks.append(hit.rank if hit else None)
        in_snippet += bool(hit) and any(e["contains"] in hit.snippet for e in q["evidence"])
    return ranks, in_snippet


def article_metrics(searcher, questions, options):
    from search.evaluation import mrr_at, recall_at

    results = searcher.search_many([q["text"] for q in questions], k=10, **options)
    ranked = [[h.doc_id for h in r.hits] for r in results]
    n = len(questions)
    return (sum(recall_at(r, q["relevant"], 1) for r, q in zip(ranked, questions)) / n,
            sum(mrr_at(r, q["relevant"], 10) for r, q in zip(ranked, questions)) / n)


def latency(searcher, questions, options, repeats):
    from search.evaluation import percentile

    times = []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter()
            searcher.search(q["text"], k=5, **options)
            times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


def first_issue_latency(searcher, questions, repeats):
    """The first issue's whole search: embed, FAISS over passages, join with SQLite."""
    from search.evaluation import percentile

    times = []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter()
            vector = searcher.embedder.embed_queries([q["text"]])
            _, ids = searcher.dense.passages.search(vector, 5)
            searcher.store.get_chunks([int(i) for i in ids[0] if i >= 0])
            times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    questions = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_questions.jsonl").open()]
    by_lang = {lang: [q for q in questions if q["lang"] == lang] for lang in ("nl", "en")}
    flores = None
    with tempfile.TemporaryDirectory() as tmp:
        sample_dir = build([ROOT / "data" / "sample"], Path(tmp) / "sample", embedder)
        if (args.dev / "corpus.jsonl").is_file():
            flores_dir = build([args.dev / "corpus.jsonl"], Path(tmp) / "flores", embedder)
            flores = [json.loads(line) for line in (args.dev / "queries.jsonl").open()]
        print("sample questions: passage at rank 1 / in top 3 (of n); article R@1, MRR@10;"
              " FLORES en->nl article R@1, MRR@10")
        for name, options, weight in CONFIGS:
            searcher = Searcher(sample_dir, embedder, sentence_weight=weight)
            cells, snippets, found = [], 0, 0
            for lang, qs in by_lang.items():
                ranks, in_snippet = passage_ranks(searcher, qs, options)
                snippets, found = snippets + in_snippet, found + sum(r is not None for r in ranks)
                r1, mrr = article_metrics(searcher, qs, options)
                cells.append(f"{lang}: {sum(r == 1 for r in ranks):2}/{sum(1 for r in ranks if r and r <= 3):2}"
                             f" of {len(qs)}, {r1:.3f} {mrr:.3f}")
            cells.append(f"answer in snippet {snippets}/{found}")
            if flores:
                r1, mrr = article_metrics(Searcher(flores_dir, embedder, sentence_weight=weight),
                                          flores, options)
                cells.append(f"FLORES: {r1:.3f} {mrr:.3f}")
            print(f"  {name:30} " + " | ".join(cells), flush=True)
        print(f"\nlatency on the sample index, {len(questions)} questions x {args.repeats}, k=5:")
        searcher = Searcher(sample_dir, embedder)
        searcher.search("warm-up")
        base = first_issue_latency(searcher, questions, args.repeats)
        print(f"  {'first issue path':30} p50 {base[0]:6.2f} ms  p95 {base[1]:6.2f} ms")
        for name, options, weight in CONFIGS[1:]:
            p50, p95 = latency(Searcher(sample_dir, embedder, sentence_weight=weight), questions,
                               options, args.repeats)
            print(f"  {name:30} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ({p50 / base[0]:.2f}x p50)")


if __name__ == "__main__":
    main()
