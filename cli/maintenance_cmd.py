"""`vraagbaak optimize` and `vraagbaak migrate`: one new version, through the write path."""

from __future__ import annotations

import contextlib
from dataclasses import asdict

import typer

from cli.common import IndexOption, JsonOption, handle_errors, print_json
from indexer.settings import DEFAULT_INDEX


def _print(report, as_json: bool, done: str) -> None:
    if as_json:
        print_json({k: (str(v) if k == "index_dir" else v) for k, v in asdict(report).items()})
    elif not report.published:
        typer.echo(f"Nothing to do: the index at {report.index_dir} is one segment without "
                   "deletions")
    else:
        typer.echo(f"{done} the index at {report.index_dir}: {report.articles} articles, "
                   f"{report.segments_before} segment(s) -> {report.segments_after}, "
                   f"{report.tombstones_dropped} tombstones dropped, in {report.seconds:.1f} s")


def optimize(index_dir: IndexOption = DEFAULT_INDEX, as_json: JsonOption = False) -> None:
    """Merge all segments into one and drop the deleted rows (searches go on meanwhile).

    Writes usually merge what is cheap to merge on their own; this merges everything, for the
    fastest searches and the smallest index. Needs no model.
    """
    import os

    from indexer.index.directory import IndexDirectory
    from indexer.write.maintenance import optimize_index

    # A merge of everything is background work: searches on this machine come first.
    with contextlib.suppress(OSError):
        os.nice(10)
    with handle_errors():
        report = optimize_index(IndexDirectory(index_dir))
    _print(report, as_json, "Optimized")


def migrate(index_dir: IndexOption = DEFAULT_INDEX, as_json: JsonOption = False) -> None:
    """Convert an index of an older format (3) into this vraagbaak's format, in place.

    Keeps every vector (nothing is embedded again) and the passage and sentence ids (they
    become stable ids); the old version stays readable by the old vraagbaak until the new one
    is published. Needs no model.
    """
    from indexer.index.directory import IndexDirectory
    from indexer.write.maintenance import migrate_index

    with handle_errors():
        report = migrate_index(IndexDirectory(index_dir))
    _print(report, as_json, f"Migrated (from format {report.from_format})")
