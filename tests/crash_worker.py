"""Runs the real `vraagbaak` CLI in its own process with the fast fake model, for the crash and
disk-full tests: `python -m tests.crash_worker [--fsize BYTES] ARGS...`; `merge [--slow-publish]
DIR` runs the background merger (indexer/write/background.py) instead.

The fake model sleeps a little per batch so that a kill at a random moment lands in every phase of
a run (loading, embedding, writing, publishing), not only in the writing.
"""

from __future__ import annotations

import resource
import signal
import sys
import time


def main(argv: list[str]) -> None:
    if argv[:1] == ["--fsize"]:
        # A size-limited file system where a tmpfs cannot be mounted: writes past the limit fail
        # with EFBIG, as they would with ENOSPC on a full disk.
        limit = int(argv[1])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        argv = argv[2:]
    if argv[:1] == ["merge"]:
        merge(argv[1:])
        return
    import indexer.embedders.base
    from tests.fakes import FakeEmbedder

    class SlowFakeEmbedder(FakeEmbedder):
        def embed_documents(self, texts):
            time.sleep(0.002)
            return super().embed_documents(texts)

    indexer.embedders.load_embedder = lambda spec, *_: SlowFakeEmbedder(spec=spec)
    from cli.main import build_app

    build_app()(args=argv, prog_name="vraagbaak")


def merge(argv: list[str]) -> None:
    """The background merger; ``--slow-publish``: each step of the publish (the fsyncs, the
    renames of PREVIOUS and CURRENT) takes a while, so that random kills land inside it."""
    from indexer.index import directory
    from indexer.write import background

    if "--slow-publish" in argv:
        argv = [a for a in argv if a != "--slow-publish"]
        for name in ("replace_synced", "fsync_path"):
            original = getattr(directory, name)

            def slowly(*args, _original=original, **kwargs):
                time.sleep(0.02)
                return _original(*args, **kwargs)

            setattr(directory, name, slowly)
    sys.exit(background.main(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
