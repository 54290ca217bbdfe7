"""The index directory: self-describing, and replaced atomically.

Layout (format 4)::

    DIR/CURRENT                       name of the published version (replaced with os.replace)
    DIR/versions/<name>/manifest.json format version, model, chunker, counts, the segments
    DIR/versions/<name>/segments/<segment>/chunks.sqlite    its articles, passages, sentences
    DIR/versions/<name>/segments/<segment>/vectors.faiss    its passage vectors
    DIR/versions/<name>/segments/<segment>/sentences.faiss  its sentence vectors
    DIR/versions/<name>/tombstones.json  the stable ids of deleted articles, passages, sentences
    DIR/versions/<name>/keywords/        BM25 over all live passages (tantivy), by stable id

Segments are immutable: a version shares its predecessor's segments and keyword files as hard
links (indexer/index/segments.py), so a change writes only the change.

A version is written completely, fsynced, and only then named in CURRENT. A run that is
interrupted leaves at most an unnamed folder under versions/, which the next writer removes,
so a directory never looks valid while it is not.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from indexer.index.durable import fsync_path, replace_synced, write_synced
from indexer.index.manifest import FORMAT_VERSION, MANIFEST, MIGRATES_FROM, REBUILD_HINT, Manifest
from indexer.errors import (IndexBusyError, IndexFormatError, IndexNotFoundError, IndexWriteError,
                            VraagbaakError)

CURRENT, PREVIOUS, VERSIONS, LOCK = "CURRENT", "PREVIOUS", "versions", ".write.lock"
# Held by a background merge while it waits for and holds the write lock to publish (a moment):
# a writer that finds the write lock taken and this one held waits instead of being refused.
PUBLISH_LOCK = ".publish.lock"
PUBLISH_WAIT = 60.0  # seconds a writer waits for a merge's publish before it is refused
_FORMAT_3_FILES = (MANIFEST, "vectors.faiss", "sentences.faiss", "chunks.sqlite", "keywords")
_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


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

    def current_version(self, formats: tuple[int, ...] = (FORMAT_VERSION,)) -> Path:
        """The published version's folder; raises if there is none or it is incomplete (or of a
        format not in ``formats``: `migrate` asks for the older ones too)."""
        name = self._read_name(CURRENT)
        if name is None:
            raise IndexNotFoundError(
                f"there is no index at {self.root}",
                hint=f"build one first: vraagbaak index PATH... --index {self.root}")
        if not _VERSION_NAME.fullmatch(name):
            raise IndexFormatError(f"the index at {self.root} is damaged: {self.root / CURRENT} "
                                   f"does not name a version ({name[:40]!r})", hint=REBUILD_HINT)
        version = self.root / VERSIONS / name
        if not (version / MANIFEST).exists():
            raise IndexFormatError(f"the index at {self.root} is damaged: version {name!r} lacks "
                                   f"{MANIFEST}", hint=REBUILD_HINT)
        # What a version needs is what its manifest lists (a vector backend that keeps its
        # vectors elsewhere lists no file for them).
        manifest = Manifest.from_file(version / MANIFEST, formats)
        needs = manifest.files() if manifest.format_version == FORMAT_VERSION else _FORMAT_3_FILES
        missing = [f for f in needs if not (version / f).exists()]
        if missing:
            raise IndexFormatError(f"the index at {self.root} is damaged: version {name!r} lacks "
                                   f"{', '.join(missing)}", hint=REBUILD_HINT)
        return version

    def current_name(self) -> str | None:
        return self._read_name(CURRENT) or None

    def _read_name(self, pointer: str) -> str | None:
        """What CURRENT or PREVIOUS names ("" if empty), or None when the file is not there."""
        path = self.root / pointer
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except NotADirectoryError:  # the root, or a folder above it, is a file
            raise IndexNotFoundError(*self._is_a_file()) from None
        except IsADirectoryError:
            raise IndexFormatError(f"{path} is a folder; vraagbaak keeps a small text file there "
                                   "naming the published version",
                                   hint=f"move the folder {path} out of the index, then "
                                        f"{REBUILD_HINT}") from None
        except UnicodeDecodeError as exc:
            raise IndexFormatError(f"{path} does not name a version: it holds bytes that are not "
                                   "text", hint=REBUILD_HINT) from exc
        except OSError as exc:
            raise IndexFormatError(f"{path} cannot be read ({exc.strerror or exc})",
                                   hint=REBUILD_HINT) from exc

    def _name_or_none(self, pointer: str) -> str | None:
        """For writers: what the pointer names, or None when it is missing or unreadable."""
        try:
            return self._read_name(pointer) or None
        except VraagbaakError:
            return None

    def _is_a_file(self) -> tuple[str, str]:
        """The message and hint for a --index that is a file (or lies under one)."""
        file = next((p for p in (self.root, *self.root.parents) if p.is_file()), self.root)
        where = "" if file == self.root else f" ({self.root} lies under it)"
        return (f"{file} is a file, not an index folder{where}",
                "give --index the index's folder (the one holding CURRENT and versions/), or a "
                "new folder to build an index in")

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

    def old_format(self) -> int | None:
        """The published version's format when it is one `vraagbaak migrate` converts."""
        try:
            Manifest.from_file(self.current_version(MIGRATES_FROM) / MANIFEST, MIGRATES_FROM)
        except (IndexNotFoundError, IndexFormatError):
            return None
        return Manifest.from_file(self.current_version(MIGRATES_FROM) / MANIFEST,
                                  MIGRATES_FROM).format_version

    @contextmanager
    def writer(self, formats: tuple[int, ...] = (FORMAT_VERSION,),
               wait: bool = False) -> Iterator[VersionWriter]:
        """Hold the write lock (``wait``: until it is free, as a merge's publish does; else
        refused when another writer holds it, unless that is a merge publishing); yield the published version to build on (None when there is
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
        if (self.root / CURRENT).is_dir():  # publishing could not replace it: say so first
            self._read_name(CURRENT)
        with self._write_lock(wait):
            self._remove_unpublished()
            previous = None
            if formats == (FORMAT_VERSION,) and self.old_format() is not None:
                # Not damaged, only older: building on nothing would drop its articles.
                self.current_version()  # raises, with the hint to migrate
            try:
                previous = self.current_version(formats)
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
                if self._name_or_none(CURRENT) != staging.name:  # once published, it is the index
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
        self.current_version()  # a missing or damaged index: its own error, before dest is made
        created = self._backup_folder(dest)
        try:
            return self._copy_current(dest, attempts)
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            raise

    def _copy_current(self, dest: Path, attempts: int) -> Path:
        for _ in range(attempts):
            version = self.current_version()
            target = dest / VERSIONS / version.name
            try:
                shutil.copytree(version, target)
                Manifest.from_file(target / MANIFEST)
                write_synced(dest / CURRENT, version.name + "\n")
                return target
            except (OSError, IndexFormatError) as exc:
                shutil.rmtree(dest / VERSIONS, ignore_errors=True)
                with suppress(OSError):
                    (dest / CURRENT).unlink(missing_ok=True)
                if not version.exists():
                    continue  # a writer removed it while it was copied: copy the newer one
                if isinstance(exc, IndexFormatError):
                    raise  # the source version is damaged
                raise IndexWriteError(f"cannot write the backup to {dest} ({exc.strerror or exc})",
                                      hint="free some disk space or choose another folder") from exc
        raise IndexBusyError(f"the index at {self.root} changed {attempts} times while it was "
                             "being copied", hint="try again when fewer updates are running")

    @staticmethod
    def _backup_folder(dest: Path) -> bool:
        """Make ``dest`` (True when it was made here) or say why it cannot be written."""
        if dest.is_symlink() and not dest.exists():
            raise IndexWriteError(f"cannot write the backup to {dest}: it is a link to "
                                  f"{os.readlink(dest)}, which does not exist",
                                  hint="mount or create the link's target, or choose another folder")
        try:
            dest.mkdir(parents=True)
            return True
        except FileExistsError:
            return False  # the empty folder checked above
        except OSError as exc:
            raise IndexWriteError(f"cannot write the backup to {dest} ({exc.strerror or exc})",
                                  hint="choose a folder this user can write to") from exc

    def _check_is_ours(self) -> None:
        if self.root.is_file() or any(p.is_file() for p in self.root.parents):
            raise IndexNotFoundError(*self._is_a_file())
        if self.root.is_dir() and any(self.root.iterdir()) and not (
                (self.root / CURRENT).exists() or (self.root / VERSIONS).exists()):
            raise VraagbaakError(f"{self.root} is not empty and is not a vraagbaak index; "
                                 "refusing to write into it",
                                 hint="choose a new or empty folder with --index")

    @contextmanager
    def _write_lock(self, wait: bool = False) -> Iterator[None]:
        fh = self._lock_file(LOCK)
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                if not self._merge_publishing() or not _lock_within(fh, PUBLISH_WAIT):
                    raise IndexBusyError(f"another vraagbaak run is writing the index at {self.root}",
                                         hint="wait for it to finish, then try again") from None
            except OSError as exc:  # a file system without locks (some network mounts)
                raise IndexWriteError(f"cannot lock the index at {self.root} for writing "
                                      f"({exc.strerror or exc})",
                                      hint="put the index on a local disk") from exc
            yield

    @contextmanager
    def publish_lock(self) -> Iterator[None]:
        """Held by a merge around its publish: writers that meet it wait for the write lock
        (a publish takes a moment) rather than being refused."""
        fh = self._lock_file(PUBLISH_LOCK)
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _merge_publishing(self) -> bool:
        try:
            with (self.root / PUBLISH_LOCK).open("a") as fh:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False

    def _lock_file(self, name: str):
        try:
            return (self.root / name).open("a")
        except OSError as exc:  # read-only disk or mount, permissions, immutable folder
            raise IndexWriteError(
                f"cannot write to the index folder {self.root} ({exc.strerror or exc}: {name})",
                hint=f"make {self.root} writable for this user (or mount its disk read-write), "
                     "or choose another --index; searching it still works") from exc

    def _publish(self, staging: Path) -> None:
        for item in staging.rglob("*"):
            fsync_path(item)
        fsync_path(staging)
        outgoing = self._name_or_none(CURRENT)
        if outgoing:  # remember the outgoing version, which readers may still be opening
            replace_synced(self.root / PREVIOUS, outgoing + "\n")
        # The one step that makes the new version visible:
        replace_synced(self.root / CURRENT, staging.name + "\n")
        fsync_path(self.root)

    def remove_leftovers(self) -> None:
        """What interrupted runs left (a merge killed between its publish and its clean-up
        leaves the version before PREVIOUS), removed now if no writer holds the lock; else
        that writer removes them."""
        try:
            with self._write_lock():
                self._remove_unpublished()
        except (IndexBusyError, IndexWriteError):  # busy, read-only, or a disk without locks
            return

    def _remove_unpublished(self) -> None:
        """Leftovers of interrupted runs, and versions older than the one before CURRENT; only
        the writer holding the lock calls it. The version before stays so that a reader that
        read CURRENT just before a publish can still open what it read."""
        try:
            keep = {self.current_name(), self._read_name(PREVIOUS) or None}
        except VraagbaakError:
            return  # which versions are in use cannot be told: keep them all
        for item in (self.root / VERSIONS).iterdir():
            if item.name not in keep:
                shutil.rmtree(item, ignore_errors=True)


def _lock_within(fh, seconds: float) -> bool:
    """Take the exclusive lock on ``fh`` within ``seconds`` (polled: flock has no timeout)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.05)
    return False
