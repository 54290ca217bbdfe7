from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder

# The fixture `milvus_server`: a real Milvus standalone server (tests/milvus_server.py)
pytest_plugins = ["tests.milvus_server"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
QUESTIONS = ROOT / "tests" / "data" / "sample_questions.jsonl"


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch, tmp_path):
    # Nothing may reach the network, and no test may read the user's default index.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv("VRAAGBAAK_INDEX", raising=False)
    # Due merges run in the writing process after its publish (off the lock, as in the
    # background), so a test sees them done; tests of the background child ask for it.
    monkeypatch.setenv("VRAAGBAAK_MERGES", "inline")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_model(monkeypatch, tmp_path) -> Path:
    """A model folder that the CLI accepts with --model, served by FakeEmbedder."""
    folder = tmp_path / "fake-model"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([{"fake": True}]))
    monkeypatch.setattr("indexer.embedders.load_embedder", lambda spec, *_: FakeEmbedder(spec=spec))
    return folder


@pytest.fixture(scope="session")
def real_embedder():
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model

    return SentenceTransformerEmbedder(resolve_model())


@pytest.fixture(scope="session")
def real_index(real_embedder, tmp_path_factory) -> Path:
    """The sample articles indexed once with the real model, as `vraagbaak index` does."""
    from indexer.write.chunking import ParagraphChunker
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import update_index, load_for_index

    root = tmp_path_factory.mktemp("real") / "index"
    update_index(IndexDirectory(root), real_embedder, ParagraphChunker(real_embedder),
                 load_for_index([SAMPLE_DIR]))
    return root


@pytest.fixture
def use_real_embedder(monkeypatch, real_embedder):
    """Let the CLI reuse the session's loaded model instead of loading it per command."""
    monkeypatch.setattr("indexer.embedders.load_embedder", lambda spec, *_: real_embedder)


@pytest.fixture
def run():
    """The CLI in-process: run("search", "vraag", "--json") -> click Result."""
    from typer.testing import CliRunner

    from cli.main import build_app

    runner = CliRunner()
    app = build_app()

    def invoke(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


@pytest.fixture
def fake_index(run, fake_model, tmp_path):
    """The sample articles indexed with the fake model through the CLI."""
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 0, result.output
    return tmp_path / "idx"


@pytest.fixture
def fake_searcher(tmp_path):
    """The sample articles indexed with the fake model at tmp_path/"idx", opened for search."""
    from indexer.write.chunking import ParagraphChunker
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import update_index, load_for_index
    from search.searcher import Searcher

    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([SAMPLE_DIR]))
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    yield searcher
    searcher.close()  # its files, now: a test's leftovers must not count in the next one's


def sample_questions() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path



@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium (tests/browser.py), one per test module."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched
