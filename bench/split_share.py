"""Splitting's share of an index run: `split()` (the tokenizer pass, sentence spans, text hashes, stable ids) and the quotes' attribution against embedding the same texts with the real model, one process, one after the other.

Why it is measured: whether the driver's per-article work must move onto Ray with the
embedding (decisions 0045, 0063). The texts are the sample's (data/sample) unless --corpus
names others; both stages on the same model, tokenizer and document backend as `vraagbaak
index` (--device auto); the driver's times are the mean of --rounds runs, embedding's one run
after a warm-up batch. The last rows time everything else the driver does in a write: reading
the files, planning the change, the segment's SQLite store, the keyword indexes, the FAISS
files and the publish, as a whole `update_index` into a fresh folder whose embedder hands back
the vectors already made (a dictionary lookup, no model work).

usage: python -m bench.split_share [--rounds 5] [--corpus FILE_OR_FOLDER]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.lib import results
from bench.lib.corpora import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "sample",
                        help="articles as `vraagbaak index` takes them")
    args = parser.parse_args()
    from indexer import embedders
    from indexer.embedders.base import resolve_model
    from indexer.write.changes import stored
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.content import split, text_rows
    from indexer.write.embedding import LocalEmbedding
    from indexer.write.pipeline import load_for_index
    from indexer.write.quotes import attribute
    from indexer.write.ray_splitting import Pieces

    spec = resolve_model()
    name = embedders.document_backend_for(spec, "auto")
    embedder = embedders.load_embedder(spec, name)
    documents = [stored(d) for d in load_for_index([args.corpus]).documents]
    chunker = ParagraphChunker(embedder)
    first = {"articles": 0, "chunks": 0, "sentences": 0}
    load_before = os.getloadavg()[0]
    split(documents[:3], chunker, first)  # the tokenizer warmed up
    began = time.perf_counter()
    for _ in range(args.rounds):
        rows, sentences, _ = split(documents, chunker, first)
    split_s = (time.perf_counter() - began) / args.rounds
    began = time.perf_counter()
    for _ in range(args.rounds):
        quotes = sum(len(attribute(d.document.doc_id, d.document.text)) for d in documents)
    quotes_s = (time.perf_counter() - began) / args.rounds
    # What stays on the driver where Ray's workers split (--ray): ids, sentence spans, hashes
    pieces = [Pieces(chunker.split(d.document), attribute(d.document.doc_id, d.document.text))
              for d in documents]
    began = time.perf_counter()
    for _ in range(args.rounds):
        split(documents, None, first, pieces)
    ids_s = (time.perf_counter() - began) / args.rounds
    texts = text_rows(rows, sentences, set(rows.chunk_hashes) | {r[4] for r in rows.sentences})
    list(LocalEmbedding().embed(texts[:16], embedder, None))  # warmed up
    made: dict = {}
    began = time.perf_counter()
    for keys, vectors in LocalEmbedding().embed(texts, embedder, None):
        made.update(zip(keys, vectors))
    embed_s = time.perf_counter() - began
    embedded = len(made)
    write_s = whole_write(args.corpus, Precomputed(embedder, {t.text: made[t.key] for t in texts}),
                          args.rounds)
    load_after = os.getloadavg()[0]
    driver_s = split_s + quotes_s
    share = driver_s / (driver_s + embed_s)
    cores = os.cpu_count() or 1  # torch's threads for the embedding; splitting is one thread
    numbers = {"articles": len(documents), "passages": len(rows.chunks), "texts": embedded,
               "backend": name, "split_s": split_s, "quotes_s": quotes_s, "quotes": quotes,
               "embed_s": embed_s, "driver_share": share, "embed_per_driver": embed_s / driver_s,
               "ids_with_ray_split_s": ids_s, "whole_write_s": write_s,
               "rest_with_ray_s": write_s - driver_s + ids_s, "corpus": str(args.corpus),
               "cores": cores, "rounds": args.rounds,
               "load_1m_before": load_before, "load_1m_after": load_after}
    table = results.table(
        f"{len(documents)} articles, {len(rows.chunks)} passages, {embedded} texts to embed, "
        f"{name}, {cores} cores",
        ["stage", "seconds", "share of the run"],
        [["split (mean of %d)" % args.rounds, f"{split_s:.3f}", f"{split_s / (driver_s + embed_s):.4f}"],
         [f"attribute {quotes} quotes (mean of {args.rounds})", f"{quotes_s:.3f}",
          f"{quotes_s / (driver_s + embed_s):.4f}"],
         ["embed", f"{embed_s:.2f}", f"{1 - share:.4f}"],
         [f"with --ray: the driver's part (ids, sentence spans, hashes; mean of {args.rounds})",
          f"{ids_s:.4f}", "-"],
         [f"the driver's whole write without the model (read, plan, split, attribute, store, "
          f"keywords, FAISS, publish; mean of {args.rounds})", f"{write_s:.3f}", "-"],
         ["with --ray: that, less what the actors split and attribute",
          f"{write_s - driver_s + ids_s:.3f}", "-"]],
        f"Embedding on {cores} cores takes {embed_s / driver_s:.0f}x the driver's splitting and "
        f"attribution on one: one driver core keeps about {cores * embed_s / driver_s:.0f} cores "
        f"embedding busy. With --ray the actors split and attribute, and the driver's part of it "
        f"keeps about {cores * embed_s / ids_s:.0f} busy; the driver's whole write with --ray "
        f"keeps about {cores * embed_s / (write_s - driver_s + ids_s):.0f} busy. Load average "
        f"(1 min) {load_before:.2f} before, {load_after:.2f} after.")
    results.publish(numbers, [table])


class Precomputed:
    """The embedder of a run whose vectors were made already: each text's vector by lookup."""

    def __init__(self, embedder, vectors: dict) -> None:
        self.spec, self.backend, self.dim = embedder.spec, embedder.backend, embedder.dim
        self._embedder, self._vectors = embedder, vectors

    def embed_documents(self, texts):
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)

    def count_tokens(self, texts):
        return self._embedder.count_tokens(texts)


def whole_write(corpus: Path, lookup: Precomputed, rounds: int) -> float:
    """Mean seconds of `update_index` (loading the files included) into a fresh folder, the
    model's work replaced by ``lookup``."""
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.pipeline import load_for_index, update_index

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            began = time.perf_counter()
            update_index(IndexDirectory(Path(tmp) / str(r)), lookup, ParagraphChunker(lookup),
                         load_for_index([corpus]), merges="off")
            times.append(time.perf_counter() - began)
    return sum(times) / len(times)


if __name__ == "__main__":
    main()
