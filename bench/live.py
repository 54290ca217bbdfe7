"""The cost of a change: adding or removing one article to an index of N articles, and search
while a merge runs.

For each size N, an index of N synthetic articles (real sentences, shuffled; bench/lib/synthetic)
is built once with a hashing embedder (vectors cost no model time, so the numbers are what the
index costs; embedding one article with the real model is measured apart, below). Then, each in
its own process (so its peak memory is its own): add one article, remove it, add it again (from
the vector cache), each timed end to end through `update_index`, i.e. what `vraagbaak index`
and `remove` do after loading. Last, searches (hybrid, 20 questions over and over) run while a
separate process merges every segment (`vraagbaak optimize`), against the same searches without
it: the p50 of each. The merge runs as merges do in the background (niced, one thread for
numpy/FAISS: indexer/write/background.py), so the ratio is what a merge costs searches on a
shared machine; each row says the load average while it ran. The goal (issue 17): <= 1 s plus embedding, memory flat in N, search p50
during a merge within 20% of without.

usage: python -m bench.live [--sizes 10000 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from bench.lib import corpora, machine
from bench.lib import results as out
from bench.lib.corpora import ROOT

DIM = 384
# The thread pools a merge touches, each held to one thread, as a background merge holds them.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "RAYON_NUM_THREADS")}
QUESTIONS = ("Wat zei de minister over het klimaat?", "Who won the elections?",
             "Poetin en Biden in Genève", "stikstof boeren protest", "NAVO Oekraïne steun",
             "Hoeveel woningen worden er gebouwd?", "What happened in Brussels?",
             "zorgkosten stijgen", "De Tweede Kamer debatteert", "Europese Commissie besluit")


class HashEmbedder:
    """Vectors from a text's hash (no model time) and words as tokens: what the index costs."""

    def __init__(self) -> None:
        from indexer.embedders.base import ModelSpec

        self.dim = DIM
        self.spec = ModelSpec("bench/hash", "folder", "/nonexistent/hash", f"fp-hash-{DIM}")

    def count_tokens(self, texts):
        return [len(t.split()) + 2 for t in texts]

    def _vectors(self, texts):
        out = np.empty((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            out[i] = np.random.default_rng(zlib.crc32(t.encode())).standard_normal(DIM)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed_documents = embed_queries = _vectors


def _articles(n: int, seed: int, prefix: str = "a") -> list:
    from indexer.records import Document

    sentences = corpora.dutch_sentences()
    rng = random.Random(seed)
    docs = []
    for i in range(n):  # 1-3 paragraphs of 2-3 real sentences, words in their order
        paragraphs = [" ".join(rng.sample(sentences, rng.randint(2, 3)))
                      for _ in range(rng.randint(1, 3))]
        docs.append(Document(f"{prefix}{i}", "\n\n".join(paragraphs) + ".",
                             date=f"{rng.randint(2021, 2025)}-{rng.randint(1, 12):02d}-01"))
    return docs


def build(root: Path, n: int) -> float:
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import LoadResult
    from indexer.write.pipeline import update_index

    embedder = HashEmbedder()
    started = time.perf_counter()
    for begin in range(0, n, 50_000):  # one version per 50k: the build's memory stays bounded
        docs = _articles(min(50_000, n - begin), seed=begin, prefix=f"a{begin}-")
        update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                     LoadResult(documents=docs), merges="off")
    return time.perf_counter() - started


def one_change(root: str, what: str) -> dict:
    """In this (fresh) process: one change, timed; its peak memory."""
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import LoadResult
    from indexer.write.pipeline import update_index

    from indexer.index.keywords.analysis import detect_language

    embedder = HashEmbedder()
    # New text for each run's folder: an index that an earlier run changed (--built) holds
    # that run's article, and its vectors are in the cache; a fixed one would add nothing.
    run = Path(root).parent.name
    doc = _articles(1, seed=999_999 + zlib.crc32(run.encode()) % 1_000_000, prefix=f"new-{run}-")[0]
    # Process start-up, not the change: py3langid's model (3 s here) and the write path's imports
    # (FAISS, tantivy, SQLite) load once per process; a server or `follow` has them loaded, a
    # CLI run pays them once. A first change of a warm-up article pays them here, untimed.
    detect_language("warm up")
    cold = time.perf_counter()
    warm = _articles(1, seed=555_555, prefix="warm-")[0]
    # The writes' due merges run as the CLI's do, after the publish in a child process: not
    # part of a change's time (merges="off" here: the merge is measured on its own, below).
    update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                 LoadResult(documents=[warm]), merges="off")
    cold = time.perf_counter() - cold
    update_index(IndexDirectory(root), None, None, remove=[warm.doc_id], merges="off")
    before = _rss_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    started = time.perf_counter()
    if what == "remove":
        report = update_index(IndexDirectory(root), None, None, remove=[doc.doc_id],
                              merges="off")
    else:
        report = update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                              LoadResult(documents=[doc]), merges="off")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "first_in_process_s": cold, "peak_mb": _rss_mb("VmHWM"),
            "before_mb": before,
            "embedded": report.embedded, "articles": report.articles, "chunks": report.chunks}


def _rss_mb(field: str) -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return machine.peak_rss_mb()


def _in_process(root: Path, what: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.live", "--one", what, str(root)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def search_p50(root: Path, seconds: float, merging: bool, window: float = 1.0,
               cap: float | None = None) -> dict:
    """Hybrid searches over and over for ``seconds`` (or while `optimize` runs); their p50.

    During the merge, the merge process is paused (SIGSTOP) and resumed in turns of ``window``
    seconds, and each search counts for the turn it ran in: the ratio of the two p50s is what
    the merge costs a search, measured over the same minutes, so other work on the machine
    (which moves the load from one minute to the next) weighs on both alike.
    ``cap``: stop after that many seconds of merging (the merge is killed: crash-safe, the
    index stays as it was), for sizes whose merge outlasts the run."""
    from indexer.index.directory import IndexDirectory
    from search.searcher import Searcher

    searcher = Searcher(IndexDirectory(root), HashEmbedder())
    for q in QUESTIONS:  # warm
        searcher.search(q)
    merge = None
    if merging:  # `optimize` nices itself; one thread, as a background merge has
        merge = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                                  "optimize", "--index", str(root)], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=os.environ | ONE_THREAD)
    times, turns, started = [], {True: [], False: []}, time.perf_counter()
    running, switched = True, started
    try:
        while ((merge.poll() is None and (cap is None or time.perf_counter() - started < cap))
               if merge else (time.perf_counter() - started < seconds)):
            if merge and time.perf_counter() - switched >= window:
                running, switched = not running, time.perf_counter()
                merge.send_signal(signal.SIGCONT if running else signal.SIGSTOP)
            q = QUESTIONS[len(times) % len(QUESTIONS)]
            t = time.perf_counter()
            searcher.search(q)
            took = (time.perf_counter() - t) * 1000
            times.append(took)
            if t >= switched:  # began and ended in one turn
                turns[running].append(took)
    finally:
        if merge and merge.poll() is None:
            merge.send_signal(signal.SIGCONT)
    merge_s = time.perf_counter() - started
    stopped = bool(merge and merge.poll() is None)
    if stopped:
        merge.kill()
    if merge and merge.wait() != 0 and not stopped:
        raise SystemExit(f"optimize failed: {merge.stderr.read()}")
    searcher.close()
    found = {"p50_ms": statistics.median(times), "searches": len(times), "seconds": merge_s,
             "load_1m": round(os.getloadavg()[0], 2), "stopped": stopped}
    if merge and turns[True] and turns[False]:
        found |= {"p50_ms_merge_running": statistics.median(turns[True]),
                  "p50_ms_merge_paused": statistics.median(turns[False]),
                  "searches_running": len(turns[True]), "searches_paused": len(turns[False])}
    return found


def measure(n: int, keep: Path | None, built_at: Path | None = None,
            cap: float | None = None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"live-{n}-", dir=keep))
    root = folder / "index"
    if built_at is None:
        built = build(root, n)
    else:  # an index of n articles built by an earlier run (its build time is not this run's)
        shutil.copytree(built_at, root)
        built = None
        from indexer.index.directory import IndexDirectory

        held = IndexDirectory(root).manifest().articles
        if abs(held - n) > n // 20:  # an interrupted build leaves fewer: say so, do not mislabel
            raise SystemExit(f"--built {n} {built_at}: that index holds {held:,} articles")
    # Several small segments to merge, as a day of news makes them
    for i in range(5):
        from indexer.index.directory import IndexDirectory
        from indexer.write.chunking import ParagraphChunker
        from indexer.write.loading import LoadResult
        from indexer.write.pipeline import update_index

        e = HashEmbedder()
        update_index(IndexDirectory(root), e, ParagraphChunker(e),
                     LoadResult(documents=_articles(20, seed=10_000 + i,
                                                    prefix=f"d{i}-{folder.name}-")),
                     merges="off")
    changes = {what: _in_process(root, what) for what in ("add", "remove", "add again")}
    quiet = search_p50(root, 8.0, merging=False)
    during = search_p50(root, 0, merging=True, cap=cap)
    quiet_after = search_p50(root, 8.0, merging=False)
    return {"articles": n, "build_s": built, **{k.replace(" ", "_"): v for k, v in changes.items()},
            "search_quiet": quiet, "search_during_merge": during, "search_after_merge": quiet_after}


def _turns(during: dict) -> str:
    if "p50_ms_merge_running" not in during:
        return "-"
    running, paused = during["p50_ms_merge_running"], during["p50_ms_merge_paused"]
    return f"{running:.1f} / {paused:.1f} ({running / paused:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--keep", type=Path, default=None, help="build the indexes under DIR")
    parser.add_argument("--built", nargs=2, action="append", default=[], metavar=("N", "INDEX"),
                        help="use a copy of INDEX, an index of N articles an earlier run built")
    parser.add_argument("--merge-cap", type=float, nargs=2, action="append", default=[],
                        metavar=("N", "SECONDS"), help="at size N, stop the merge after SECONDS")
    parser.add_argument("--one", nargs=2, metavar=("WHAT", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        what, root = args.one
        print(json.dumps(one_change(root, "remove" if what == "remove" else "add")))
        return
    rows, numbers = [], {}
    for n in args.sizes:
        m = measure(n, args.keep, {int(k): Path(v) for k, v in args.built}.get(n),
                    {int(k): v for k, v in args.merge_cap}.get(n))
        numbers[str(n)] = m
        for what in ("add", "remove", "add_again"):
            rows.append([f"{n:,}", what.replace("_", " "), f"{m[what]['seconds']:.2f}",
                         f"{m[what]['first_in_process_s']:.2f}",
                         f"{m[what]['peak_mb']:.0f}",
                         f"{m[what]['peak_mb'] - m[what]['before_mb']:.0f}",
                         str(m[what]["embedded"])])
        print(json.dumps(m), flush=True)
    search_rows = [[f"{n:,}", f"{m['search_quiet']['p50_ms']:.1f}",
                    f"{m['search_during_merge']['p50_ms']:.1f}",
                    f"{m['search_during_merge']['p50_ms'] / m['search_quiet']['p50_ms']:.2f}",
                    _turns(m['search_during_merge']),
                    f"{m['search_during_merge']['seconds']:.1f}"
                    + (" (stopped)" if m['search_during_merge'].get('stopped') else ""),
                    f"{m['search_after_merge']['p50_ms']:.1f}",
                    f"{m['search_quiet']['load_1m']:.1f} / {m['search_during_merge']['load_1m']:.1f}"]
                   for n, m in ((int(k), v) for k, v in numbers.items())]
    out.publish(numbers, [
        out.table("One change to an index of N articles (update_index end to end, own process)",
                  ["articles", "change", "seconds", "first add in a process s", "peak MB",
                   "MB above start", "texts embedded"],
                  rows,
                  "hashing embedder: no model time; add again = the vector cache's vectors. "
                  "Embedding one article with the real model comes on top (bench/indexing.py: "
                  "tokens/s)."),
        out.table("Search p50 (hybrid) without and during a merge of every segment (optimize)",
                  ["articles", "p50 ms quiet", "p50 ms during merge", "during / quiet",
                   "merge running / paused (interleaved)", "merge s",
                   "p50 ms after merge", "load 1 min quiet / during"], search_rows,
                  "the merge niced and on one thread, as background merges run; the load average "
                  "includes other work on the machine. Interleaved: the merge paused and resumed "
                  "every second, each search counted for its turn (p50 ms running / paused, "
                  "their ratio): the same minutes for both."),
    ])


if __name__ == "__main__":
    main()
