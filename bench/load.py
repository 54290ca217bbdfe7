"""Load on the web API over loopback: throughput and latency at 1, 8 and 32 concurrent clients.

Starts `vraagbaak serve` on a free 127.0.0.1 port (the sample index, real model, built first
when missing) unless --url names a running server. Each level sends a bounded number of requests
(--requests) within a bounded time (--seconds), spread over the 30 sample questions; every
response must be 200, and errors are counted. Only loopback is ever addressed.

usage: python -m bench.load [--requests 120] [--seconds 60] [--url http://127.0.0.1:8000]
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


def start_server(index: Path) -> tuple[subprocess.Popen, str]:
    port = indexes.free_port()
    exe = indexes.vraagbaak()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("VRAAGBAAK_API_KEY", None)
    proc = subprocess.Popen([str(exe), "serve", "--index", str(index), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not become ready within 120 s")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120, help="per concurrency level")
    parser.add_argument("--seconds", type=float, default=60, help="per concurrency level, at most")
    parser.add_argument("--url", help="a running server (else one is started on loopback)")
    args = parser.parse_args()
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("this benchmark only addresses loopback servers")
    questions = corpora.question_texts()
    proc = None
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url
        if url is None:
            index = Path(tmp) / "idx"
            indexes.index_with_cli([corpora.SAMPLE], index)
            proc, url = start_server(index)
        try:
            httpx.get(url + "/search", params={"q": "warm-up"}, timeout=30)
            levels = []
            for clients in (1, 8, 32):
                n, errors, wall, lat = run_level(url, clients, args.requests, args.seconds, questions)
                levels.append({"clients": clients, "requests": n, "errors": errors, "per_s": n / wall,
                               "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)})
                print(f"{clients} clients measured", flush=True)
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
    table = results.table(
        "GET /search?q=...&k=5 on loopback (hybrid, grouped, snippets; sample index)",
        ["clients", "requests", "errors", "req/s", "p50 ms", "p99 ms"],
        [[r["clients"], r["requests"], r["errors"], f"{r['per_s']:.1f}", f"{r['p50_ms']:.1f}",
          f"{r['p99_ms']:.1f}"] for r in levels])
    results.publish({"url_was_given": bool(args.url), "levels": levels}, [table])


if __name__ == "__main__":
    main()
