"""The real texts and questions the parts measure on.

- the sample articles (data/sample) and their 30 questions (tests/data/sample_questions.jsonl,
  14 Dutch, 16 English, each with the passage that answers it), and 20 they do not answer;
- the FLORES dev set (701 Dutch passages of one sentence, 701 English questions) at
  ../shared/data/dev beside the repository, or where BENCH_DEV says: a part that needs it says
  so and skips that piece when it is absent;
- 48 generic news questions the sample and FLORES do not answer (bench/data/generic_questions.txt).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
QUESTIONS = ROOT / "tests" / "data" / "sample_questions.jsonl"
UNANSWERABLE = ROOT / "tests" / "data" / "unanswerable_questions.jsonl"
GENERIC = ROOT / "bench" / "data" / "generic_questions.txt"
EVAL_CORPUS = ROOT / "bench" / "data" / "eval" / "corpus.jsonl"  # the eval sets' corpus
DEV_ENV = "BENCH_DEV"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def sample_files() -> list[Path]:
    return sorted(SAMPLE.glob("*.txt"))


def sample_paragraphs() -> list[str]:
    """The sample articles' paragraphs (a file: title line, date line, then the body)."""
    return [p for f in sample_files() for p in f.read_text().split(maxsplit=2)[2].split("\n\n")]


def sample_questions() -> list[dict]:
    return read_jsonl(QUESTIONS)


def question_texts() -> list[str]:
    return [q["text"] for q in sample_questions()]


def unanswerable_texts() -> list[str]:
    return [q["text"] for q in read_jsonl(UNANSWERABLE)]


def generic_question_texts() -> list[str]:
    lines = GENERIC.read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def dev_dir() -> Path:
    return Path(os.environ.get(DEV_ENV) or ROOT.parent / "shared" / "data" / "dev")


def flores() -> tuple[list[dict], list[dict]] | None:
    """FLORES dev: passages {"id", "text"} and questions {"text", "relevant"}; None (and a
    message) when absent."""
    dev = dev_dir()
    if not (dev / "corpus.jsonl").is_file():
        print(f"the FLORES dev set is not at {dev} (set {DEV_ENV}): its measurements are skipped")
        return None
    return read_jsonl(dev / "corpus.jsonl"), read_jsonl(dev / "queries.jsonl")


def dutch_sentences() -> list[str]:
    """Real Dutch sentences of at least 4 words: the sample's and, when present, FLORES's."""
    paragraphs = sample_paragraphs()
    dev = flores()
    if dev:
        paragraphs += [p["text"] for p in dev[0]]
    return [s for p in paragraphs for s in SENTENCE_END.split(p.strip()) if len(s.split()) >= 4]


def model_tokens(embedder, texts: list[str]) -> int:
    """Tokens the model reads for ``texts``: theirs, plus [CLS], the "passage: " prompt, [SEP]."""
    return sum(embedder.count_tokens(texts)) + 4 * len(texts)


def sample_passages(embedder, max_tokens: int | None = None) -> list[str]:
    """The sample articles' passages as the chunker cuts them (its budget, or ``max_tokens``)."""
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import load_articles

    chunker = ParagraphChunker(embedder, max_tokens) if max_tokens else ParagraphChunker(embedder)
    return [c.text for d in load_articles([SAMPLE]).documents for c in chunker.split(d)]
