"""Splitting on Ray (`vraagbaak index --ray`): a change's articles go to a pool of actors that
split them into passages (the driver's ParagraphChunker, with its settings, counting tokens with
the model's own tokenizer) and attribute their quotes; only offsets, token counts and quotes come
back. The driver then gives the stable ids (content.split) and sends the texts to be embedded
(ray_embedding.py), in the same Ray session.

Each actor counts tokens as the embedding actor's embedder would (its class's ``token_counter``,
from the same options: the model's tokenizer alone where that counts alike, no weights), so the
chunks are the driver's to the offset. A task that Ray retries returns the same pieces for the
same positions; the driver keeps one per position and refuses to go on when one is missing.
Why: docs/decisions/0063-splitting-on-ray.md; the tokenizer alone:
docs/decisions/0065-split-actors-tokenizer-and-the-driver-s-write.md
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.errors import IndexWriteError, ModelError
from indexer.index.store import StoredDocument
from indexer.records import Chunk, Document, Quote
from indexer.write.chunking import ParagraphChunker
from indexer.write.quotes import attribute
from indexer.write.ray_session import keeps_hint

ARTICLES_PER_TASK = 64  # at most; fewer where that leaves an actor without work


@dataclass(frozen=True)
class Pieces:
    """One article's passages and quotes, as the driver's chunker and attributor make them."""

    chunks: list[Chunk]
    quotes: list[Quote]


class SplitActor:
    """The chunker and the attributor in an actor. ``actor``/``options``: the embedding actor's
    class and constructor options, whose token counter the chunker counts with."""

    @keeps_hint
    def __init__(self, actor: type, options: dict, chunker: dict) -> None:
        self.chunker = ParagraphChunker(actor.token_counter(**options), chunker["max_tokens"])
        if self.chunker.settings() != chunker:
            raise ModelError(f"a Ray worker's chunker is {self.chunker.settings()}, the "
                             f"driver's {chunker}", hint="give every node the same vraagbaak")

    @keeps_hint
    def __call__(self, table):
        import pyarrow as pa

        pieces = [self._pieces(doc_id, text) for doc_id, text in
                  zip(table.column("doc_id").to_pylist(), table.column("text").to_pylist())]
        return pa.table({"position": table.column("position"), "pieces": pieces})

    def _pieces(self, doc_id: str, text: str) -> str:
        chunks = self.chunker.split(Document(doc_id, text))
        quotes = attribute(doc_id, text)
        return json.dumps({
            "chunks": [[c.ordinal, c.start, c.end, c.n_tokens] for c in chunks],
            "quotes": [[q.start, q.end, q.speaker, q.speaker_key, q.speaker_start, q.speaker_end,
                        q.kind] for q in quotes]})


def split_on_ray(ray, pool, documents: Sequence[StoredDocument], actor: type, options: dict,
                 chunker: dict, resources: dict, splitter: type | None = None) -> list[Pieces]:
    """Every document's Pieces, in order, split by a pool of ``splitter`` actors (SplitActor
    unless given). ``resources``: map_batches' num_cpus and memory per actor."""
    import pyarrow as pa

    if not documents:
        return []
    per_task = max(1, min(ARTICLES_PER_TASK, -(-len(documents) // (4 * pool.max_size))))
    table = pa.table({"position": pa.array(range(len(documents)), pa.int64()),
                      "doc_id": [d.document.doc_id for d in documents],
                      "text": [d.document.text for d in documents]})
    data = ray.data.from_arrow([table.slice(b, per_task) for b in range(0, len(documents), per_task)])
    data = data.map_batches(splitter or SplitActor, fn_constructor_kwargs={
        "actor": actor, "options": options, "chunker": chunker}, batch_size=None, compute=pool,
        batch_format="pyarrow", **resources)
    found: dict[int, str] = {}
    for batch in data.iter_batches(batch_size=None, batch_format="pyarrow"):
        found.update(zip(batch.column("position").to_pylist(), batch.column("pieces").to_pylist()))
    missing = len(documents) - len(found)
    if missing:
        raise IndexWriteError(f"{missing} of {len(documents)} articles did not come back from "
                              "Ray's workers split; nothing was published",
                              hint="run the same command again")
    return [_decoded(d.document, found[i]) for i, d in enumerate(documents)]


def _decoded(doc: Document, encoded: str) -> Pieces:
    parts = json.loads(encoded)
    chunks = [Chunk(doc.doc_id, o, s, e, doc.text[s:e], n) for o, s, e, n in parts["chunks"]]
    quotes = [Quote(doc.doc_id, s, e, speaker, key, ss, se, kind)
              for s, e, speaker, key, ss, se, kind in parts["quotes"]]
    return Pieces(chunks, quotes)
