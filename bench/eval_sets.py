"""The baseline per question set and retrieval mode: `vraagbaak eval` on bench/data/eval (real model).

Indexes bench/data/eval/corpus.jsonl with `vraagbaak index` (into --index, kept, or a temporary
folder), runs `vraagbaak eval bench/data/eval/sets.json --mode M --json` for each mode, writes
everything to bench/out/eval_sets.json and prints, per set, each mode's R@1 / MRR@10 / nDCG@10,
with a mark where hybrid is below its better leg. Both commands run as subprocesses, so what is
measured is exactly what a person gets from the CLI.

usage: python bench/eval_sets.py [--index DIR] [--modes hybrid dense keyword] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def machine() -> dict:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def git_commit() -> str | None:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or None


def table(results: dict[str, dict]) -> list[str]:
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
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:-1])]
                      + [r[-1]]) for r in [header, *rows]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index folder to build (or update) and keep")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--manifest", type=Path, default=EVAL / "sets.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "eval_sets.json")
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
    report = {"date": datetime.date.today().isoformat(), "commit": git_commit(),
              "machine": machine(), "manifest": str(args.manifest.relative_to(ROOT)
                                                    if args.manifest.is_relative_to(ROOT)
                                                    else args.manifest),
              "index": {key: summary.get(key) for key in ("articles", "chunks")},
              "modes": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    m = report["machine"]
    print(f"{report['date']}, {m['cpu']}, {m['cores']} cores; index: {report['index']['articles']} "
          f"articles, {report['index']['chunks']} passages; written to {args.out}")
    print("\n".join(table(results)))
    for mode, data in results.items():
        latency = data["overall"]
        print(f"{mode}: p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms per search")


if __name__ == "__main__":
    main()
