"""Merges in the background: a child process at low priority, one thread, after a write.

A write that leaves merges due (segment_writer.merges_due) starts this module as its own
process (`python -m indexer.write.background DIR`) and returns; the child merges off the write
lock (indexer/write/merging.py). It is niced and limited to one thread for numpy, FAISS and
torch, so that searches on the same cores come first: a merge is never in a hurry. A child that
finds another merger at work exits (that one merges what is due, round after round).

Where due merges run (``update_index(merges=...)``; the CLI and the server take it from
``VRAAGBAAK_MERGES``, indexer/settings.py): ``background`` (the edges' default), ``inline`` (in
the writing process, after its publish and off the lock: a library call's default, tests,
benchmarks) or ``off``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from indexer.settings import MERGE_MODES

NICENESS = 10
LOG = "merge.log"  # in the index folder: what a background merge that failed said


def mode(asked: str) -> str:
    if asked not in MERGE_MODES:
        from indexer.errors import InputError

        raise InputError(f"unknown merge mode {asked!r}",
                         hint=f"choose one of: {', '.join(MERGE_MODES)}")
    return asked


def after_write(index_dir, manifest, asked: str):
    """Run or start the merges ``manifest`` (just published) makes due; the child process when
    one was started (its caller need not wait for it)."""
    from indexer.write.merging import due, merge

    chosen = mode(asked)
    if chosen == "off" or not due(manifest):
        return None
    if chosen == "inline":
        merge(index_dir)
        return None
    return start(Path(index_dir.root))


def start(root: Path) -> subprocess.Popen:
    """The background merger for the index at ``root``, detached from this process's session
    (a CLI run that exits, or a Ctrl-C, does not stop it)."""
    log = (root / LOG).open("a")
    try:
        return subprocess.Popen([sys.executable, "-m", "indexer.write.background", str(root)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)
    finally:
        log.close()


def low_priority() -> None:
    """This process yields the cores to searches: niced, one thread for FAISS's OpenMP and
    numpy's BLAS (tantivy's writer is asked for one thread already)."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(1)
    threadpool_limits(1)


def main(argv: list[str]) -> int:
    from indexer.errors import VraagbaakError
    from indexer.index.directory import IndexDirectory
    from indexer.write.merging import merge

    low_priority()
    everything = "--all" in argv
    roots = [a for a in argv if not a.startswith("--")]
    try:
        merge(IndexDirectory(Path(roots[0])), everything=everything, wait=everything)
    except VraagbaakError as exc:  # the index went away, or is damaged: the next write says so
        print(f"vraagbaak: background merge: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
