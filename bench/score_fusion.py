"""Rank fusion against score fusion on every question set, with the weight chosen leave-one-set-out.

For each setting (FusionWeights.method: "rrf" as shipped, "minmax" or "zscore" at several
same-language keyword weights) it runs the real searcher (`Searcher._search_one`, every question
embedded once; each question's dense candidates and keyword evidence are computed once and
reused, since no setting changes them) on every set of bench/data/eval/sets.json, grouped by
article as `vraagbaak eval` judges. Then, for each set, it picks the setting the other sets
prefer (leave-one-set-out; the rule: the smallest worst gap of hybrid to its better leg over
R@1, R@10, MRR@10 and nDCG@10 on those sets, then the higher mean R@1) and reports the held-out
set's numbers under it; a set named by --held-out is measured but never chosen on, and gets
the choice made on all the others. Writes bench/out/score_fusion.json (per setting, per set, per question
R@1 and the top article, to read the questions that change).

usage: python -m bench.score_fusion --index EVAL_INDEX [--weights 0.05 0.1 ...] [--methods ...]
           [--held-out SET ...] [--vectors CACHE.npz]
       python -m bench.score_fusion --merge RUN.json ...   (the tables again, from saved runs)
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

from bench.lib import results as out
from bench.lib.corpora import ROOT

EVAL = ROOT / "bench" / "data" / "eval"
WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
METRICS = ("R@1", "R@10", "MRR@10", "nDCG@10")
LEGS = ("dense", "keyword")


def settings(weights, methods=("minmax", "zscore")) -> list[tuple[str, str, dict]]:
    """(name, mode, FusionWeights fields); "rrf" is today's default."""
    rows = [("dense", "dense", {}), ("keyword", "keyword", {}), ("rrf", "hybrid", {})]
    rows += [(f"{method} {w}", "hybrid", {"method": method, "score_keyword_same_language": w})
             for method in methods for w in weights]
    return rows


def cached_legs(searcher) -> None:
    """Memoise the legs on this searcher: the settings compared here change only the fusion."""
    import search.searcher as module

    dense_search, gather = searcher.dense.search, module.gather

    @functools.lru_cache(maxsize=None)
    def _dense(key, n, also):
        vector, also_ids = key[1], None if also is None else also[1]
        return dense_search(vector, n, None, also=also_ids)

    def dense(vector, n, allowed=None, also=None, dates=None):
        if allowed is not None or dates is not None:  # the sets have no dates: not cached
            return dense_search(vector, n, allowed, also=also, dates=dates)
        return _dense(_Key(vector), n, None if also is None else _Key(also))

    @functools.lru_cache(maxsize=None)
    def _gather(question, n, article_depth, respell):  # the parts are this searcher's own
        return gather(question, n, None, searcher.keywords, searcher.articles, searcher.names,
                      article_depth, respell)

    def gathered(question, n, mask, keywords, articles, names, article_depth, respell):
        if mask is not None or keywords is not searcher.keywords:
            return gather(question, n, mask, keywords, articles, names, article_depth, respell)
        return _gather(question, n, article_depth, respell)

    searcher.dense.search = dense
    module.gather = gathered


class _Key(tuple):
    """A numpy array as a cache key: hashed by its bytes, carrying the array itself."""

    def __new__(cls, array):
        return super().__new__(cls, (array.tobytes(), array))

    def __hash__(self):
        return hash(self[0])

    def __eq__(self, other):
        return self[0] == other[0]


def embedded(searcher, texts: list[str], cache: Path | None) -> dict:
    """Each question's vector, from ``cache`` (an .npz of texts and vectors) where it has them all."""
    import numpy as np

    if cache is not None and cache.is_file():
        saved = np.load(cache, allow_pickle=False)
        known = dict(zip(saved["texts"].tolist(), saved["vectors"]))
        if set(texts) <= set(known):
            return {t: known[t] for t in texts}
    vectors = dict(zip(texts, searcher.embedder.embed_queries(texts)))
    if cache is not None:
        np.savez(cache, texts=np.asarray(texts), vectors=np.stack([vectors[t] for t in texts]))
    return vectors


def measure(searcher, sets, vectors, mode: str, fields: dict) -> dict:
    from search.evaluation import first_occurrences, mrr_at, ndcg_at, recall_at
    from search.fusion import FusionWeights
    from search.options import SearchOptions

    options = SearchOptions(k=10, mode=mode, weights=FusionWeights(**fields))
    per_set = {}
    for s in sets:
        questions = []
        for q in s.queries:
            hits = searcher._search_one(q.text, vectors[q.text], options).hits
            ranked = first_occurrences((h.doc_id for h in hits), 10)
            questions.append({"text": q.text, "top": ranked[:1],
                              "m": [recall_at(ranked, q.relevant, 1), recall_at(ranked, q.relevant, 10),
                                    mrr_at(ranked, q.relevant, 10), ndcg_at(ranked, q.relevant, 10)]})
        n = len(questions)
        per_set[s.name] = {"n": n, **{m: sum(q["m"][i] for q in questions) / n
                                      for i, m in enumerate(METRICS)}, "questions": questions}
    return per_set


def worst_gap(rows: dict, name: str, sets) -> tuple[float, str, str]:
    """The largest shortfall of setting ``name`` against the better leg, over ``sets`` and METRICS."""
    return max((max(rows[leg][s][m] for leg in LEGS) - rows[name][s][m], s, m)
               for s in sets for m in METRICS)


def choose(rows: dict, candidates: list[str], sets) -> str:
    """The rule: the smallest worst gap on ``sets``, then the higher mean R@1, MRR@10 and
    nDCG@10 on them, in that order (the first metric that tells two settings apart decides)."""
    return min(candidates, key=lambda c: (round(worst_gap(rows, c, sets)[0], 6), *(
        -round(sum(rows[c][s][m] for s in sets), 6) for m in ("R@1", "MRR@10", "nDCG@10"))))


def main() -> None:
    from search.evaluation import load_eval_sets
    from search.searcher import Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="the eval corpus indexed (not with --merge)")
    parser.add_argument("--sets", type=Path, default=EVAL / "sets.json")
    parser.add_argument("--weights", type=float, nargs="*", default=WEIGHTS)
    parser.add_argument("--methods", nargs="*", default=["minmax", "zscore"])
    parser.add_argument("--vectors", type=Path, help="a .npz cache of the questions' vectors")
    parser.add_argument("--held-out", nargs="*", default=[],
                        help="sets measured but never used to choose (a set nothing was tuned on)")
    parser.add_argument("--merge", type=Path, nargs="*",
                        help="no search: report on the settings of these earlier runs' JSON")
    args = parser.parse_args()
    if args.merge:
        report(*merged(args.merge))
        return
    if args.index is None:
        parser.error("--index is needed to search")

    sets, _ = load_eval_sets([args.sets])
    searcher = Searcher.open(args.index)
    cached_legs(searcher)
    texts = sorted({q.text for s in sets for q in s.queries})
    vectors = embedded(searcher, texts, args.vectors)
    rows, started = {}, time.perf_counter()
    for name, mode, fields in settings(args.weights, args.methods):
        rows[name] = measure(searcher, sets, vectors, mode, fields)
        print(name, f"{time.perf_counter() - started:.0f} s", json.dumps({s: [round(r[m], 3) for m in METRICS] for s, r in rows[name].items()}),
              flush=True)
    report(rows, [s.name for s in sets], args.held_out)


def report(rows: dict, names: list[str], held_out: list[str]) -> None:
    """Leave-one-set-out over the tuned sets, the choice on all of them, the tables."""
    tuned = [s for s in names if s not in held_out]
    hybrids = [n for n in rows if n not in LEGS]
    score = [n for n in hybrids if n != "rrf"]
    loso = {}
    for held in tuned:
        pick = choose(rows, score, [s for s in tuned if s != held])
        loso[held] = {"chosen": pick, **{m: rows[pick][held][m] for m in METRICS},
                      "rrf": {m: rows["rrf"][held][m] for m in METRICS}}
    final = choose(rows, score, tuned)
    for held in held_out:  # measured, never chosen on: the choice made on all tuned sets
        loso[held] = {"chosen": final, **{m: rows[final][held][m] for m in METRICS},
                      "rrf": {m: rows["rrf"][held][m] for m in METRICS}}
    summary = {name: {"worst gap": worst_gap(rows, name, tuned),
                      **{f"mean {m}": sum(rows[name][s][m] for s in tuned) / len(tuned)
                         for m in METRICS}} for name in hybrids}
    header = ["setting", *(f"{s} R@1" for s in names), "mean R@1 (tuned)", "worst gap (tuned sets)"]
    table = [[name, *(f"{rows[name][s]['R@1']:.3f}" for s in names),
              f"{summary[name]['mean R@1']:.3f}" if name in summary else "",
              f"{summary[name]['worst gap'][0]:+.3f} ({summary[name]['worst gap'][1]} "
              f"{summary[name]['worst gap'][2]})" if name in summary else ""] for name in rows]
    loso_table = [[held + (" (held out)" if held in held_out else ""), r["chosen"],
                   *(f"{r['rrf'][m]:.3f} → {r[m]:.3f}" for m in METRICS)] for held, r in loso.items()]
    out.publish({"settings": rows, "loso": loso, "chosen on all tuned sets": final,
                 "summary": summary, "held out": held_out},
                [out.table("Score fusion: hybrid R@1 per set and setting", header, table),
                 out.table(f"Leave one set out (chosen on all tuned sets: {final})",
                           ["held-out set", "chosen on the others", *(f"{m} rrf → chosen" for m in METRICS)],
                           loso_table)])


def merged(paths: list[Path]) -> tuple[dict, list[str], list[str]]:
    """The settings of earlier runs' JSON (bench/out/score_fusion.json), later runs adding theirs."""
    rows, names, held_out = {}, [], []
    for path in paths:
        numbers = json.loads(path.read_text())["numbers"]
        rows.update(numbers["settings"])
        names = names or list(next(iter(numbers["settings"].values())))
        held_out = held_out or numbers["held out"]
    return rows, names, held_out

if __name__ == "__main__":
    main()
