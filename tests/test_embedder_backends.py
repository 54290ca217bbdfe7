"""The contract every registered embedder backend keeps, on the real bundled model: a backend
gets these tests by being registered in indexer.embedders.BACKENDS."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.embedders import BACKENDS, TORCH, TORCH_BF16, _cpu_has, backend, compatible

TEXTS = ["Poetin sprak in Genève met Biden over cyberaanvallen.",
         "What did Biden say about cyber?",
         "  Navalny  ",  # surrounding whitespace carries no meaning
         "é" * 3]


@pytest.mark.parametrize("entry", BACKENDS, ids=lambda e: e.name)
def test_every_backend_names_a_class_with_the_contract(entry):
    module, _, name = entry.target.partition(":")
    cls = getattr(__import__(module, fromlist=[name]), name)
    for method in ("embed_documents", "embed_queries", "count_tokens"):
        assert callable(getattr(cls, method))
    # A class that serves several entries is told its name by their options.
    assert dict(entry.options).get("backend", cls.backend) == entry.name and backend(entry.choice) == entry


def runs_here(entry) -> bool:
    if entry.device == "cuda":
        import torch

        return torch.cuda.is_available()
    return all(_cpu_has(flag) for flag in entry.cpu_flags)


@pytest.fixture(scope="module", params=BACKENDS, ids=lambda e: e.name)
def loaded(request, real_embedder):
    if not runs_here(request.param):
        pytest.skip(f"{request.param.name} needs {request.param.device} "
                    f"{' '.join(request.param.cpu_flags)} (not here)")
    return request.param, request.param.load(real_embedder.spec)


@pytest.mark.model
def test_it_embeds_unit_vectors_with_the_model_s_prompts(loaded, real_embedder):
    entry, embedder = loaded
    assert embedder.backend == entry.name and embedder.dim == real_embedder.dim == 384
    assert embedder.spec == real_embedder.spec
    documents, queries = embedder.embed_documents(TEXTS), embedder.embed_queries(TEXTS)
    for vectors in (documents, queries):
        assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # "query: " and "passage: " make different vectors of the same text
    assert float(np.min(np.sum(documents * queries, axis=1))) < 0.99
    alone = embedder.embed_documents(["Navalny"])
    if entry.exact or entry.queries:
        assert np.allclose(alone, documents[2], atol=1e-5)
    else:  # bf16 / fp16: a text alone and in a padded batch differ in the narrow type's rounding
        assert float(alone[0] @ documents[2]) > 0.999
    assert embedder.embed_documents([]).shape == (0, 384)


@pytest.mark.model
def test_it_counts_tokens_as_the_chunker_needs(loaded, real_embedder):
    _, embedder = loaded
    counts = embedder.count_tokens(TEXTS)
    assert counts == real_embedder.count_tokens(TEXTS) and all(c > 0 for c in counts)
    assert embedder.count_tokens([]) == []


@pytest.mark.model
def test_backends_said_to_agree_make_the_same_vectors(loaded, real_embedder):
    entry, embedder = loaded
    if not entry.agrees_on_bundled or entry.name == TORCH:
        pytest.skip("nothing to agree with")
    cosines = np.sum(embedder.embed_documents(TEXTS) * real_embedder.embed_documents(TEXTS), axis=1)
    # The rule for an arithmetic path (bench.indexing checks the answers on every eval set)
    assert float(cosines.min()) >= (0.999 if entry.exact or entry.queries else 0.99)
    assert compatible(real_embedder.spec, [TORCH, entry.name])


@pytest.mark.model
@pytest.mark.parametrize("name", [TORCH, TORCH_BF16])
def test_a_splitting_process_counts_tokens_with_the_tokenizer_alone_as_the_model_does(real_embedder, name):
    """A Ray actor that only splits loads no weights (ray_splitting.py), and its counts are
    the embedder's to the token, a long text and whitespace included."""
    from indexer.embedders import load_token_counter
    from indexer.embedders.sentence_transformers import TokenizerCounter
    from tests.test_model import varied_texts

    counter = load_token_counter(real_embedder.spec, name)
    assert isinstance(counter, TokenizerCounter)
    texts = varied_texts() + [" padded  ", "", "De minister zei dat het kabinet maatregelen neemt. " * 120]
    assert counter.count_tokens(texts) == real_embedder.count_tokens(texts)
