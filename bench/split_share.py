"""Splitting's share of an index run: `split()` (the tokenizer pass, sentence spans, text hashes, stable ids) against embedding the same texts with the real model, one process, one after the other.

Why it is measured: whether splitting must move onto Ray with the embedding (decision 0047).
The texts are the sample's (data/sample); both stages on the same model and tokenizer as
`vraagbaak index`; splitting's time is the mean of --rounds runs, embedding's one run after a
warm-up batch.

usage: python -m bench.split_share [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import time

from bench.lib import results
from bench.lib.corpora import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from indexer import embedders
    from indexer.embedders.base import resolve_model
    from indexer.write.changes import stored
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.content import split, text_rows
    from indexer.write.embedding import LocalEmbedding
    from indexer.write.pipeline import load_for_index

    spec = resolve_model()
    name = embedders.document_backend_for(spec, "cpu")
    embedder = embedders.load_embedder(spec, name)
    documents = [stored(d) for d in load_for_index([ROOT / "data" / "sample"]).documents]
    chunker = ParagraphChunker(embedder)
    first = {"articles": 0, "chunks": 0, "sentences": 0}
    load_before = os.getloadavg()[0]
    split(documents[:3], chunker, first)  # the tokenizer warmed up
    began = time.perf_counter()
    for _ in range(args.rounds):
        rows, sentences, _ = split(documents, chunker, first)
    split_s = (time.perf_counter() - began) / args.rounds
    texts = text_rows(rows, sentences, set(rows.chunk_hashes) | {r[4] for r in rows.sentences})
    list(LocalEmbedding().embed(texts[:16], embedder, None))  # warmed up
    began = time.perf_counter()
    embedded = sum(len(keys) for keys, _ in LocalEmbedding().embed(texts, embedder, None))
    embed_s = time.perf_counter() - began
    load_after = os.getloadavg()[0]
    share = split_s / (split_s + embed_s)
    cores = os.cpu_count() or 1  # torch's threads for the embedding; splitting is one thread
    numbers = {"articles": len(documents), "passages": len(rows.chunks), "texts": embedded,
               "backend": name, "split_s": split_s, "embed_s": embed_s, "split_share": share,
               "embed_per_split": embed_s / split_s, "cores": cores, "rounds": args.rounds,
               "load_1m_before": load_before, "load_1m_after": load_after}
    table = results.table(
        f"{len(documents)} articles, {len(rows.chunks)} passages, {embedded} texts to embed, "
        f"{name}, {cores} cores",
        ["stage", "seconds", "share of the run"],
        [["split (mean of %d)" % args.rounds, f"{split_s:.3f}", f"{share:.4f}"],
         ["embed", f"{embed_s:.2f}", f"{1 - share:.4f}"]],
        f"Embedding on {cores} cores takes {embed_s / split_s:.0f}x splitting's time on one: one "
        f"driver core splits as fast as about {cores * embed_s / split_s:.0f} cores embed. Load "
        f"average (1 min) {load_before:.2f} before, {load_after:.2f} after.")
    results.publish(numbers, [table])


if __name__ == "__main__":
    main()
