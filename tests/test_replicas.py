"""N stateless `serve` replicas over one index folder: the headers that name the replica and the
index version, `serve --reuse-port`'s errors, searching a folder the process cannot write, and
two real replicas on one port, reading the folder through a read-only mount, answering alike
while a third process ingests into it, then both finding the new article without a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cli.server.app import create_app
from cli.server.replica import REPLICA_HEADER, VERSION_HEADER, replica_name
from cli.server.settings import ServerSettings
from indexer.errors import IndexFormatError
from indexer.index.directory import IndexDirectory
from search.searcher import Searcher
from tests.conftest import ROOT, SAMPLE_DIR, sample_questions, write
from tests.fakes import FakeEmbedder
from tests.milvus_server import free_ports
from tests.unwritable import read_only_view, unwritable

NEW_ID = "zz_mosselvloot"
NEW_ARTICLE = (" date 2024-03 De Zeeuwse mosselvloot bleef dinsdag in de haven van Yerseke liggen. "
               "De kwekers protesteren tegen de nieuwe regels voor het vissen op mosselzaad in de "
               "Oosterschelde, die volgens hen de helft van hun oogst kosten.\n\nDe minister "
               "zegt in gesprek te willen met de mosselkwekers over een overgangsregeling.\n")
NEW_QUESTION = "Waarom protesteren de mosselkwekers in Yerseke?"
STOP_GRACE_S = 20


# --- the headers, in-process ----------------------------------------------------------------

def test_every_response_names_its_replica_and_reads_name_their_version(fake_searcher, tmp_path):
    app = create_app(ServerSettings(index_dir=tmp_path / "idx"), searcher=fake_searcher)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        stats = client.get("/stats")
        missing = client.get("/documents/no-such-article")
        health = client.get("/health")
        foreign = client.get("/health", headers={"Host": "evil.example"})  # refused by TrustedHost
    assert stats.status_code == 200 and stats.headers[VERSION_HEADER] == fake_searcher.version
    assert stats.json()["version"] == fake_searcher.version
    assert missing.status_code == 404 and foreign.status_code == 421
    for response in (stats, missing, health, foreign):
        assert response.headers[REPLICA_HEADER] == f"{socket.gethostname()}:{os.getpid()}"
    assert VERSION_HEADER not in health.headers  # it reads no index version


def keyword_views() -> set[Path]:
    """The temporary folders tantivy_index opens a read-only keyword folder through."""
    return set(Path(tempfile.gettempdir()).glob("vraagbaak-keywords-*"))


def ranked(result) -> list[tuple[str, str]]:
    return [(hit.doc_id, hit.chunk_id) for hit in result.hits]


def test_a_replica_answers_from_a_folder_it_cannot_write(fake_searcher, tmp_path):
    """tantivy takes a lock file to open an index, also to search it: a keyword folder this
    process cannot write is opened through a temporary view of symlinks, so replicas can mount
    the shared volume read-only; the views go when the version is closed."""
    index = tmp_path / "idx"
    questions = ["wat zei Poetin over Navalny", "cyberveiligheid afspraken", "Biden"]
    writable = {q: ranked(fake_searcher.search(q, k=5)) for q in questions}
    before = keyword_views()
    with unwritable(index):
        searcher = Searcher(IndexDirectory(index), FakeEmbedder())
        try:
            opened = keyword_views() - before
            searched = {q: ranked(searcher.search(q, k=5)) for q in questions}
            app = create_app(ServerSettings(index_dir=index), searcher=searcher)
            with TestClient(app, base_url="http://127.0.0.1") as client:
                served = {q: client.get("/search", params={"q": q, "k": 5}) for q in questions}
        finally:
            searcher.close()
        assert keyword_views() == before  # also while the folder is still read-only
    assert searched == writable and all(writable.values())
    for question, response in served.items():
        assert response.status_code == 200, response.text
        assert [(r["doc_id"], r["chunk_id"]) for r in response.json()["results"]] == \
            writable[question]
    assert len(opened) == 2  # the passages' and the articles' keyword indexes


def test_no_temporary_folder_for_a_read_only_keyword_index_is_a_clear_error(fake_searcher,
                                                                            tmp_path,
                                                                            monkeypatch):
    index, cannot = tmp_path / "idx", tmp_path / "no-tmp"
    cannot.mkdir()
    with unwritable(index), unwritable(cannot):
        monkeypatch.setattr(tempfile, "tempdir", str(cannot))
        with pytest.raises(IndexFormatError) as raised:
            Searcher(IndexDirectory(index), FakeEmbedder())
    assert "no temporary folder could be made for tantivy's lock file" in str(raised.value)
    assert "set TMPDIR to a writable folder" in raised.value.hint


def test_reuse_port_on_a_port_held_without_it_is_a_clear_error(run, fake_index):
    with socket.socket() as holder:  # a plain listener: the kernel lets no one share its port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run("serve", "--index", fake_index, "--port", port, "--reuse-port")
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port} with --reuse-port" in result.output
    assert "choose another --port" in result.output and "Traceback" not in result.output


# --- real processes -----------------------------------------------------------------------

def vraagbaak(*args) -> list[str]:
    return [sys.executable, "-c", "from cli.main import main; main()", *map(str, args)]


def environment() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                         "TRANSFORMERS_OFFLINE": "1"}


def stop(process: subprocess.Popen) -> None:
    """By pid: SIGTERM (uvicorn's graceful stop), SIGKILL after a grace period."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_GRACE_S)


def ask(base: str, question: str) -> httpx.Response:
    """One question over a connection of its own, so the kernel picks a replica for each."""
    return httpx.get(f"{base}/search", params={"q": question, "k": 5},
                     headers={"Connection": "close"}, timeout=60)


def answer_of(response: httpx.Response) -> tuple[str, str, str]:
    assert response.status_code == 200, response.text
    return response.headers[REPLICA_HEADER], response.headers[VERSION_HEADER], response.text


def wait_for_replicas(base: str, replicas: list[subprocess.Popen], logs: list[Path]) -> None:
    """Until each replica has answered /health (connections reach only those listening)."""
    wanted = {p.pid for p in replicas}
    seen: set[int] = set()
    deadline = time.monotonic() + 180
    while seen != wanted:
        for process, log in zip(replicas, logs):
            assert process.poll() is None, f"a replica exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"replicas {wanted - seen} never answered"
        try:
            response = httpx.get(f"{base}/health", headers={"Connection": "close"}, timeout=5)
            seen.add(int(response.headers[REPLICA_HEADER].rpartition(":")[2]))
        except httpx.TransportError:
            time.sleep(0.2)


def store_options(store: str, request) -> list[str]:
    if store == "faiss":
        return []
    from typer.main import get_command

    from cli.main import build_app

    index = get_command(build_app()).commands["index"]
    if not any("--vectors" in p.opts for p in index.params):
        pytest.skip("`vraagbaak index --vectors URI` is not here yet (the Milvus vector store)")
    uri = request.getfixturevalue("milvus_server")
    return ["--vectors", "milvus://" + uri.removeprefix("http://")]


@pytest.mark.model
@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_two_replicas_on_one_port_answer_alike_and_follow_a_third_process(store, request,
                                                                          tmp_path):
    index = tmp_path / "index"
    built = subprocess.run(vraagbaak("index", SAMPLE_DIR, "--index", index,
                                     *store_options(store, request)),
                           env=environment(), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    first = IndexDirectory(index).current_version()
    questions = [q["text"] for q in sample_questions()][:4]
    port = free_ports(1)[0]
    base = f"http://127.0.0.1:{port}"
    logs = [tmp_path / f"replica-{n}.log" for n in (1, 2)]
    with ExitStack() as stack:
        # the replicas read the folder through a read-only mount, the writer writes it
        view = stack.enter_context(read_only_view(index, tmp_path / "replicas-view")) or index
        replicas = []
        for log in logs:
            out = stack.enter_context(log.open("wb"))
            replicas.append(subprocess.Popen(
                vraagbaak("serve", "--index", view, "--port", port, "--reuse-port"),
                env=environment(), stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path))
            stack.callback(stop, replicas[-1])
        wait_for_replicas(base, replicas, logs)
        names = {f"{socket.gethostname()}:{p.pid}" for p in replicas}

        # 1. the same questions, many times: both replicas answer, alike
        answers: dict[tuple[str, str], set[str]] = {}
        who: set[str] = set()
        for _ in range(6):
            for question in questions:
                replica, version, body = answer_of(ask(base, question))
                who.add(replica)
                answers.setdefault((question, version), set()).add(body)
        assert who == names, "the kernel gave every connection to one replica"
        assert {version for _, version in answers} == {first.name}
        assert all(len(bodies) == 1 for bodies in answers.values()), "replicas answered apart"

        # 2. a third process ingests a new article while the replicas answer
        articles = write(tmp_path / "new" / f"{NEW_ID}.txt", NEW_ARTICLE).parent
        ingest = subprocess.Popen(vraagbaak("index", articles, "--index", index),
                                  env=environment(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, cwd=tmp_path)
        stack.callback(stop, ingest)
        during = 0
        deadline = time.monotonic() + 600
        while ingest.poll() is None and time.monotonic() < deadline:
            replica, version, body = answer_of(ask(base, questions[during % len(questions)]))
            answers.setdefault((questions[during % len(questions)], version), set()).add(body)
            during += 1
        output = ingest.communicate(timeout=60)[0].decode()
        assert ingest.returncode == 0, output
        assert during > 0 and all(len(bodies) == 1 for bodies in answers.values())
        second = IndexDirectory(index).current_version()
        assert second.name != first.name

        # 3. afterwards both find the new article, from the new version, without a restart
        found: dict[str, list[str]] = {}
        deadline = time.monotonic() + 120
        while set(found) != names:
            assert time.monotonic() < deadline, f"not every replica found it: {found}"
            response = ask(base, NEW_QUESTION)
            replica, version, _ = answer_of(response)
            if version == second.name:
                found[replica] = [hit["doc_id"] for hit in response.json()["results"]]
        assert all(ids[0] == NEW_ID for ids in found.values()), found
    for process in replicas:
        assert process.returncode is not None  # stopped, by pid
