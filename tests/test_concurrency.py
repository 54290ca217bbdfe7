"""Requests share one searcher across threads: the parts that cannot be shared guard themselves
(the embedder embeds one call at a time, the chunk store reads one query at a time), so
concurrent searches give exactly what the same searches give one after another."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.conftest import QUESTIONS
from tests.server import running

QUESTIONS_TEXT = [json.loads(line)["text"] for line in QUESTIONS.open()]


def answers(data: dict) -> list:
    return [(r["chunk_id"], r["score"], r["snippet"], r["highlights"]) for r in data["results"]]


def test_concurrent_searches_answer_as_serial_ones(fake_searcher, tmp_path):
    app = create_app(ServerSettings(index_dir=tmp_path / "idx"), fake_searcher)
    params = [{"q": q, "k": 3, "mode": mode} for q in QUESTIONS_TEXT
              for mode in ("hybrid", "dense", "keyword")]
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        serial = [answers(http.get("/search", params=p).json()) for p in params]

        def ask(p):
            with httpx.Client(base_url=url, timeout=60) as client:
                return answers(client.get("/search", params=p).json())

        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(ask, params * 2))
    assert concurrent == serial * 2


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx", "engine", "torch"])
def test_a_real_embedder_shared_by_threads_embeds_as_alone(real_embedder, backend):
    from indexer.embedders import load_query_embedder

    embedder = load_query_embedder(real_embedder.spec, backend)
    alone = embedder.embed_queries(QUESTIONS_TEXT)
    with ThreadPoolExecutor(4) as pool:
        shared = list(pool.map(lambda q: embedder.embed_queries([q])[0], QUESTIONS_TEXT * 2))
    np.testing.assert_allclose(np.stack(shared), np.vstack([alone, alone]), atol=1e-5)
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda q: embedder.count_tokens([q])[0], QUESTIONS_TEXT))
    assert counts == embedder.count_tokens(QUESTIONS_TEXT)
