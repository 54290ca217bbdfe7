"""Late chunking: a passage's sentence vectors pooled from the passage's own forward pass.

The model reads each passage once; the passage vector is the mean of all its token outputs (the
model's own mean pooling: [CLS], the document prompt, the text, [SEP]), and each sentence's vector
is the mean of the outputs of the tokens inside that sentence. The sentence is read in its
passage's context, and costs no forward pass of its own. Measured against sentences read on their
own, it loses answers (most on short English questions over Dutch text), so it is not the default
(the write path embeds every sentence on its own). Why: docs/decisions/0030-sentences-embedded-separately.md
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[int, int]  # character offsets into the passage's text


def sentence_token_masks(offsets: np.ndarray, spans: Sequence[Span], shift: int) -> np.ndarray:
    """(len(spans), tokens) booleans: which tokens belong to which sentence.

    ``offsets`` are the fast tokenizer's (start, end) character offsets of each token in the
    text the model read (the prompt, then the passage), (0, 0) for special and padding tokens;
    ``shift`` is where the passage starts in that text (the prompt's length). A token belongs to
    a sentence when their characters overlap; sentences are separated by whitespace, so no token
    overlaps two."""
    starts, ends = offsets[:, 0] - shift, offsets[:, 1] - shift
    real = offsets[:, 1] > offsets[:, 0]
    masks = np.zeros((len(spans), len(offsets)), dtype=bool)
    for row, (s, e) in enumerate(spans):
        masks[row] = real & (starts < e) & (ends > s)
    return masks


def pool(tokens: np.ndarray, attention: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The passage's vector (mean over ``attention``) and one per row of ``masks``, L2-normalised,
    float32. A sentence with no tokens (cut off by the model's length limit) gets the passage's."""
    tokens = tokens.astype(np.float32, copy=False)
    passage = _normalise(attention.astype(np.float32) @ tokens / max(attention.sum(), 1))
    counts = masks.sum(axis=1, keepdims=True)
    sentences = masks.astype(np.float32) @ tokens / np.maximum(counts, 1)
    sentences = np.where(counts > 0, sentences, passage)
    return passage, _normalise(sentences)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
