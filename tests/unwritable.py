"""A folder that really cannot be written, also by root (as tests and CI run).

Root ignores permission bits, so for root the folder is bind-mounted onto itself read-only
(EROFS, as on a read-only disk) or, where mounting is not allowed, made immutable with chattr
(EPERM). Each way is probed: it counts only when creating a file in the folder then fails.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _cannot_write(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        return True
    probe.unlink()
    return False


def _run(*command: str) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def _without_write_bits(folder: Path) -> Iterator[bool]:
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in folders}
    for p in folders:
        p.chmod(0o555)
    try:
        yield _cannot_write(folder)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


@contextmanager
def _read_only_mount(folder: Path) -> Iterator[bool]:
    if not _run("mount", "--bind", str(folder), str(folder)):
        yield False
        return
    try:
        yield _run("mount", "-o", "remount,bind,ro", str(folder)) and _cannot_write(folder)
    finally:
        _run("umount", str(folder)) or _run("umount", "-l", str(folder))


@contextmanager
def _immutable(folder: Path) -> Iterator[bool]:
    if not _run("chattr", "-R", "+i", str(folder)):
        _run("chattr", "-R", "-i", str(folder))
        yield False
        return
    try:
        yield _cannot_write(folder)
    finally:
        _run("chattr", "-R", "-i", str(folder))


@contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """Inside the block nothing in ``folder`` can be created or changed; yields how."""
    ways = ([("chmod 0555", _without_write_bits)] if os.geteuid() != 0 else
            [("read-only bind mount", _read_only_mount), ("chattr +i", _immutable)])
    for name, way in ways:
        with way(folder) as works:
            if works:
                yield name
                return
    pytest.skip(f"cannot make {folder} unwritable here (tried {', '.join(n for n, _ in ways)}; "
                "root needs CAP_SYS_ADMIN or CAP_LINUX_IMMUTABLE)")


@contextmanager
def read_only_view(folder: Path, at: Path) -> Iterator[Path | None]:
    """``folder`` seen at ``at`` read-only (a bind mount: what a replica's read-only mount of
    the shared volume is) while it stays writable at its own path for the writer; None where
    this process may not mount."""
    at.mkdir()
    if not _run("mount", "--bind", str(folder), str(at)):
        yield None
        return
    try:
        yield at if _run("mount", "-o", "remount,bind,ro", str(at)) and _cannot_write(at) else None
    finally:
        _run("umount", str(at)) or _run("umount", "-l", str(at))
