"""How the keyword leg's weight in reciprocal rank fusion plays out, per question language.

Runs the real searcher (hybrid mode) with several FusionWeights on the sample questions (Dutch
and English, passage at rank 1 / article recall@1) and on FLORES (English -> Dutch, recall@1,
MRR@10). "same" is the keyword weight for a question in the articles' language, "cross" for one
in another language; the dense leg has weight 1.

usage: python bench/fusion_weights.py [--dev ../shared/data/dev]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from answer_quality import article_metrics, build, passage_ranks  # noqa: E402

SETTINGS = [(0.0, 0.0), (1.0, 1.0), (0.5, 0.5), (1.0, 0.0), (1.5, 0.0), (2.0, 0.0), (3.0, 0.0),
            (1.5, 0.1), (1.5, 0.25)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    args = parser.parse_args()
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model
    from search.fusion import FusionWeights
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    questions = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_questions.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        sample = Searcher(build([ROOT / "data" / "sample"], Path(tmp) / "s", embedder), embedder)
        flores = None
        if (args.dev / "corpus.jsonl").is_file():
            flores = Searcher(build([args.dev / "corpus.jsonl"], Path(tmp) / "f", embedder), embedder)
            flores_q = [json.loads(line) for line in (args.dev / "queries.jsonl").open()]
        print("keyword weight same/cross | sample nl: passage@1, article R@1 | en: same | "
              "FLORES R@1, MRR@10")
        for same, cross in SETTINGS:
            options = {"mode": "hybrid",
                       "weights": FusionWeights(keyword_same_language=same, keyword_cross_language=cross)}
            cells = []
            for lang in ("nl", "en"):
                qs = [q for q in questions if q["lang"] == lang]
                ranks, _ = passage_ranks(sample, qs, options)
                r1, _ = article_metrics(sample, qs, options)
                cells.append(f"{lang} {sum(r == 1 for r in ranks):2}/{len(qs)} {r1:.3f}")
            if flores:
                r1, mrr = article_metrics(flores, flores_q, options)
                cells.append(f"FLORES {r1:.3f} {mrr:.3f}")
            print(f"  {same:>4} / {cross:<4}  | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
