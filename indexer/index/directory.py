"""The index directory: self-describing, and replaced atomically.

Layout::

    DIR/CURRENT                       name of the published version (replaced with os.replace)
    DIR/versions/<name>/manifest.json format version, model, dimension, chunker, counts
    DIR/versions/<name>/vectors.faiss    passage vectors, id = chunk id
    DIR/versions/<name>/sentences.faiss  sentence vectors, id = sentence id
    DIR/versions/<name>/chunks.sqlite    articles, passages, sentences (text and offsets)
    DIR/versions/<name>/keywords/        BM25 over the passages (bm25s), row = chunk id

A version is written completely, fsynced, and only then named in CURRENT. A run that is
interrupted leaves at most an unnamed folder under versions/, which the next writer removes,
so a directory never looks valid while it is not.
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import (
    IndexBusyError,
    IndexFormatError,
    IndexNotFoundError,
    IndexWriteError,
    VraagbaakError,
)
from indexer.index.durable import fsync_path, replace_synced, write_synced
from indexer.index.manifest import MANIFEST, VERSION_FILES, Manifest

CURRENT, PREVIOUS, VERSIONS, LOCK = "CURRENT", "PREVIOUS", "versions", ".write.lock"


class VersionWriter:
    def __init__(self, previous: Path | None, staging: Path) -> None:
        self.previous = previous  # the published version's folder, to build on
        self.staging = staging  # where the next version is written
        self.discarded = False

    def discard(self) -> None:
        """Publish nothing (nothing changed): CURRENT stays as it is."""
        self.discarded = True


class IndexDirectory:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def current_version(self) -> Path:
        """The published version's folder; raises if there is none or it is incomplete."""
        name = self._read_name(CURRENT)
        if name is None:
            raise IndexNotFoundError(
                f"there is no index at {self.root}",
                hint=f"build one first: vraagbaak index PATH... --index {self.root}")
        version = self.root / VERSIONS / name
        missing = [f for f in VERSION_FILES if not (version / f).exists()]
        if not name or "/" in name or missing:
            raise IndexFormatError(f"the index at {self.root} is damaged: version {name!r} lacks "
                                   f"{', '.join(missing) or 'a valid name'}",
                                   hint="re-run `vraagbaak index` to rebuild it")
        return version

    def current_name(self) -> str | None:
        return self._read_name(CURRENT) or None

    def _read_name(self, pointer: str) -> str | None:
        """What CURRENT or PREVIOUS names ("" if empty), or None when the file is not there."""
        try:
            return (self.root / pointer).read_text().strip()
        except FileNotFoundError:
            return None

    def manifest(self) -> Manifest:
        return Manifest.from_file(self.current_version() / MANIFEST)

    def manifest_if_any(self) -> Manifest | None:
        """For writers: the current manifest, or None when there is no index or it is damaged
        (a damaged index is what a rebuild is for, so it must not block one)."""
        try:
            return self.manifest()
        except (IndexNotFoundError, IndexFormatError):
            return None

    def exists(self) -> bool:
        return (self.root / CURRENT).is_file()

    @contextmanager
    def writer(self) -> Iterator[VersionWriter]:
        """Hold the write lock; yield the published version to build on (None when there is
        none, or it is damaged: a damaged index is what a rebuild is for) and an empty folder to
        write the next version into; publish it if the block succeeds.

        The previous version is read under the same lock the new one is published under, so two
        writers can never both build on one version and lose the other's change.
        """
        self._check_is_ours()
        try:
            (self.root / VERSIONS).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexWriteError(f"cannot create the index at {self.root} ({exc.strerror or exc})",
                                  hint="choose a writable --index") from exc
        with self._write_lock():
            self._remove_unpublished()
            previous = None
            try:
                previous = self.current_version()
                Manifest.from_file(previous / MANIFEST)
            except (IndexNotFoundError, IndexFormatError):
                previous = None
            staging = self.root / VERSIONS / f"v{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            try:
                staging.mkdir()
                writer = VersionWriter(previous, staging)
                yield writer
                if writer.discarded:
                    shutil.rmtree(staging)
                else:
                    self._publish(staging)
            except BaseException as exc:
                if self.current_name() != staging.name:  # once published, it is the index
                    shutil.rmtree(staging, ignore_errors=True)
                # Disk full, quota, file size limit, permissions: the old version stands.
                if isinstance(exc, (OSError, sqlite3.Error)):
                    reason = getattr(exc, "strerror", None) or exc
                    raise IndexWriteError(
                        f"writing a new version of the index at {self.root} failed ({reason}); "
                        "the previous version is unchanged",
                        hint="free some disk space (or fix the permissions) and run it again") from exc
                raise
            self._remove_unpublished()

    def backup(self, dest: Path, attempts: int = 3) -> Path:
        """Copy the published version into ``dest``, a new index directory; safe while a server
        reads and a writer writes, because published versions are never changed in place."""
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise VraagbaakError(f"{dest} already exists and is not an empty folder",
                                 hint="give a new folder for the backup")
        for attempt in range(attempts):
            version = self.current_version()
            target = dest / VERSIONS / version.name
            try:
                shutil.copytree(version, target)
                Manifest.from_file(target / MANIFEST)
            except (FileNotFoundError, IndexFormatError):
                # A writer removed the version while it was being copied: copy the newer one.
                shutil.rmtree(dest / VERSIONS, ignore_errors=True)
                continue
            except OSError as exc:
                shutil.rmtree(dest / VERSIONS, ignore_errors=True)
                raise IndexWriteError(f"cannot write the backup to {dest} ({exc.strerror or exc})",
                                      hint="free some disk space or choose another folder") from exc
            write_synced(dest / CURRENT, version.name + "\n")
            return target
        raise IndexBusyError(f"the index at {self.root} changed {attempts} times while it was "
                             "being copied", hint="try again when fewer updates are running")

    def _check_is_ours(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise VraagbaakError(f"{self.root} is a file, not an index directory",
                                 hint="choose another --index")
        if self.root.is_dir() and any(self.root.iterdir()) and not (
                (self.root / CURRENT).exists() or (self.root / VERSIONS).exists()):
            raise VraagbaakError(f"{self.root} is not empty and is not a vraagbaak index; "
                                 "refusing to write into it",
                                 hint="choose a new or empty folder with --index")

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with (self.root / LOCK).open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError(f"another vraagbaak run is writing the index at {self.root}",
                                     hint="wait for it to finish, then try again") from None
            yield

    def _publish(self, staging: Path) -> None:
        for item in staging.rglob("*"):
            fsync_path(item)
        fsync_path(staging)
        if self.exists():  # remember the outgoing version, which readers may still be opening
            replace_synced(self.root / PREVIOUS, (self.root / CURRENT).read_text())
        # The one step that makes the new version visible:
        replace_synced(self.root / CURRENT, staging.name + "\n")
        fsync_path(self.root)

    def _remove_unpublished(self) -> None:
        """Leftovers of interrupted runs, and versions older than the one before CURRENT; only
        the writer holding the lock calls it. The version before stays so that a reader that
        read CURRENT just before a publish can still open what it read."""
        keep = {self.current_name(), self._read_name(PREVIOUS) or None}
        for item in (self.root / VERSIONS).iterdir():
            if item.name not in keep:
                shutil.rmtree(item, ignore_errors=True)
