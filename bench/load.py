"""Load on the web API over loopback: throughput and latency at 1, 8 and 32 concurrent clients.

Starts `vraagbaak serve` on a free 127.0.0.1 port (the sample index, real model, built first
when missing) unless --url names a running server; with --replicas 1 2, first one server, then
two `serve --reuse-port` replicas on one port (each client keeps its connection, so the kernel
spreads the clients over the replicas), the ratio printed. Each level sends a bounded number of requests
(--requests) within a bounded time (--seconds), spread over the 30 sample questions; every
response must be 200, and errors are counted. Only loopback is ever addressed.

usage: python -m bench.load [--requests 120] [--seconds 60] [--replicas 1 [2 ...]]
                            [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.lib import corpora, indexes, results
from bench.lib.timing import percentile


def start_servers(index: Path, replicas: int) -> tuple[list[subprocess.Popen], str]:
    """``replicas`` servers on one free port (--reuse-port when more than one), all ready."""
    port = indexes.free_port()
    exe = indexes.vraagbaak()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("VRAAGBAAK_API_KEY", None)
    shared = ["--reuse-port"] if replicas > 1 else []
    procs = [subprocess.Popen([str(exe), "serve", "--index", str(index), "--port", str(port),
                               *shared], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(replicas)]
    url = f"http://127.0.0.1:{port}"
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(seen) < replicas:
        try:  # a connection of its own each time: the kernel picks among the ready replicas
            response = httpx.get(url + "/health", timeout=2, headers={"Connection": "close"})
            if response.status_code == 200:
                seen.add(response.headers.get("x-vraagbaak-replica", "one"))
        except httpx.HTTPError:
            time.sleep(0.5)
    if len(seen) < replicas:
        stop_servers(procs)
        raise SystemExit(f"{replicas - len(seen)} of {replicas} servers not ready within 120 s")
    return procs, url


def stop_servers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def run_level(url: str, clients: int, requests: int, seconds: float, questions: list[str]):
    latencies, errors, lock = [], 0, threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + seconds

    def client():
        nonlocal errors
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                try:
                    ok = http.get("/search", params={"q": questions[i % len(questions)], "k": 5}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return len(latencies), errors, wall, latencies


def measure(url: str, args, questions: list[str], replicas: int) -> list[dict]:
    httpx.get(url + "/search", params={"q": "warm-up"}, timeout=30)
    levels = []
    for clients in (1, 8, 32):
        n, errors, wall, lat = run_level(url, clients, args.requests, args.seconds, questions)
        levels.append({"replicas": replicas, "clients": clients, "requests": n, "errors": errors,
                       "per_s": n / wall, "p50_ms": percentile(lat, 50),
                       "p99_ms": percentile(lat, 99)})
        print(f"{replicas} replica(s), {clients} clients measured", flush=True)
    return levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120, help="per concurrency level")
    parser.add_argument("--seconds", type=float, default=60, help="per concurrency level, at most")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1],
                        help="server processes on the port, one setting after the other")
    parser.add_argument("--url", help="a running server (else one is started on loopback)")
    args = parser.parse_args()
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("this benchmark only addresses loopback servers")
    questions = corpora.question_texts()
    levels = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            levels = measure(args.url, args, questions, 1)
        else:
            index = Path(tmp) / "idx"
            indexes.index_with_cli([corpora.SAMPLE], index)
            for replicas in args.replicas:
                procs, url = start_servers(index, replicas)
                try:
                    levels += measure(url, args, questions, replicas)
                finally:
                    stop_servers(procs)
    base = min(args.replicas)
    one = {r["clients"]: r["per_s"] for r in levels if r["replicas"] == base}
    ratios = [f"{r['replicas']} replicas / {base} at {r['clients']} clients: "
              f"{r['per_s'] / one[r['clients']]:.2f}x" for r in levels
              if r["replicas"] != base and one.get(r["clients"])]
    note = f"throughput {'; '.join(ratios)} ({os.cpu_count()} CPUs)" if ratios else ""
    table = results.table(
        "GET /search?q=...&k=5 on loopback (hybrid, grouped, snippets; sample index)",
        ["replicas", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms"],
        [[r["replicas"], r["clients"], r["requests"], r["errors"], f"{r['per_s']:.1f}",
          f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}"] for r in levels], note)
    results.publish({"url_was_given": bool(args.url), "levels": levels}, [table])


if __name__ == "__main__":
    main()
