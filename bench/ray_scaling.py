"""Embedding on Ray (`vraagbaak index --ray`) with 1 and 2 actors against a plain encode in one process, on the same texts.

The texts are what an index run embeds: the sample's passages and real Dutch sentences (the
sample's and FLORES dev's), in a seeded order, --texts of them. Three ways, in one run, round
after round so that a machine whose speed drifts treats them alike: the plain encode (the
document backend `vraagbaak index` picks here, torch on all cores, batches longest first, as
without --ray); RayEmbedding with 1 actor of all cores' threads, with 2 actors of half each
(per-actor threads = cores / actors), and with 1 actor of 1 thread (what the second actor on
the second core adds). One private Ray for the whole run (all cores, a 256 MB
object store). A Ray run counts twice: its wall time from asking to the last vector (actors
starting and loading their model included), and its steady rate, from the first batch an actor
starts to the last it finishes (what a long run approaches). Tokens are the model's, truncated
at its limit as it reads them. The goal of the issue: 2 actors at least 1.8 times 1 actor's
steady rate on this 2-core machine (printed against both 1-actor ways); the load average is printed with the numbers, since a
shared machine's other work takes its share.

usage: python -m bench.ray_scaling [--texts 1536] [--rounds 2]
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
from indexer.write.ray_embedding import EmbedActor


class TimedActor(EmbedActor):
    """The product's actor, writing when each batch started and ended (one line per batch)."""

    def __init__(self, *args, times: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.times = times

    def __call__(self, batch: dict) -> dict:
        started = time.time()
        out = super().__call__(batch)
        with open(self.times, "a") as fh:
            fh.write(json.dumps([os.getpid(), started, time.time(), len(batch["key"])]) + "\n")
        return out


def texts_to_embed(embedder, n: int) -> list[str]:
    pool = corpora.sample_passages(embedder) + corpora.dutch_sentences()
    random.Random(7).shuffle(pool)
    return [pool[i % len(pool)] for i in range(n)]


def plain(embedder, texts: list[str], batch_size: int) -> float:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    embedder.embed_documents(texts[:batch_size])  # warmed up, as an actor's first batch is not
    started = time.perf_counter()
    for begin in range(0, len(order), batch_size):
        embedder.embed_documents([texts[i] for i in order[begin:begin + batch_size]])
    return time.perf_counter() - started


def on_ray(embedder, rows, actors: int, threads: int, batch_size: int) -> dict:
    from indexer.settings import RaySettings
    from indexer.write.ray_embedding import RayEmbedding

    with tempfile.TemporaryDirectory() as tmp:
        times = Path(tmp) / "times.jsonl"
        executor = RayEmbedding(RaySettings(actors=actors, threads=threads), actor=TimedActor,
                                actor_options=(("times", str(times)),))
        started = time.time()
        done = sum(len(keys) for keys, _ in executor.embed(rows, embedder, batch_size))
        wall = time.time() - started
        batches = [json.loads(line) for line in times.read_text().splitlines()]
    assert done == len(rows), (done, len(rows))
    first, last = min(b[1] for b in batches), max(b[2] for b in batches)
    return {"wall_s": wall, "steady_s": last - first, "start_s": first - started,
            "actors_seen": len({b[0] for b in batches})}


def _way(actors: int, threads: int) -> str:
    return f"Ray, {actors} actor{'s' if actors > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"


def _ratio(best: dict, a: str, b: str) -> float:
    return best[a]["texts_per_s"] / best[b]["texts_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1536)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from indexer import embedders
    from indexer.embedders.base import resolve_model
    from indexer.settings import RaySettings
    from indexer.write.embedding import PASSAGES, TextRow, batch_size_of
    from indexer.write.ray_embedding import ray_session

    cores = os.cpu_count() or 1
    spec = resolve_model()
    name = embedders.document_backend_for(spec, "cpu")
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
            runs["plain"].append({"wall_s": plain(embedder, texts, batch)})
            for actors, threads in ways:
                runs[_way(actors, threads)].append(on_ray(embedder, rows, actors, threads, batch))
    load_after = os.getloadavg()[0]
    best = {way: {k: min(r[k] for r in done) for k in done[0] if k.endswith("_s")}
            for way, done in runs.items()}
    for way in best:
        seconds = best[way].get("steady_s", best[way]["wall_s"])
        best[way] |= {"texts_per_s": len(texts) / seconds, "tokens_per_s": tokens / seconds}
    split = _ratio(best, _way(2, max(1, cores // 2)), _way(1, cores))
    added = _ratio(best, _way(2, max(1, cores // 2)), _way(1, 1))
    numbers = {"texts": len(texts), "tokens": tokens, "backend": name, "batch_size": batch,
               "cores": cores, "rounds": args.rounds, "runs": runs, "best": best,
               "ratio_2_actors_to_1_same_cores": split, "ratio_2_actors_to_1_one_thread": added,
               "load_1m_before": load_before, "load_1m_after": load_after}
    rows_out = [[way if way != "plain" else f"plain encode, one process, {cores} threads",
                 f"{b['wall_s']:.1f}", f"{b['steady_s']:.1f}" if "steady_s" in b else "-",
                 f"{b['start_s']:.1f}" if "start_s" in b else "-", f"{b['texts_per_s']:.1f}",
                 f"{b['tokens_per_s']:.0f}", f"{b['texts_per_s'] / best['plain']['texts_per_s']:.2f}"]
                for way, b in best.items()]
    table = results.table(
        f"{len(texts):,} texts ({tokens:,} tokens), {name}, batch {batch}, {cores} cores; "
        f"best of {args.rounds} rounds",
        ["way", "wall s", "steady s", "until the first batch s", "texts/s", "tokens/s",
         "x plain"], rows_out,
        f"Steady texts/s, 2 actors against 1 actor of all {cores} threads: {split:.2f}; against "
        f"1 actor of 1 thread: {added:.2f} (the issue's goal: >= 1.8). Load average (1 min) "
        f"{load_before:.2f} before, {load_after:.2f} after: a shared machine's other work takes "
        "its share. Rates: steady for Ray, wall (after one warm-up batch) for plain; a Ray "
        "run's wall time adds its start (actors and their models).")
    results.publish(numbers, [table])


if __name__ == "__main__":
    main()
