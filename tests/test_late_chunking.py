"""Late chunking (sentence vectors pooled from their passage's own pass), which the bench measures
against sentences embedded separately: the token masks, the pooling, and the real model."""

from __future__ import annotations


import numpy as np
import pytest

from indexer.embedders.late_chunking import pool, sentence_token_masks
from indexer.write.chunking import sentence_spans
from tests.conftest import SAMPLE_DIR

PROMPT = "passage: "


def test_tokens_belong_to_the_sentence_their_characters_are_in():
    text = "Een zin hier. Nog een zin."
    # (start, end) of each token in PROMPT + text; specials and padding are (0, 0)
    words = [(0, 7), (7, 8)] + [(len(PROMPT) + s, len(PROMPT) + e) for s, e in
                                ((0, 3), (4, 7), (8, 13), (14, 17), (18, 21), (22, 26))]
    offsets = np.array([(0, 0)] + words + [(0, 0), (0, 0)])
    masks = sentence_token_masks(offsets, [(0, 13), (14, 26)], len(PROMPT))
    assert masks.tolist() == [[False] * 3 + [True] * 3 + [False] * 5,
                              [False] * 6 + [True] * 3 + [False] * 2]


def test_leading_whitespace_the_model_never_saw_shifts_the_offsets():
    # The passage "  Ab cd." is read stripped: "Ab cd." at PROMPT's end.
    offsets = np.array([(0, 0), (len(PROMPT), len(PROMPT) + 2), (len(PROMPT) + 3, len(PROMPT) + 6)])
    masks = sentence_token_masks(offsets, [(2, 8)], len(PROMPT) - 2)
    assert masks.tolist() == [[False, True, True]]


def test_pooling_means_the_tokens_in_fp32_and_normalises():
    tokens = np.array([[1, 0], [0, 2], [0, 4], [9, 9]], dtype=np.float32)
    attention = np.array([1, 1, 1, 0])
    masks = np.array([[False, True, True, False], [False, False, False, False]])
    passage, sentences = pool(tokens, attention, masks)
    assert np.allclose(passage, np.array([1, 6]) / np.linalg.norm([1, 6]))
    assert np.allclose(sentences[0], [0, 1])
    # a sentence the model's length limit cut off gets the passage's vector, not zeros
    assert np.allclose(sentences[1], passage)
    assert passage.dtype == sentences.dtype == np.float32


@pytest.mark.model
def test_the_real_model_pools_passages_as_sentence_transformers_does(real_embedder):
    texts = [p.read_text().split("\n", 1)[1][:700] for p in sorted(SAMPLE_DIR.glob("*.txt"))[:3]]
    spans = [sentence_spans(t, 0, len(t)) for t in texts]
    passages, sentences = real_embedder.embed_passages(texts, spans)
    reference = real_embedder._model.encode_document([t.strip() for t in texts],
                                                     normalize_embeddings=True, convert_to_numpy=True)
    assert np.min(np.sum(passages * reference, axis=1)) > 0.99999
    for text, own, vectors, passage in zip(texts, spans, sentences, passages):
        assert vectors.shape == (len(own), 384)
        alone = real_embedder.embed_documents([text[s:e] for s, e in own])
        # in its passage's context: like the sentence read alone, and like its passage
        assert np.all(np.sum(vectors * alone, axis=1) > 0.75) and np.all(vectors @ passage > 0.75)
        assert not np.allclose(vectors, passage, atol=1e-3)
