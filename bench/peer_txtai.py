"""Peer benchmark: the txtai search engine on the same passages, questions and model as vraagbaak.

Runs inside .venv-peer (see bench/peer-setup.sh), from the repository root; imports nothing of
vraagbaak's but the benchmarks' percentile (search.evaluation, pure Python). Fully offline.

    .venv-peer/bin/python -m bench.peer_txtai --model models/multilingual-e5-small \
        --passages P.jsonl --questions Q.jsonl --out result.json [--queries-for-latency 200]

P.jsonl lines: {"id": str, "text": str}; Q.jsonl lines: {"text": str, "relevant": [ids]}.

txtai Embeddings is configured with the local sentence-transformers folder (method
"sentence-transformers", faiss backend, content stored) and the e5 prefixes through txtai's
`instructions` setting ({"query": "query: ", "data": "passage: "}; applied in
txtai/vectors/base.py Vectors.prepare). txtai's STVectors encodes with encode_query /
encode_document, which ALSO prepend the model folder's own prompts (config_sentence_transformers.json
has the same e5 prompts), giving "query: query: ...". So `encodeargs: {"prompt": ""}` switches the
sentence-transformers prompts off and the `instructions` prefix is the only one; this is checked
against a direct encode of "query: <q>" / "passage: <p>" before anything is timed.

Measures: model load time (constructing Embeddings loads the model), index time (wall seconds of
embeddings.index over all passages) and tokens/s (tokens counted with the model's tokenizer
outside the timed part), single-question latency of embeddings.search(text, 10) over the first N
questions (5 warm-up searches first; p50/p95/p99 ms), peak RSS (ru_maxrss) after indexing and
after searching, index size on disk (embeddings.save), and recall@1, recall@10 and MRR@10 over
all questions (found at the first rank whose id is in "relevant").
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import importlib.metadata
import json
import resource
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from txtai import Embeddings

from bench.lib.timing import Timer, percentile

K = 10
PREFIXES = {"query": "query: ", "data": "passage: "}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KB on Linux


def check_prefixes(embeddings, query, passage):
    """Asserts txtai's vectors equal sentence-transformers' encode of the e5-prefixed text."""
    st = embeddings.model.model  # the SentenceTransformer txtai loaded (no second copy)
    for category, text in (("query", query), ("data", passage)):
        got = embeddings.transform(text, category=category)
        want = st.encode([PREFIXES[category] + text], prompt="", normalize_embeddings=True)[0]
        diff = float(np.abs(got - want).max())
        if diff > 1e-5:
            raise SystemExit(f"prefix check failed for {category!r}: max |diff| = {diff:.3g}")
    return True


def rank_of_first_relevant(results, relevant):
    for rank, hit in enumerate(results, 1):
        if hit["id"] in relevant:
            return rank
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="local sentence-transformers model folder")
    ap.add_argument("--passages", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--queries-for-latency", type=int, default=200)
    args = ap.parse_args()

    model = str(Path(args.model).resolve())
    if not Path(model, "modules.json").is_file():
        raise SystemExit(f"{model} is not a sentence-transformers folder (no modules.json)")
    passages = read_jsonl(args.passages)
    questions = read_jsonl(args.questions)

    config = {
        "path": model,
        "method": "sentence-transformers",
        "content": True,
        "backend": "faiss",
        "instructions": PREFIXES,
        "encodeargs": {"prompt": ""},  # no sentence-transformers prompts on top of instructions
    }

    load = Timer()
    with load:
        embeddings = Embeddings(dict(config))
    load_s = load.last_s
    prefix_check = check_prefixes(embeddings, questions[0]["text"], passages[0]["text"])

    # Tokens the model sees (prefix included, truncated at max_seq_length), outside the timing.
    st = embeddings.model.model
    enc = st.tokenizer([PREFIXES["data"] + p["text"] for p in passages],
                       truncation=True, max_length=st.max_seq_length)
    tokens = sum(len(ids) for ids in enc["input_ids"])

    index = Timer()
    with index:
        embeddings.index([(p["id"], p["text"], None) for p in passages])
    index_s = index.last_s
    rss_after_index = rss_mb()

    # Single-question latency, one at a time.
    n = min(args.queries_for_latency, len(questions))
    for q in questions[:5]:
        embeddings.search(q["text"], K)
    timer = Timer()
    for q in questions[:n]:
        with timer:
            embeddings.search(q["text"], K)
    latencies = timer.ms

    # Retrieval quality over all questions.
    ranks = [rank_of_first_relevant(embeddings.search(q["text"], K), set(q["relevant"]))
             for q in questions]
    rss_after_search = rss_mb()

    save_dir = tempfile.mkdtemp(prefix="peer-txtai-index-")
    try:
        embeddings.save(save_dir)
        files = [f for f in Path(save_dir).rglob("*") if f.is_file()]
        index_bytes = sum(f.stat().st_size for f in files)
        index_files = {str(f.relative_to(save_dir)): f.stat().st_size for f in files}
    finally:
        shutil.rmtree(save_dir, ignore_errors=True)

    nq = len(questions)
    result = {
        "engine": "txtai",
        "txtai_version": importlib.metadata.version("txtai"),
        "sentence_transformers_version": importlib.metadata.version("sentence-transformers"),
        "faiss_version": importlib.metadata.version("faiss-cpu"),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "config": config,
        "config_after_index": json.loads(json.dumps(embeddings.config, default=str)),
        "encode_batch_size": embeddings.model.encodebatch,  # txtai default "encodebatch": 32
        "index_batch_size": embeddings.config.get("batch", 1024),  # txtai default "batch": 1024
        "prefix_check": prefix_check,
        "n_passages": len(passages),
        "n_questions": nq,
        "model_load_s": round(load_s, 3),
        "index_s": round(index_s, 3),
        "index_tokens": tokens,
        "index_tokens_per_s": round(tokens / index_s, 1),
        "index_passages_per_s": round(len(passages) / index_s, 2),
        "latency_queries": n,
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p95": round(percentile(latencies, 95), 2),
            "p99": round(percentile(latencies, 99), 2),
            "mean": round(statistics.fmean(latencies), 2),
        },
        "peak_rss_mb_after_index": rss_after_index,
        "peak_rss_mb_after_search": rss_after_search,
        "index_size_bytes": index_bytes,
        "index_files": index_files,
        "recall_at_1": round(sum(r == 1 for r in ranks) / nq, 4),
        "recall_at_10": round(sum(r is not None for r in ranks) / nq, 4),
        "mrr_at_10": round(sum(1 / r for r in ranks if r) / nq, 4),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"txtai {result['txtai_version']} | {len(passages)} passages, {nq} questions | "
          f"torch threads {result['torch_threads']}")
    print(f"  model load {load_s:.2f}s | index {index_s:.2f}s "
          f"({result['index_tokens_per_s']:.0f} tokens/s, batch {result['encode_batch_size']})")
    lat = result["latency_ms"]
    print(f"  search latency over {n}: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, "
          f"p99 {lat['p99']:.1f} ms")
    print(f"  peak RSS {rss_after_index:.0f} MB after index, {rss_after_search:.0f} MB after search"
          f" | index on disk {index_bytes / 1e6:.2f} MB")
    print(f"  recall@1 {result['recall_at_1']:.4f} | recall@10 {result['recall_at_10']:.4f} | "
          f"MRR@10 {result['mrr_at_10']:.4f}")
    print(f"  wrote {args.out}")


if __name__ == "__main__":
    main()
