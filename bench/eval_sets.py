"""The baseline per question set and retrieval mode: `vraagbaak eval` on bench/data/eval (real model).

Indexes bench/data/eval/corpus.jsonl with `vraagbaak index` (into --index, kept, or a temporary
folder), runs `vraagbaak eval bench/data/eval/sets.json --mode M --json` for each mode, writes
everything to bench/out/eval_sets.json (bench.lib.results) and prints, per set, each mode's
R@1 / MRR@10 / nDCG@10, with a mark where hybrid is below its better leg. Both commands run as
subprocesses, so what is measured is exactly what a person gets from the CLI.

usage: python -m bench.eval_sets [--index DIR] [--modes hybrid dense keyword] [--manifest FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.lib import results as out
from bench.lib.corpora import ROOT

EVAL = ROOT / "bench" / "data" / "eval"
MODES = ("hybrid", "dense", "keyword")
CLI = [sys.executable, "-c", "from cli.main import main; main()"]
SHOWN = (("R@1", "recall_at_1"), ("MRR@10", "mrr_at_10"), ("nDCG@10", "ndcg_at_10"))


def vraagbaak(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"vraagbaak {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def git_commit() -> str | None:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or None


def table(results: dict[str, dict]) -> dict:
    """One row per set (and the pooled and mean rows): each mode's metrics, then where hybrid is
    below the better of dense and keyword."""
    modes = list(results)
    first = results[modes[0]]
    names = [s["name"] for s in first["sets"]] + ["all", "mean of sets"]

    def metrics(mode: str, name: str) -> dict:
        data = results[mode]
        if name == "all":
            return data["overall"]
        if name == "mean of sets":
            return data["mean_of_sets"]
        return next(s["overall"] for s in data["sets"] if s["name"] == name)

    header = ["set", "n"] + [f"{mode} {label}" for mode in modes for label, _ in SHOWN]
    header.append("hybrid below its better leg")
    rows = []
    for name in names:
        row = [name, str(metrics(modes[0], name)["n"])]
        row += [f"{metrics(mode, name)[key]:.3f}" for mode in modes for _, key in SHOWN]
        below = []
        if {"hybrid", "dense", "keyword"} <= set(modes):
            for label, key in SHOWN:
                legs = {leg: metrics(leg, name)[key] for leg in ("dense", "keyword")}
                leg = max(legs, key=legs.get)
                gap = legs[leg] - metrics("hybrid", name)[key]
                if gap > 0.0005:
                    below.append(f"{label} -{gap:.3f} vs {leg}")
        row.append(", ".join(below) or "-")
        rows.append(row)
    latency = "; ".join(f"{mode}: p50 {data['overall']['p50_ms']:.1f} ms, p95 {data['overall']['p95_ms']:.1f} ms"
                        for mode, data in results.items())
    return out.table("Per question set and mode", header, rows, f"per search: {latency}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index folder to build (or update) and keep")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--manifest", type=Path, default=EVAL / "sets.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "index"
        summary = json.loads(vraagbaak("index", str(EVAL / "corpus.jsonl"), "--index", str(index),
                                       "--json"))
        results = {}
        for mode in args.modes:
            print(f"eval, mode {mode} …", file=sys.stderr, flush=True)
            results[mode] = json.loads(vraagbaak("eval", str(args.manifest), "--index", str(index),
                                                 "--mode", mode, "--json"))
    numbers = {"commit": git_commit(),
               "manifest": str(args.manifest.relative_to(ROOT) if args.manifest.is_relative_to(ROOT)
                               else args.manifest),
               "index": {key: summary.get(key) for key in ("articles", "chunks")}, "modes": results}
    print(f"index: {numbers['index']['articles']} articles, {numbers['index']['chunks']} passages")
    out.publish(numbers, [table(results)])

if __name__ == "__main__":
    main()
