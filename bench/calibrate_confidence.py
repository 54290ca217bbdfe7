"""Calibrate the `confident` threshold on the best hit's dense_score (real model).

Answerable: the 30 sample questions (their answer is in the sample index), and the 701 FLORES
queries against the FLORES index. Unanswerable: 20 questions the sample articles do not answer
(tests/data/unanswerable_questions.jsonl; half off topic, half on topic but not covered), and
the FLORES queries with their own passage filtered out (the best remaining passage is, by
construction, not the answer). Prints the score distributions and, per threshold, accuracy,
and the share of answerable questions kept and of unanswerable ones let through.

usage: python bench/calibrate_confidence.py [--dev ../shared/data/dev]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from answer_quality import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    args = parser.parse_args()
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    data = ROOT / "tests" / "data"
    answerable = [json.loads(line)["text"] for line in (data / "sample_questions.jsonl").open()]
    unanswerable = [json.loads(line)["text"] for line in (data / "unanswerable_questions.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        sample = Searcher(build([ROOT / "data" / "sample"], Path(tmp) / "s", embedder), embedder)
        pos = [r.hits[0].dense_score for r in sample.search_many(answerable, k=1)]
        neg = [r.hits[0].dense_score for r in sample.search_many(unanswerable, k=1)]
        fpos, fneg = [], []
        if (args.dev / "corpus.jsonl").is_file():
            flores = Searcher(build([args.dev / "corpus.jsonl"], Path(tmp) / "f", embedder), embedder)
            queries = [json.loads(line) for line in (args.dev / "queries.jsonl").open()]
            for q, r in zip(queries, flores.search_many([q["text"] for q in queries], k=2,
                                                        dates_from_question=False)):
                other = [h for h in r.hits if h.doc_id != q["relevant"][0]]
                if r.hits[0].doc_id == q["relevant"][0]:
                    fpos.append(r.hits[0].dense_score)
                fneg.append(other[0].dense_score)
    for name, values in (("sample answerable", pos), ("sample unanswerable", neg),
                         ("FLORES answer present", fpos), ("FLORES answer removed", fneg)):
        if values:
            v = np.array(values)
            print(f"{name:22} n={len(v):4}  min {v.min():.3f}  p10 {np.percentile(v, 10):.3f}  "
                  f"median {np.median(v):.3f}  p90 {np.percentile(v, 90):.3f}  max {v.max():.3f}")
    print("\nthreshold | sample: answerable kept, unanswerable passed | FLORES: kept, passed | "
          "balanced accuracy (mean of the four rates)")
    best = None
    for t in np.arange(0.70, 0.95, 0.01):
        rates = [np.mean(np.array(pos) >= t), np.mean(np.array(neg) < t)]
        if fpos:
            rates += [np.mean(np.array(fpos) >= t), np.mean(np.array(fneg) < t)]
        score = float(np.mean(rates))
        best = max(best or (score, t), (score, t))
        line = f"   {t:.2f}   | {rates[0]:.2f}, {1 - rates[1]:.2f}"
        if fpos:
            line += f" | {rates[2]:.2f}, {1 - rates[3]:.2f}"
        print(line + f" | {score:.3f}")
    print(f"\nbest threshold {best[1]:.2f} (balanced accuracy {best[0]:.3f})")


if __name__ == "__main__":
    main()
