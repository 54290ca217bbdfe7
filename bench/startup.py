"""Start-up and single-question latency per query backend (real model, sample index).

- cold: a new `vraagbaak search` process, from exec to exit, answering one question (median of
  --runs), with its peak memory;
- warm: in one process, p50/p95/p99 of embedding the question, and of the whole search
  (embedding, dense and keyword retrieval, fusion, grouping, snippets), over the 30 sample
  questions x --repeats.

usage: python bench/startup.py [--runs 5] [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BACKENDS = ("engine", "torch")
QUESTION = "what did Biden say about cyber"


def cold(index: Path, backend: str, runs: int) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MB) of a fresh `vraagbaak search`."""
    exe = Path(sys.executable).parent / "vraagbaak"
    env = os.environ | {"VRAAGBAAK_BACKEND": backend}
    # GNU time reports the child's own peak; getrusage would count the fork of this big process.
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    times, peak = [], 0.0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([*timer, str(exe), "search", QUESTION, "--index", str(index), "-k", "3"],
                              env=env, check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if timer:
            peak = max(peak, int(done.stderr.strip().splitlines()[-1]) / 1024)
    return sorted(times)[len(times) // 2], peak


def warm(index: Path, backend: str, questions: list[str], repeats: int) -> dict[str, tuple]:
    from indexer.embedders import load_query_embedder
    from search.evaluation import percentile
    from search.searcher import Searcher

    os.environ["VRAAGBAAK_BACKEND"] = backend
    searcher = Searcher.open(index, make_embedder=load_query_embedder)
    searcher.search(QUESTION)  # first call: lazy initialisation is not what is measured
    embed, whole = [], []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter()
            searcher.embedder.embed_queries([q])
            embed.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            searcher.search(q)
            whole.append((time.perf_counter() - started) * 1000)
    return {name: tuple(percentile(v, p) for p in (50, 95, 99))
            for name, v in (("embed", embed), ("search", whole))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    questions = [json.loads(line)["text"] for line in (ROOT / "tests" / "data" / "sample_questions.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "sample"
        # Indexed in another process: torch loaded here would slow the engine's OpenMP threads,
        # which a real `vraagbaak search` never has next to it. So the engine is measured first.
        subprocess.run([str(Path(sys.executable).parent / "vraagbaak"), "index", str(ROOT / "data" / "sample"),
                        "--index", str(index)], check=True, capture_output=True)
        print(f"cold `vraagbaak search` (median of {args.runs}), sample index:")
        results = {b: cold(index, b, args.runs) for b in BACKENDS}
        for backend, (seconds, mb) in results.items():
            print(f"  {backend:7} {seconds:5.2f} s  peak {mb:6.0f} MB")
        print(f"  ratio torch/engine: {results['torch'][0] / results['engine'][0]:.1f}x")
        print(f"warm, 30 questions x {args.repeats}: p50 / p95 / p99 ms")
        for backend in BACKENDS:
            numbers = warm(index, backend, questions, args.repeats)
            cells = "  |  ".join(f"{name} {p50:5.1f} {p95:5.1f} {p99:5.1f}"
                                 for name, (p50, p95, p99) in numbers.items())
            print(f"  {backend:7} {cells}")


if __name__ == "__main__":
    main()
