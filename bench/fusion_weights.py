"""How the keyword leg's weight in reciprocal rank fusion plays out, per question language.

Runs the real searcher (hybrid mode) with several FusionWeights on the sample questions (Dutch
and English, passage at rank 1 / article recall@1) and on FLORES (English -> Dutch, recall@1,
MRR@10). "same" is the keyword weight for a question in the articles' language, "cross" for one
in another language; the dense leg has weight 1.

usage: python -m bench.fusion_weights
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.lib import corpora, results
from bench.lib.quality import article_metrics, built, passage_ranks

SETTINGS = [(0.0, 0.0), (1.0, 1.0), (0.5, 0.5), (1.0, 0.0), (1.5, 0.0), (2.0, 0.0), (3.0, 0.0),
            (1.5, 0.1), (1.5, 0.25)]


def main() -> None:
    from indexer.embedders.base import resolve_model
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from search.fusion import FusionWeights
    from search.searcher import Searcher

    embedder = SentenceTransformerEmbedder(resolve_model())
    questions, dev = corpora.sample_questions(), corpora.flores()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sample = Searcher(built([corpora.SAMPLE], Path(tmp) / "s", embedder), embedder)
        flores = dev and Searcher(built([corpora.dev_dir() / "corpus.jsonl"], Path(tmp) / "f", embedder), embedder)
        for same, cross in SETTINGS:
            options = {"mode": "hybrid",
                       "weights": FusionWeights(keyword_same_language=same, keyword_cross_language=cross,
                                                method="rrf")}  # the RRF weights it studies
            row = {"same": same, "cross": cross}
            for lang in ("nl", "en"):
                qs = [q for q in questions if q["lang"] == lang]
                ranks, _ = passage_ranks(sample, qs, options)
                row[lang] = {"n": len(qs), "at_1": sum(r == 1 for r in ranks),
                             "recall@1": article_metrics(sample, qs, options)[0]}
            if flores:
                row["flores"] = dict(zip(("recall@1", "mrr@10"), article_metrics(flores, dev[1], options)))
            rows.append(row)
            print(f"keyword weight {same} / {cross} measured", flush=True)
    table = results.table(
        "Keyword weight same / cross language: sample passage@1 and article R@1 per language; FLORES R@1, MRR@10",
        ["same / cross", "nl passage@1, R@1", "en passage@1, R@1", "FLORES R@1, MRR@10"],
        [[f"{r['same']} / {r['cross']}",
          *(f"{r[lang]['at_1']}/{r[lang]['n']}, {r[lang]['recall@1']:.3f}" for lang in ("nl", "en")),
          f"{r['flores']['recall@1']:.3f}, {r['flores']['mrr@10']:.3f}" if "flores" in r else "-"] for r in rows])
    results.publish({"settings": rows}, [table])


if __name__ == "__main__":
    main()
