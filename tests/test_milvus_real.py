"""The real model, in real processes: the sample articles indexed with --vectors PATH.db
(milvus-lite) answer as the same articles indexed with FAISS files, before and after an update
and a removal, date filters included; no library noise reaches the user."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import SAMPLE_DIR, sample_questions, write
from tests.test_end_to_end import vraagbaak

pytestmark = [pytest.mark.model, pytest.mark.slow]  # make test-slow
pytest.importorskip("pymilvus")


def top(index, question, *extra):
    found = vraagbaak("search", question, "--index", index, "-k", "3", "--json", *extra)
    assert found.stderr == ""  # neither pymilvus's nor milvus-lite's logs
    return [(r["doc_id"], r["chunk_id"]) for r in json.loads(found.stdout)["results"]]


def tops(index, questions, tmp_path):
    """Each question's top 3, one process for all (--batch)."""
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps({"id": str(n), "text": q}) + "\n"
                             for n, q in enumerate(questions)))
    found = vraagbaak("search", "--batch", batch, "--index", index, "-k", "3")
    assert found.stderr == ""
    return [[(r["doc_id"], r["chunk_id"]) for r in json.loads(line)["results"]]
            for line in found.stdout.splitlines()]


def test_milvus_lite_answers_as_faiss_with_the_real_model(tmp_path):
    faiss, milvus, db = tmp_path / "faiss", tmp_path / "milvus", tmp_path / "vectors.db"
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLE_DIR, articles)
    vraagbaak("index", articles, "--index", faiss)
    # The FAISS run's vector cache seeds the Milvus one: the same vectors, embedded once.
    (milvus / "versions").mkdir(parents=True)
    shutil.copy(faiss / "vector-cache.sqlite", milvus / "vector-cache.sqlite")
    made = vraagbaak("index", articles, "--index", milvus, "--vectors", db, "--json")
    assert json.loads(made.stdout)["embedded"] == 0
    info = vraagbaak("info", "--index", milvus)
    assert f"store: Milvus at {db}" in info.stdout
    questions = [q["text"] for q in sample_questions()][:8]
    assert tops(milvus, questions, tmp_path) == tops(faiss, questions, tmp_path)
    for extra in (("--since", "2021-07-01"), ("--until", "2021-06-30"), ("--mode", "dense")):
        assert top(milvus, "Biden Poetin", *extra) == top(faiss, "Biden Poetin", *extra)
    dated = top(milvus, "Biden Poetin", "--since", "2021-07-01")
    assert dated and "001_2bed4d3526be678e" not in {d for d, _ in dated}  # from June

    first = sorted(articles.iterdir())[0]
    write(first, first.read_text(encoding="utf-8") +
          "\n\nDe Tweede Kamer stemde over de klimaatwet van minister Jetten.")
    for index in (faiss, milvus):
        vraagbaak("index", articles, "--index", index)
        vraagbaak("remove", "004_2279d42696e0605c", "--index", index)
    after = tops(milvus, [*questions, "klimaatwet Jetten"], tmp_path)
    assert after == tops(faiss, [*questions, "klimaatwet Jetten"], tmp_path)
    assert after[-1][0][0] == first.stem
    assert "004_2279d42696e0605c" not in {d for d, _ in top(milvus, "ransomware Iran")}
