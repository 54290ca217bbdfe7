"""Broken index folders and paths: a message that names the file and says what to do, exit code
1, never a traceback (fake model, real FAISS, SQLite and bm25s files)."""

import json
import shutil

import pytest

from indexer.index.directory import IndexDirectory
from indexer.errors import VraagbaakError
from search.searcher import Searcher
from tests.index_state import segment_file
from tests.conftest import SAMPLE_DIR, write
from tests.unwritable import unwritable


def assert_clean(result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def version_of(idx):
    return IndexDirectory(idx).current_version()


def garbage(path):
    path.write_bytes(b"\x00\xffthis is no index file\x89" * 40)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _current_binary(idx):
    (idx / "CURRENT").write_bytes(b"\xff\xfe\x00\x01 not a name")


def _current_folder(idx):
    (idx / "CURRENT").unlink()
    (idx / "CURRENT").mkdir()


def _store_without_tables(idx):
    import sqlite3

    path = segment_file(version_of(idx), "chunks.sqlite")
    path.unlink()
    sqlite3.connect(path).close()


def _keyword_file(idx, suffix):
    return next(p for p in sorted((version_of(idx) / "keywords").iterdir()) if p.name.endswith(suffix))


def seg(idx, name):
    return segment_file(version_of(idx), name)


DAMAGES = {  # what is damaged -> (how, the file name the message must hold)
    "CURRENT binary": (_current_binary, "CURRENT"),
    "CURRENT a folder": (_current_folder, "CURRENT"),
    "manifest garbage": (lambda idx: garbage(version_of(idx) / "manifest.json"), "manifest.json"),
    "tombstones garbage": (lambda idx: garbage(version_of(idx) / "tombstones.json"), "tombstones.json"),
    "store garbage": (lambda idx: garbage(seg(idx, "chunks.sqlite")), "chunks.sqlite"),
    "store truncated": (lambda idx: truncate(seg(idx, "chunks.sqlite")), "chunks.sqlite"),
    "store without tables": (_store_without_tables, "chunks.sqlite"),
    "vectors garbage": (lambda idx: garbage(seg(idx, "vectors.faiss")), "vectors.faiss"),
    "vectors truncated": (lambda idx: truncate(seg(idx, "vectors.faiss")), "vectors.faiss"),
    "vectors swapped": (lambda idx: shutil.copy(seg(idx, "sentences.faiss"),
                                                seg(idx, "vectors.faiss")), "vectors.faiss"),
    "sentences garbage": (lambda idx: garbage(seg(idx, "sentences.faiss")), "sentences.faiss"),
    "analyzer garbage": (lambda idx: garbage(version_of(idx) / "keywords" / "analyzer.json"),
                         "analyzer.json"),
    "analyzer not an object": (lambda idx: write(version_of(idx) / "keywords" / "analyzer.json",
                                                 "[1, 2]"), "analyzer.json"),
    "keywords meta.json missing": (lambda idx: (version_of(idx) / "keywords" / "meta.json").unlink(),
                                   "keywords"),
    "keywords meta.json garbage": (lambda idx: garbage(version_of(idx) / "keywords" / "meta.json"),
                                   "keywords"),
    **{f"keywords {suffix} missing": ((lambda idx, suffix=suffix: _keyword_file(idx, suffix).unlink()),
                                      "keywords")
       for suffix in (".idx", ".term", ".fast", ".fieldnorm")},
    "article keywords meta.json garbage": (
        lambda idx: garbage(version_of(idx) / "keywords-articles" / "meta.json"), "keywords-articles"),
    "article keywords missing": (
        lambda idx: shutil.rmtree(version_of(idx) / "keywords-articles"), "keywords-articles"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("command", ["info", "search"])
def test_a_damaged_index_is_named_with_what_to_do(run, fake_index, command, damage):
    how, name = DAMAGES[damage]
    how(fake_index)
    args = ["search", "Poetin Navalny"] if command == "search" else ["info"]
    result = run(*args, "--index", fake_index)
    assert_clean(result, 1)
    assert "error: " in result.stderr and name in result.stderr, result.stderr
    assert "hint: " in result.stderr and "vraagbaak index" in result.stderr, result.stderr


COMMANDS = {
    "index": lambda idx, model: ["index", SAMPLE_DIR, "--index", idx, "--model", model],
    "remove": lambda idx, model: ["remove", "x", "--index", idx],
    "search": lambda idx, model: ["search", "Navalny", "--index", idx],
    "search --batch": lambda idx, model: ["search", "--batch", "-", "--index", idx],
    "info": lambda idx, model: ["info", "--index", idx],
    "backup": lambda idx, model: ["backup", "copy", "--index", idx],  # cwd: tmp_path
    "eval": lambda idx, model: ["eval", "q.jsonl", "--index", idx],
    "serve": lambda idx, model: ["serve", "--index", idx],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_index_option_pointing_at_a_file_in_every_command(run, fake_model, tmp_path, command, where):
    file = write(tmp_path / "not-an-index.txt", "hallo")
    idx = file if where == "a file" else file / "idx"
    write(tmp_path / "q.jsonl", json.dumps({"id": "q", "text": "Navalny", "relevant": ["x"]}) + "\n")
    result = run(*COMMANDS[command](idx, fake_model), input='{"text": "Navalny"}\n')
    assert_clean(result, 1)
    assert str(file) in result.stderr and "is a file" in result.stderr, result.stderr
    assert "hint: " in result.stderr


def test_searcher_open_on_a_file_raises_a_vraagbaak_error(tmp_path):
    file = write(tmp_path / "f", "x")
    with pytest.raises(VraagbaakError, match="is a file"):
        Searcher.open(file)


def test_a_binary_current_does_not_block_a_rebuild(run, fake_model, fake_index):
    _current_binary(fake_index)
    result = run("index", SAMPLE_DIR, "--index", fake_index, "--model", fake_model)
    assert_clean(result, 0)
    assert "5 added" in result.stdout
    assert_clean(run("search", "Navalny", "--index", fake_index), 0)


def test_a_current_folder_is_named_by_writers_too(run, fake_model, fake_index):
    _current_folder(fake_index)
    result = run("index", SAMPLE_DIR, "--index", fake_index, "--model", fake_model)
    assert_clean(result, 1)
    assert str(fake_index / "CURRENT") in result.stderr and "is a folder" in result.stderr


@pytest.mark.parametrize("damage", ["store garbage", "vectors garbage", "sentences garbage"])
def test_a_damaged_version_is_not_built_on(run, fake_model, fake_index, damage):
    """Incremental runs build on the published version: a damaged one is refused, by name."""
    how, name = DAMAGES[damage]
    how(fake_index)
    for args in (["index", SAMPLE_DIR, "--model", fake_model], ["remove", "x"]):
        result = run(*args, "--index", fake_index)
        assert_clean(result, 1)
        assert name in result.stderr and "cannot be built on" in result.stderr, result.stderr


# --- folders that cannot be written -----------------------------------------------------------

@pytest.mark.parametrize("command", ["index", "remove"])
def test_an_unwritable_index_folder_is_a_clear_error(run, fake_model, fake_index, command):
    current = (fake_index / "CURRENT").read_text()
    args = (["index", SAMPLE_DIR / "001_2bed4d3526be678e.txt", "--model", fake_model, "--prune"]
            if command == "index" else ["remove", "001_2bed4d3526be678e"])
    with unwritable(fake_index):
        result = run(*args, "--index", fake_index)
    assert_clean(result, 1)
    assert f"error: cannot write to the index folder {fake_index}" in result.stderr, result.stderr
    assert "hint: " in result.stderr and "writable" in result.stderr
    assert (fake_index / "CURRENT").read_text() == current


def test_a_lock_file_that_cannot_be_opened_is_a_clear_error(run, fake_index):
    """The same path as an unwritable folder, by a way that fails for root too everywhere."""
    (fake_index / ".write.lock").unlink(missing_ok=True)
    (fake_index / ".write.lock").mkdir()
    result = run("remove", "001_2bed4d3526be678e", "--index", fake_index)
    assert_clean(result, 1)
    assert f"cannot write to the index folder {fake_index}" in result.stderr, result.stderr
    assert ".write.lock" in result.stderr


def test_a_new_index_under_an_unwritable_folder(run, fake_model, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    with unwritable(parent):
        result = run("index", SAMPLE_DIR, "--index", parent / "idx", "--model", fake_model)
    assert_clean(result, 1)
    assert f"cannot create the index at {parent / 'idx'}" in result.stderr, result.stderr


def test_backup_to_an_unwritable_folder_says_so(run, fake_index, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    with unwritable(parent):
        result = run("backup", parent / "copy", "--index", fake_index)
        result_empty = run("backup", parent, "--index", fake_index)
    for r, dest in ((result, parent / "copy"), (result_empty, parent)):
        assert_clean(r, 1)
        assert f"cannot write the backup to {dest}" in r.stderr, r.stderr
        assert "changed" not in r.stderr
    assert not (parent / "copy").exists()


def test_backup_to_a_dangling_link_says_it_cannot_write_there(run, fake_index, tmp_path):
    """A link to an unmounted drive: the copy fails with 'no such file', which is the target's
    fault, not a writer's; it used to be retried and reported as 'the index changed 3 times'."""
    link = tmp_path / "usb"
    link.symlink_to(tmp_path / "unmounted" / "backups")
    result = run("backup", link, "--index", fake_index)
    assert_clean(result, 1)
    assert f"cannot write the backup to {link}" in result.stderr, result.stderr
    assert "changed" not in result.stderr
