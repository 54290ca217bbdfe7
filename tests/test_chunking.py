import re

import pytest

from indexer.write.chunking import ParagraphChunker, sentence_spans
from indexer.records import Document
from indexer.write.loading import load_articles
from tests.conftest import SAMPLE_DIR
from tests.fakes import FakeEmbedder


def chunker(max_tokens=40):
    return ParagraphChunker(FakeEmbedder(), max_tokens)


def sentence(i, words=8):
    return " ".join(f"woord{i}x{j}" for j in range(words - 1)).capitalize() + f" eind{i}."


def test_offsets_point_at_the_text_they_claim():
    doc = Document("d", "Kop\n\nEerste alinea hier. Nog een zin.\n\n  Tweede alinea,\nmet een regel.  \n\nSlot.")
    for c in chunker().split(doc):
        assert doc.text[c.start:c.end] == c.text
        assert c.text == c.text.strip() and c.text


def test_paragraphs_are_packed_up_to_the_budget_and_never_over_it():
    paragraphs = [" ".join(sentence(p * 10 + s) for s in range(2)) for p in range(6)]  # 18 tokens each
    doc = Document("d", "\n\n".join(paragraphs))
    chunks = chunker(40).split(doc)
    assert [c.text.count("\n\n") + 1 for c in chunks] == [2, 2, 2]
    assert all(c.n_tokens <= 40 for c in chunks)
    assert [c.ordinal for c in chunks] == [0, 1, 2]
    assert [c.chunk_id for c in chunks] == ["d#0", "d#1", "d#2"]


def test_a_long_paragraph_is_split_at_sentence_boundaries():
    long_paragraph = " ".join(sentence(i) for i in range(12))  # 9 tokens a sentence, 108 in all
    doc = Document("d", long_paragraph)
    chunks = chunker(40).split(doc)
    assert len(chunks) == 3
    for c in chunks:
        assert c.n_tokens <= 40
        assert re.search(r"eind\d+\.$", c.text), "every chunk ends at a sentence end"
    assert " ".join(c.text for c in chunks) == long_paragraph


def test_a_sentence_over_the_budget_is_split_at_words():
    words = " ".join(f"w{i}" for i in range(100))
    chunks = chunker(30).split(Document("d", words))
    assert all(c.n_tokens <= 30 for c in chunks)
    assert " ".join(c.text for c in chunks) == words


def test_a_heading_goes_with_the_paragraph_after_it():
    doc = Document("d", f"{sentence(1)}\n\nEerste ontmoeting\n\n{sentence(2)}")
    texts = [c.text for c in chunker(40).split(doc)]
    assert texts == [sentence(1), f"Eerste ontmoeting\n\n{sentence(2)}"]


def test_every_paragraph_is_covered():
    doc = load_articles([SAMPLE_DIR / "001_2bed4d3526be678e.txt"]).documents[0]
    chunks = ParagraphChunker(FakeEmbedder(), 60).split(doc)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:])), "in order, no overlap"


def test_exact_duplicate_paragraphs_are_indexed_once():
    a, b = sentence(1), sentence(2)
    doc = Document("d", f"{a}\n\n{b}\n\n{a}\n\n  {b}  ")
    chunks = chunker(16).split(doc)  # 9 tokens a paragraph: one paragraph per chunk
    assert [c.text for c in chunks] == [a, b]


def test_sample_002_repeats_itself_and_the_repeat_is_dropped():
    doc = load_articles([SAMPLE_DIR / "002_8bd9632aeaf2a08c.txt"]).documents[0]
    chunks = ParagraphChunker(FakeEmbedder(), 128).split(doc)
    repeated = "Oekraïne is een van die onderwerpen."
    assert doc.text.count(repeated) == 2
    assert sum(c.text.count(repeated) for c in chunks) == 1
    assert chunks[-1].end < doc.text.rindex(repeated), "the run-together repeat at the end is skipped"
    assert any("Afghanistan" in c.text for c in chunks), "the new paragraph before it is kept"


def test_settings_describe_the_chunker():
    assert chunker(40).settings() == {"name": "paragraph", "max_tokens": 40, "dedupe_paragraphs": True}
    with pytest.raises(ValueError):
        chunker(4)


@pytest.mark.model
def test_real_tokenizer_budget_holds_on_the_sample(real_embedder):
    docs = load_articles([SAMPLE_DIR]).documents
    c = ParagraphChunker(real_embedder, 128)
    chunks = [chunk for d in docs for chunk in c.split(d)]
    assert len(chunks) > 20
    # Packing adds unit counts; the joined text may differ by a token at each seam.
    assert all(chunk.n_tokens <= 128 + 3 for chunk in chunks)
    assert max(chunk.n_tokens for chunk in chunks) > 64, "chunks are packed, not one per sentence"


def test_closing_quotes_stay_with_their_sentence():
    text = ('Hij zei: "We gaan het merken." De VS beschuldigt Rusland. Poetin: ‘Absurd.’ '
            "(Zie ook: de top.) Einde van het verhaal hier.")
    spans = sentence_spans(text, 0, len(text), min_words=1)
    assert [text[s:e] for s, e in spans] == [
        'Hij zei: "We gaan het merken."', "De VS beschuldigt Rusland.", "Poetin: ‘Absurd.’",
        "(Zie ook: de top.)", "Einde van het verhaal hier."]


def test_no_character_falls_between_chunks_when_a_paragraph_is_split():
    paragraph = " ".join(f'Zin {i} zegt "iets belangrijks over nummer {i}."' for i in range(30))
    doc = Document("d", paragraph)
    chunks = chunker(40).split(doc)
    assert len(chunks) > 1
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())
