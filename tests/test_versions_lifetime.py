"""Index versions the server has switched away from are closed when their last request ends, not
when a garbage collection happens to run; and never under a request still using them.

The collector is off in these tests: CPython's sqlite3 connections sit in reference cycles, and
a collection would hide every version left open."""

import gc
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.errors import IndexFormatError
from indexer.write.chunking import ParagraphChunker
from indexer.records import Document
from indexer.write.loading import LoadResult
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import update_index
from cli.server.app import create_app
from cli.server.live import LiveSearcher
from cli.server.settings import ServerSettings

FDS = Path("/proc/self/fd")
pytestmark = pytest.mark.skipif(not FDS.is_dir(), reason="counts open files through /proc")


def open_stores(under: Path) -> list[str]:
    """The versions whose chunks.sqlite files (one per segment) under ``under`` (this test's
    folder: other tests' leftovers do not count) this process holds open, deleted ones too."""
    paths = []
    for fd in os.listdir(FDS):
        try:
            paths.append(os.readlink(FDS / fd))
        except OSError:  # closed since listed (the listing's own descriptor, among others)
            pass
    stores = [p for p in paths if "chunks.sqlite" in p and p.startswith(str(under))]
    return sorted({p.split("/segments/")[0] for p in stores})


@pytest.fixture
def no_gc():
    gc.collect()  # nothing left over from earlier tests
    gc.disable()
    yield
    gc.enable()


@pytest.fixture
def publish(fake_searcher, fake_embedder):
    """publish(n): another writer adds article w/n, publishing a new version."""
    index_dir = fake_searcher.index_dir

    def write(n: int) -> None:
        doc = Document(f"w/{n}", f"Artikel {n} over de klimaatwet van Jetten.", date="2021-07-01")
        update_index(index_dir, fake_embedder, ParagraphChunker(fake_embedder),
                     LoadResult(documents=[doc]))
    return write


def test_the_server_keeps_at_most_two_versions_open_over_30_versions(fake_searcher, publish, no_gc,
                                                                    tmp_path):
    requests = [("/search", {"q": "klimaatwet", "k": 3}), ("/documents/w/0", {}), ("/stats", {}),
                ("/search", {"q": "klimaatwet", "since": "2021-13"})]  # a 400, raised mid-search
    with TestClient(create_app(ServerSettings(index_dir=tmp_path / "idx"), fake_searcher)) as client:
        for n in range(30):
            publish(n)
            path, params = requests[n % len(requests)]
            assert client.get(path, params=params).status_code == (400 if "since" in params else 200)
            assert len(open_stores(tmp_path)) <= 2, f"after {n + 1} versions: {open_stores(tmp_path)}"


def test_a_lease_keeps_its_version_open_until_it_ends_then_closes_it(fake_searcher, publish, no_gc,
                                                                   tmp_path):
    live = LiveSearcher(fake_searcher)
    with live.lease() as first:
        publish(1)
        with live.lease() as second:  # switches to the new version
            publish(2)
            with live.lease() as third:
                assert len({first.version, second.version, third.version}) == 3
            # the first version answers although two newer ones were published under it
            assert first.search("Poetin Navalny", k=1).hits
            assert first.store.get_document("w/1") is None
        assert not [p for p in open_stores(tmp_path) if second.version in p]
        cycle = [first]
        cycle.append(cycle)  # what a traceback can do: only a collection would free `first`
    assert not [p for p in open_stores(tmp_path) if first.version in p]
    assert [p for p in open_stores(tmp_path) if third.version in p]  # the current one stays open
    live.close()
    assert open_stores(tmp_path) == []


def test_a_version_given_out_without_a_lease_stays_open_while_it_is_held(fake_searcher, publish,
                                                                        no_gc, tmp_path):
    live = LiveSearcher(fake_searcher)  # which the fixture holds: borrow a version it does not
    publish(1)
    borrowed = live.current()
    publish(2)
    with live.lease() as newer:
        assert newer.version != borrowed.version
    assert borrowed.search("Poetin Navalny", k=1).hits  # not closed under its user
    version = borrowed.version
    del borrowed
    assert not [p for p in open_stores(tmp_path) if version in p]


def test_a_version_that_fails_to_open_leaves_no_file_open(fake_searcher, no_gc, tmp_path):
    from indexer.index.manifest import VECTORS
    from search.searcher import Searcher
    from tests.index_state import segment_file

    version = fake_searcher.index_dir.current_version()
    fake_searcher.close()
    segment_file(version, VECTORS).write_bytes(b"not a FAISS index")
    with pytest.raises(IndexFormatError, match="vectors.faiss"):  # named, not a FAISS traceback
        Searcher(IndexDirectory(version.parent.parent), fake_searcher.embedder)
    assert open_stores(tmp_path) == []
