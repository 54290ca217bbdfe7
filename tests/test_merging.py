"""Merges off the write path and off the write lock (indexer/write/merging.py): writes during a
merge, the background child, one merger at a time. Fake model; real FAISS, SQLite, tantivy."""

from __future__ import annotations

import shutil

import pytest

from indexer.errors import IndexBusyError
from indexer.index.directory import IndexDirectory
from indexer.records import Document
from indexer.write import background, segment_writer
from indexer.write.merging import MERGING, merge, merge_lock
from indexer.write.pipeline import update_index
from search.searcher import Searcher
from tests.fakes import FakeEmbedder
from tests.index_state import snapshot
from tests.test_segments import add, articles, opened, passage_ids

LATE = Document("late-1", "Een late melding over de stikstofwet en de boeren in Gelderland.",
                date="2021-11-02")


def segments(root) -> list[str]:
    with opened(root, vectors=False, keywords=False) as version:
        return [s["name"] for s in version.manifest.segments]


def small_segments(root, n: int) -> None:
    for i in range(n):
        add(root, articles(2, start=2 * i), merges="off")


def late_write(root) -> None:
    """What a writer does while the merge runs: add an article, delete one the merge reads."""
    assert add(root, [LATE], merges="off").added == 1
    assert update_index(IndexDirectory(root), None, None, remove=["gen-1"], merges="off").removed == 1


@pytest.mark.parametrize("everything", [False, True])
def test_a_write_during_a_merge_does_not_wait_for_it_and_both_are_kept(tmp_path, monkeypatch,
                                                                       everything):
    monkeypatch.setattr(segment_writer, "MERGE_FACTOR", 4)
    root, reference = tmp_path / "idx", tmp_path / "ref"
    small_segments(root, 4)
    shutil.copytree(root, reference)
    late_write(reference)  # the same writes, no merge: what the index must hold afterwards
    ids = passage_ids(root)
    written = []

    def meanwhile():  # the merged segment is written, the write lock not yet asked for
        late_write(root)  # a write during the merge: it must neither wait nor be refused
        written.append(segments(root))

    report = merge(IndexDirectory(root), everything=everything, before_publish=meanwhile)
    assert report.published and (report.segments_before, report.segments_after) == (4, 2)
    assert len(written[0]) == 5  # the write published its own segment while the merge ran
    after = segments(root)
    assert after[-1] == written[0][-1] and after[0] not in written[0]
    assert snapshot(root) == snapshot(reference)  # the late article in, the deleted one out
    live = passage_ids(root)
    assert all(live[k] == i for k, i in ids.items() if k[0] != "gen-1")  # ids survive the merge
    with opened(root, vectors=False, keywords=False) as version:
        # the delete that came during the merge names a row of the merged segment
        assert version.tombstones.articles and version.manifest.segments[0].get("dead", 0) > 0
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    for mode in ("keyword", "hybrid", "dense"):
        hits = searcher.search("stikstofwet boeren Gelderland", mode=mode, k=50, group=False).hits
        assert all(h.doc_id != "gen-1" for h in hits)
        if mode == "keyword":
            assert hits[0].doc_id == "late-1"
    searcher.close()
    assert not any((root / MERGING).iterdir())  # the work folder is gone


def test_optimize_keeps_a_delete_of_the_merged_rows_out_of_the_keywords(tmp_path):
    root = tmp_path / "idx"
    small_segments(root, 3)
    merge(IndexDirectory(root), everything=True,
          before_publish=lambda: update_index(IndexDirectory(root), None, None, remove=["gen-0"],
                                              merges="off"))
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    found = {h.doc_id for q in ("kabinet Kamer minister", "Poetin Biden NAVO")
             for h in searcher.search(q, mode="keyword", k=50, group=False).hits}
    searcher.close()
    assert found and "gen-0" not in found
    assert len(segments(root)) == 1


def test_a_second_merger_skips_and_a_waiting_one_is_not_mixed_in(tmp_path, monkeypatch):
    monkeypatch.setattr(segment_writer, "MERGE_FACTOR", 3)
    root = tmp_path / "idx"
    small_segments(root, 3)
    with merge_lock(root, wait=False) as held:
        assert held
        assert merge(IndexDirectory(root)).skipped  # another merger is at work: skip
        assert len(segments(root)) == 3
    assert merge(IndexDirectory(root)).published and len(segments(root)) == 1


def test_a_writer_meeting_a_merge_publish_waits_and_one_meeting_a_writer_is_refused(tmp_path):
    root = tmp_path / "idx"
    small_segments(root, 1)
    directory = IndexDirectory(root)
    with directory.writer():
        with pytest.raises(IndexBusyError, match="another vraagbaak run is writing"):
            add(root, [LATE])
    with directory.publish_lock():  # what a merge holds while it publishes
        assert directory._merge_publishing()


def test_a_write_that_makes_merges_due_starts_the_niced_background_merger(tmp_path, monkeypatch):
    root = tmp_path / "idx"
    small_segments(root, segment_writer.MERGE_FACTOR - 1)
    started, start = [], background.start
    monkeypatch.setattr(background, "start", lambda r: started.append(start(r)) or started[-1])
    report = add(root, articles(1, start=100), merges="background")
    assert report.published and len(started) == 1
    assert started[0].wait(timeout=120) == 0, (root / background.LOG).read_text()
    assert len(segments(root)) == 1  # the child merged the ten small segments


def test_an_unknown_merge_mode_is_refused_before_anything_is_written(tmp_path, monkeypatch, run):
    from indexer.errors import InputError

    with pytest.raises(InputError, match="unknown merge mode 'sometimes'"):
        add(tmp_path / "idx", articles(1), merges="sometimes")
    assert not IndexDirectory(tmp_path / "idx").exists()
    add(tmp_path / "idx", articles(2))
    monkeypatch.setenv("VRAAGBAAK_MERGES", "sometimes")
    done = run("remove", "gen-1", "--index", tmp_path / "idx")
    assert done.exit_code == 1 and "VRAAGBAAK_MERGES must be background, inline or off" in done.output
    assert "Traceback" not in done.output
    assert len(IndexDirectory(tmp_path / "idx").manifest().segments) == 1  # nothing written


def test_a_merge_with_nothing_to_do_removes_what_a_killed_one_left(tmp_path):
    """A merge killed between its publish and its clean-up leaves the version before PREVIOUS;
    the next merge, with nothing due, removes it (a write would too) and keeps the two in use."""
    root = tmp_path / "idx"
    small_segments(root, 2)
    versions = root / "versions"
    in_use = sorted(p.name for p in versions.iterdir())
    leftover = versions / "v20000101T000000-deadbeef"
    shutil.copytree(versions / in_use[-1], leftover)
    report = merge(IndexDirectory(root), wait=True)
    assert not report.published and not report.skipped
    assert not leftover.exists() and sorted(p.name for p in versions.iterdir()) == in_use


# --- merged segments are capped where their vectors are files (decision 0062) ----------------

def _entries(*sizes: int) -> list[dict]:
    return [{"name": f"s{i}", "chunks": n} for i, n in enumerate(sizes)]


def test_a_tier_is_merged_in_packs_below_the_cap_and_a_pack_of_one_is_no_merge():
    tier = _entries(*[3_000] * 10)  # ten segments of one tier: due
    assert segment_writer.merges_due(tier, {}) == [[e["name"] for e in tier]]
    assert segment_writer.merges_due(tier, {}, cap=12_000) == [
        ["s0", "s1", "s2", "s3"], ["s4", "s5", "s6", "s7"], ["s8", "s9"]]
    assert segment_writer.merges_due(tier, {}, cap=5_000) == []  # one each: nothing merges
    big = _entries(*[30_000] * 10)
    assert segment_writer.merges_due(big, {"s3": 20_000}, cap=20_000) == [["s3"]]  # dead: alone


def test_optimize_under_a_cap_leaves_packs_below_it_with_every_id_and_the_same_answers(
        tmp_path, monkeypatch):
    from indexer.write import merging
    from tests.test_segments import answers

    root = tmp_path / "idx"
    small_segments(root, 6)
    update_index(IndexDirectory(root), None, None, remove=["gen-1"], merges="off")
    with opened(root, vectors=False, keywords=False) as version:
        sizes = [s["chunks"] for s in version.manifest.segments]
    reference = tmp_path / "ref"
    shutil.copytree(root, reference)
    assert merge(IndexDirectory(reference), everything=True).segments_after == 1  # no cap: one
    cap = sum(sizes[:2])  # two of the first segments fit in a pack
    monkeypatch.setattr(merging, "MAX_MERGED_CHUNKS", cap)
    report = merge(IndexDirectory(root), everything=True)
    assert report.published and 1 < report.segments_after < 6
    with opened(root) as version:
        assert all(s["chunks"] <= cap for s in version.manifest.segments
                   if len(version.manifest.segments) > 1)
        assert not version.tombstones.articles  # optimize still drops every deleted row
    assert passage_ids(root) == passage_ids(reference)
    for mode in ("dense", "keyword", "hybrid"):  # keywords indexed anew from every pack
        assert answers(root, mode) == answers(reference, mode)
    from indexer.write.maintenance import optimize_index

    assert not optimize_index(IndexDirectory(root)).published  # packs at the cap: nothing to do


def test_a_store_outside_the_folder_has_no_cap():
    from indexer.index.manifest import Manifest
    from indexer.write.merging import cap_for

    faiss = Manifest.__new__(Manifest)
    object.__setattr__(faiss, "vector_store", {"kind": "faiss"})
    milvus = Manifest.__new__(Manifest)
    object.__setattr__(milvus, "vector_store", {"kind": "milvus", "uri": "milvus://h:1"})
    assert cap_for(faiss) == segment_writer.MAX_MERGED_CHUNKS and cap_for(milvus) is None
