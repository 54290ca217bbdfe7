"""Embedding on Ray (`vraagbaak index --ray`) with 1 and 2 actors against a plain encode in one process, on the same texts.

The texts are what an index run embeds: the sample's passages and real Dutch sentences (the
sample's and FLORES dev's), in a seeded order, --texts of them. Four ways, in one run, round
after round so that a machine whose speed drifts treats them alike: the plain encode (the
document backend `vraagbaak index` picks here, torch on all cores, batches longest first, as
without --ray); RayEmbedding with 1 actor of all cores' threads, with 2 actors of half each
(per-actor threads = cores / actors), and with 1 actor of 1 thread (what the second actor on
the second core adds). One private Ray for the whole run (all cores, a 256 MB object store).
A Ray run counts twice: its wall time from asking to the last vector (actors starting and
loading their model included), and its steady rate: each actor's own after its first batch
(its warm-up), summed over the actors (what a long run approaches). Tokens are the model's,
truncated at its limit as it reads them. The issue's goal: 2 actors at least 1.8 times 1
actor's steady tokens/s on this 2-core machine (printed against both 1-actor ways); the load
average is printed with the numbers, since a shared machine's other work takes its share.
Where a Milvus server is at hand (--milvus URI, or one started from tests/milvus_server.py's
venv), one more way: 2 actors whose vectors the workers' sink upserts into it, as
`--vectors milvus://…` does (indexer/write/milvus_sink.py), so that what the sink costs is seen.

usage: python -m bench.ray_scaling [--texts 1536] [--rounds 2] [--device cpu|cpu-bf16] [--milvus URI]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from bench.lib import corpora, results
from bench.milvus import server as milvus_server
from indexer.write.ray_embedding import EmbedActor

SINK = "{}, writing into Milvus"


class TimedActor(EmbedActor):
    """The product's actor, writing when each batch started and ended (one line per batch)."""

    def __init__(self, *args, times: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.times = times

    def __call__(self, batch: dict) -> dict:
        tokens = sum(min(n + 2, self.embedder.max_tokens)
                     for n in self.embedder.count_tokens([str(t) for t in batch["text"]]))
        started = time.time()
        out = super().__call__(batch)
        with open(self.times, "a") as fh:
            fh.write(json.dumps([os.getpid(), started, time.time(), len(batch["key"]), tokens])
                     + "\n")
        return out


def texts_to_embed(embedder, n: int) -> list[str]:
    pool = corpora.sample_passages(embedder) + corpora.dutch_sentences()
    random.Random(7).shuffle(pool)
    return [pool[i % len(pool)] for i in range(n)]


def plain(embedder, texts: list[str], batch_size: int, tokens: int) -> dict:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    embedder.embed_documents(texts[:batch_size])  # warmed up, as an actor's first batch is not
    started = time.perf_counter()
    for begin in range(0, len(order), batch_size):
        embedder.embed_documents([texts[i] for i in order[begin:begin + batch_size]])
    seconds = time.perf_counter() - started
    return {"wall_s": seconds, "texts_per_s": len(texts) / seconds, "tokens_per_s": tokens / seconds}


def on_ray(embedder, rows, actors: int, threads: int, batch_size: int,
           milvus: str | None = None) -> dict:
    """``milvus``: a server's URI, into which the workers upsert the vectors (the sink:
    `--vectors milvus://…`); None: the vectors come back to this process."""
    from indexer.settings import RaySettings
    from indexer.write.ray_embedding import RayEmbedding

    with tempfile.TemporaryDirectory() as tmp:
        times = Path(tmp) / "times.jsonl"
        executor = RayEmbedding(RaySettings(actors=actors, threads=threads), actor=TimedActor,
                                actor_options=(("times", str(times)),))
        started = time.time()
        if milvus is None:
            done = sum(len(keys) for keys, _ in executor.embed(rows, embedder, batch_size))
        else:
            done = _into_milvus(executor, rows, embedder, batch_size, milvus)
        wall = time.time() - started
        batches = [json.loads(line) for line in times.read_text().splitlines()]
    assert done == len(rows), (done, len(rows))
    per_actor = [sorted(b for b in batches if b[0] == pid) for pid in {b[0] for b in batches}]
    texts_rate = tokens_rate = 0.0
    for own in (sorted(o, key=lambda b: b[1]) for o in per_actor):
        # each actor's own rate, after its first batch (its warm-up, as plain's is left out),
        # summed: actors that start a few seconds apart still count at their full rate
        timed = own[1:] or own
        seconds = own[-1][2] - (own[0][2] if len(own) > 1 else own[0][1])
        texts_rate += sum(b[3] for b in timed) / seconds
        tokens_rate += sum(b[4] for b in timed) / seconds
    first = min(b[1] for b in batches)
    return {"wall_s": wall, "start_s": first - started, "actors_seen": len(per_actor),
            "batches": len(batches), "texts_per_s": texts_rate, "tokens_per_s": tokens_rate}


def _into_milvus(executor, rows, embedder, batch_size: int, uri: str) -> int:
    """The workers embed and upsert ``rows`` into fresh collections of the server at ``uri``
    (dropped afterwards); the texts written, as the sink counts them."""
    from indexer.index.stores.milvus_collections import collection_names
    from indexer.write import milvus_sink
    from indexer.write.embedding import PASSAGES, Holder

    names = collection_names(f"vraagbaak_bench_{int(time.time() * 1000)}")
    store = {"kind": "milvus", "uri": uri, "collections": names,
             "index": {"index_type": "FLAT", "metric_type": "IP"}}
    holders = {r.key: [Holder(PASSAGES, r.id, 0, 0, 0)] for r in rows}
    try:
        written = executor.write(rows, holders, embedder, batch_size, store, embedder.dim)
    finally:
        collections = milvus_sink.open_target(milvus_sink.Target(
            uri, names, store["index"], embedder.dim, embedder.spec.fingerprint))
        try:
            collections.drop()
        finally:
            collections.close()
    return len(written.keys)


def _way(actors: int, threads: int) -> str:
    return f"Ray, {actors} actor{'s' if actors > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"


def _ratio(best: dict, a: str, b: str) -> float:
    return best[a]["tokens_per_s"] / best[b]["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1536)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cpu-bf16"],
                        help="the actors' arithmetic: cpu (fp32, what --ray uses under --device "
                             "auto) or cpu-bf16 (what --ray --device cpu-bf16 asks for)")
    parser.add_argument("--milvus", default=None, metavar="URI",
                        help="a Milvus server for the sink's row (default: one started from "
                             "tests/milvus_server.py's venv, where there is one; else no row)")
    args = parser.parse_args()
    from indexer import embedders
    from indexer.embedders.base import resolve_model
    from indexer.settings import RaySettings
    from indexer.write.embedding import PASSAGES, TextRow, batch_size_of
    from indexer.write.ray_embedding import ray_session

    cores = os.cpu_count() or 1
    spec = resolve_model()
    name = embedders.document_backend_for(spec, args.device)
    embedder = embedders.load_embedder(spec, name)  # torch loads here, its OpenMP waits passive
    import torch

    torch.set_num_threads(cores)
    texts = texts_to_embed(embedder, args.texts)
    tokens = sum(min(n + 2, embedder.max_tokens) for n in embedder.count_tokens(texts))
    rows = [TextRow(f"t{i}", t, i, PASSAGES, 0, "") for i, t in enumerate(texts)]
    batch = batch_size_of(embedder, None)
    load_before = os.getloadavg()[0]
    # (actors, threads each): the cores split between the actors (the comparison), and
    # one actor of one thread: what a second actor adds on a second core.
    ways = [(1, cores), (2, max(1, cores // 2)), (1, 1)]
    runs: dict[str, list[dict]] = {"plain": []} | {_way(a, t): [] for a, t in ways}
    # One private Ray, quiet, for the whole run: the executors below use it and leave it.
    with ray_session(RaySettings(cpus=cores, object_store_mb=256)):
        for _ in range(args.rounds):
            runs["plain"].append(plain(embedder, texts, batch, tokens))
            for actors, threads in ways:
                runs[_way(actors, threads)].append(on_ray(embedder, rows, actors, threads, batch))
        # Last, with the server up only now: a Milvus server on these cores takes CPU even idle
        with milvus_server(args.milvus) as uri:
            two = (2, max(1, cores // 2))
            for _ in range(args.rounds if uri else 0):
                runs.setdefault(SINK.format(_way(*two)), []).append(
                    on_ray(embedder, rows, *two, batch, uri))
    load_after = os.getloadavg()[0]
    best = {way: {k: (min if k.endswith("_s") else max)(r[k] for r in done) for k in done[0]}
            for way, done in runs.items()}
    split = _ratio(best, _way(2, max(1, cores // 2)), _way(1, cores))
    added = _ratio(best, _way(2, max(1, cores // 2)), _way(1, 1))
    numbers = {"texts": len(texts), "tokens": tokens, "backend": name, "batch_size": batch,
               "cores": cores, "rounds": args.rounds, "runs": runs, "best": best,
               "ratio_2_actors_to_1_same_cores": split, "ratio_2_actors_to_1_one_thread": added,
               "load_1m_before": load_before, "load_1m_after": load_after}
    rows_out = [[way if way != "plain" else f"plain encode, one process, {cores} threads",
                 f"{b['wall_s']:.1f}", f"{b['start_s']:.1f}" if "start_s" in b else "-",
                 f"{b['texts_per_s']:.1f}", f"{b['tokens_per_s']:.0f}",
                 f"{b['tokens_per_s'] / best['plain']['tokens_per_s']:.2f}"]
                for way, b in best.items()]
    table = results.table(
        f"{len(texts):,} texts ({tokens:,} tokens), {name}, batch {batch}, {cores} cores; "
        f"best of {args.rounds} rounds",
        ["way", "wall s", "until the first batch s", "texts/s", "tokens/s", "x plain (tokens/s)"],
        rows_out,
        f"Steady tokens/s, 2 actors against 1 actor of all {cores} threads: {split:.2f}; against "
        f"1 actor of 1 thread: {added:.2f} (the issue's goal: >= 1.8). Load average (1 min) "
        f"{load_before:.2f} before, {load_after:.2f} after: a shared machine's other work takes "
        f"its share. \"{SINK.format('…')}\": the same actors, the vectors upserted into a Milvus "
        "standalone server by the workers' sink (`--vectors milvus://…`), only counts back; "
        "its rounds run last, with the server on the same cores"
        + ("" if uri else " (no Milvus server here: that row is missing)") + ". "
        "Rates: Ray's are each actor's own after its first batch, summed (steady); "
        "plain's after one warm-up batch; a Ray run's wall time adds its start (actors "
        "starting, loading their model) and its first batches.")
    results.publish(numbers, [table])


if __name__ == "__main__":
    main()
