"""Merges in the background: a child process at low priority, one thread, after a write.

A write that leaves merges due (segment_writer.merges_due) starts this module as its own
process (`python -m indexer.write.background DIR`) and returns; the child merges off the write
lock (indexer/write/merging.py). It is niced and limited to one thread for numpy, FAISS and
torch, so that searches on the same cores come first: a merge is never in a hurry. A child that
finds another merger at work exits (that one merges what is due, round after round).

``VRAAGBAAK_MERGES`` says where due merges run: ``background`` (the default), ``inline`` (in
the writing process, after its publish and off the lock: tests, benchmarks) or ``off``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

MODES = ("background", "inline", "off")
NICENESS = 10
# Thread pools of the libraries a merge touches, each held to one thread in the child.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")}
LOG = "merge.log"  # in the index folder: what a background merge that failed said


def mode(asked: str | None = None) -> str:
    chosen = asked or os.environ.get("VRAAGBAAK_MERGES") or "background"
    if chosen not in MODES:
        from indexer.errors import InputError

        raise InputError(f"unknown merge mode {chosen!r} (VRAAGBAAK_MERGES)",
                         hint=f"choose one of: {', '.join(MODES)}")
    return chosen


def after_write(index_dir, manifest, asked: str | None = None):
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
                                start_new_session=True, env=os.environ | ONE_THREAD)
    finally:
        log.close()


def low_priority() -> None:
    """This process yields the cores to searches: niced, FAISS on one thread."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    import faiss

    faiss.omp_set_num_threads(1)


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
