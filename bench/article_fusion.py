"""Article evidence and names in fusion: each weight setting on every question set (real model).

For each setting of FusionWeights (the article keyword leg's weight for a question in the
corpus language, the names leg's weight, keyword mode's article weight) it runs the real
searcher (`Searcher._search_one`; every question embedded once) on every set of
bench/data/eval/sets.json, and on the 30 sample questions at passage level (is the passage
that holds the answer at rank 1 / in the top 3, passages ungrouped) over the eval corpus and
over the five sample articles alone. Prints R@1 / R@10 / nDCG@10 per set and the worst gap of
hybrid to its better leg; writes bench/out/article_fusion.json.

usage: python -m bench.article_fusion --index EVAL_INDEX --sample-index SAMPLE_INDEX
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from bench.lib import results as out
from bench.lib.corpora import ROOT

EVAL = ROOT / "bench" / "data" / "eval"
OFF = {"article": 0.0, "respell_names": False}
# (name, mode, weights): the first of each mode is "before" (no article index, no names)
SETTINGS = [("before", m, OFF) for m in ("hybrid", "dense", "keyword")] + [
    *[(f"article {a}{' + names' if names else ''}", mode, {"article": a, "respell_names": names})
      for mode in ("keyword", "hybrid") for names in (False, True) for a in (0.0, 1.0, 2.0, 3.0)
      if a or names],
    *[(f"article {a} + names, covered {c}", "hybrid", {"article": a, "keyword_covered": c})
      for a in (1.0, 2.0) for c in (0.25, 0.5, 1.0)],
    *[("default", mode, {}) for mode in ("hybrid", "keyword")],  # FusionWeights() as shipped
]
METRICS = (("R@1", "recall_at_1"), ("R@10", "recall_at_10"), ("nDCG@10", "ndcg_at_10"))


def passage_level(searcher, questions, vectors, options) -> dict:
    top1 = top3 = 0
    for q, v in zip(questions, vectors):
        hits = searcher._search_one(q["text"], v, replace(options, group=False, k=10)).hits
        rank = next((h.rank for h in hits if any(
            h.doc_id == e["doc_id"] and e["contains"] in h.text for e in q["evidence"])), None)
        top1 += rank == 1
        top3 += rank is not None and rank <= 3
    return {"top1": top1 / len(questions), "top3": top3 / len(questions)}


def main() -> None:
    from search.evaluation import evaluate_sets, first_occurrences, load_eval_sets
    from search.fusion import FusionWeights
    from search.options import SearchOptions
    from search.searcher import Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sample-index", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=None,
                        help="setting names to run (\"before\" for the three modes' before rows)")
    args = parser.parse_args()

    sets, _ = load_eval_sets([EVAL / "sets.json"])
    samples = [json.loads(line) for line in
               (ROOT / "tests" / "data" / "sample_questions.jsonl").read_text().splitlines() if line]
    searcher = Searcher.open(args.index)
    small = Searcher.open(args.sample_index)
    texts = sorted({q.text for s in sets for q in s.queries} | {q["text"] for q in samples})
    vectors = dict(zip(texts, searcher.embedder.embed_queries(texts)))
    sample_vectors = [vectors[q["text"]] for q in samples]
    rows = {}
    for name, mode, weights in SETTINGS:
        if args.only and name not in args.only:
            continue
        options = SearchOptions(k=10, mode=mode, weights=FusionWeights(**weights))
        report = evaluate_sets(sets, lambda text: first_occurrences(
            (h.doc_id for h in searcher._search_one(text, vectors[text], options).hits), 10))
        row = {s: {label: round(getattr(r.overall, key), 3) for label, key in METRICS}
               for s, r in report.sets.items()}
        row["mean of sets"] = {label: round(getattr(report.mean_of_sets, key), 3)
                               for label, key in METRICS}
        row["passages (185)"] = passage_level(searcher, samples, sample_vectors, options)
        row["passages (5)"] = passage_level(small, samples, sample_vectors, options)
        rows[f"{mode}: {name}"] = row
        print(f"{mode}: {name}", json.dumps(row), flush=True)
    legs = ("dense: before", "keyword: before")
    for key, row in rows.items():
        if not key.startswith("hybrid") or not all(leg in rows for leg in legs):
            continue
        gaps = [(max(rows[leg][s][m] for leg in legs) - row[s][m], s, m)
                for s in row if s in rows[legs[0]] and "passages" not in s for m, _ in METRICS]
        row["worst gap"] = max(gaps)
    header = ["setting"] + [f"{s} R@1/R@10/nDCG" for s in next(iter(rows.values()))
                            if s not in ("worst gap",)] + ["worst gap"]
    table_rows = []
    for key, row in rows.items():
        cells = []
        for s, value in row.items():
            if s == "worst gap":
                continue
            cells.append("/".join(f"{x:.3f}" for x in value.values()))
        gap = row.get("worst gap")
        table_rows.append([key, *cells, f"{gap[0]:+.3f} ({gap[1]} {gap[2]})" if gap else ""])
    out.publish({"settings": rows}, [out.table("Article evidence and names", header, table_rows)])


if __name__ == "__main__":
    main()
