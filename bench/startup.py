"""Start-up and single-question latency per query backend (real model, sample index).

- cold: a new `vraagbaak search` process, from exec to exit, answering one question (median of
  --runs), with its peak memory;
- warm: in one process, p50/p95/p99 of embedding the question, and of the whole search
  (embedding, dense and keyword retrieval, fusion, grouping, snippets), over the 30 sample
  questions x --repeats.

usage: python -m bench.startup [--runs 5] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from bench.lib import corpora, indexes, results
from bench.lib.timing import Timer, percentile

BACKENDS = ("onnx", "engine", "torch")
QUESTION = "what did Biden say about cyber"


def cold(index: Path, backend: str, runs: int) -> dict[str, float]:
    """Median wall seconds and the largest peak RSS (MB) of a fresh `vraagbaak search`."""
    env = os.environ | {"VRAAGBAAK_BACKEND": backend}
    # GNU time reports the child's own peak; getrusage would count the fork of this big process.
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    wall, peak = Timer(), 0.0
    for _ in range(runs):
        with wall:
            done = subprocess.run([*timer, indexes.vraagbaak(), "search", QUESTION, "--index", str(index),
                                   "-k", "3"], env=env, check=True, capture_output=True, text=True)
        if timer:
            peak = max(peak, int(done.stderr.strip().splitlines()[-1]) / 1024)
    return {"seconds": percentile(wall.ms, 50) / 1000, "peak_mb": peak}


def warm(index: Path, backend: str, repeats: int) -> dict[str, dict]:
    from indexer.embedders import load_query_embedder
    from search.searcher import Searcher, single_threaded_numpy

    single_threaded_numpy()  # as in a searching process
    os.environ["VRAAGBAAK_BACKEND"] = backend
    searcher = Searcher.open(index, make_embedder=load_query_embedder)
    searcher.search(QUESTION)  # first call: lazy initialisation is not what is measured
    embed, whole = Timer(), Timer()
    for _ in range(repeats):
        for q in corpora.question_texts():
            with embed:
                searcher.embedder.embed_queries([q])
            with whole:
                searcher.search(q)
    return {"embed": embed.summary(), "search": whole.summary()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "sample"
        # Indexed in another process: torch loaded here would slow the engine's OpenMP threads,
        # which a real `vraagbaak search` never has next to it. So the engine is measured first.
        indexes.index_with_cli([corpora.SAMPLE], index)
        colds = {b: cold(index, b, args.runs) for b in BACKENDS}
        warms = {b: warm(index, b, args.repeats) for b in BACKENDS}
    numbers = {"runs": args.runs, "repeats": args.repeats, "cold": colds, "warm_ms": warms,
               "cold_ratio_torch_engine": colds["torch"]["seconds"] / colds["engine"]["seconds"],
               "cold_ratio_onnx_engine": colds["onnx"]["seconds"] / colds["engine"]["seconds"]}
    rows = [[b, f"{colds[b]['seconds']:.2f}", f"{colds[b]['peak_mb']:.0f}",
             *(" / ".join(f"{warms[b][k][p]:.1f}" for p in ("p50", "p95", "p99")) for k in ("embed", "search"))]
            for b in BACKENDS]
    table = results.table(
        f"Per query backend, sample index: a cold `vraagbaak search` (median of {args.runs}) and, warm, "
        f"30 questions x {args.repeats}", ["backend", "cold s", "cold peak MB", "embed p50 / p95 / p99 ms",
                                           "search p50 / p95 / p99 ms"], rows,
        f"cold start torch / engine: {numbers['cold_ratio_torch_engine']:.1f}x; "
        f"onnx / engine: {numbers['cold_ratio_onnx_engine']:.2f}x")
    results.publish(numbers, [table])


if __name__ == "__main__":
    main()
