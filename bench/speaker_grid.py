"""The speaker boost's weight and its subject gate: hybrid R@1 / MRR@10 per eval set for each
weight, with the gate on and off (real model).

Only questions that name a speaker (search.speakers.asked_speakers) are changed by the boost, so
each of those is embedded once and searched once per setting through the real searcher; the
other questions keep the ranking they have without it. Prints per set: how many questions name
a speaker, and R@1 / MRR@10 over the whole set for each weight (0 = no boost) and gate ("on": only
passages on the question's subject, docs/decisions/0046; "off": every passage where he speaks).
Then, for the sample questions that name a speaker, the passage level the sets do not judge: how
many have the answer's passage (their `evidence`) at rank 1 / in the top 3, passages ungrouped.

usage: python -m bench.speaker_grid --index DIR [--weights 0 0.1 0.25 0.5 1]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from bench.lib.corpora import ROOT, sample_questions
from search.evaluation import load_eval_sets, mrr_at, recall_at
from search.fusion import FusionWeights
from search.options import SearchOptions
from search.searcher import Searcher
from search.speakers import asked_speakers

GATES = (("on", True), ("off", False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--weights", type=float, nargs="+", default=[0, 0.1, 0.25, 0.5, 1.0])
    args = parser.parse_args()
    sets, _ = load_eval_sets([ROOT / "bench" / "data" / "eval" / "sets.json"])
    searcher = Searcher.open(args.index)
    settings = [(f"{w}/{name}", FusionWeights(speaker=w, speaker_on_subject=gate))
                for w in args.weights for name, gate in GATES if w or gate]
    for s in sets:
        asking = [q for q in s.queries if asked_speakers(q.text)]
        base = SearchOptions(k=10)
        others = [q for q in s.queries if not asked_speakers(q.text)]
        fixed = [_scores(searcher, q, base) for q in others]
        row = {"n": len(s.queries), "asking": len(asking)}
        vectors = searcher.embedder.embed_queries([q.text for q in asking]) if asking else []
        for label, weights in settings:
            options = replace(base, weights=weights)
            scored = fixed + [_scores(searcher, q, options, v) for q, v in zip(asking, vectors)]
            row[label] = tuple(round(sum(x[i] for x in scored) / len(scored), 3) for i in range(2))
        print(s.name, json.dumps(row), flush=True)
    asking = [q for q in sample_questions() if asked_speakers(q["text"])]
    row = {"asking": len(asking)}
    for label, weights in settings:
        ranks = [_passage_rank(searcher, q, SearchOptions(k=10, group=False, weights=weights))
                 for q in asking]
        row[label] = (sum(r == 1 for r in ranks), sum(1 for r in ranks if r and r <= 3))
    print("sample passages (at 1, top 3)", json.dumps(row), flush=True)


def _scores(searcher, query, options, vector=None):
    if vector is None:
        vector = searcher.embedder.embed_queries([query.text])[0]
    docs = list(dict.fromkeys(h.doc_id for h in searcher._search_one(query.text, vector, options).hits))
    return recall_at(docs, query.relevant, 1), mrr_at(docs, query.relevant, 10)


def _passage_rank(searcher, question: dict, options) -> int | None:
    hits = searcher.search(question["text"], options).hits
    return next((h.rank for h in hits if any(h.doc_id == e["doc_id"] and e["contains"] in h.text
                                             for e in question["evidence"])), None)


if __name__ == "__main__":
    main()
