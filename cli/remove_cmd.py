"""`vraagbaak remove`: take articles out of the index by id."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import (
    DEFAULT_INDEX,
    EXIT_ERROR,
    EXIT_PARTIAL,
    IndexOption,
    JsonOption,
    handle_errors,
    print_json,
    settings,
)


def remove(
    doc_ids: Annotated[list[str], typer.Argument(
        help="Ids of the articles to remove (as `search` shows them).", show_default=False)],
    index_dir: IndexOption = DEFAULT_INDEX,
    as_json: JsonOption = False,
) -> None:
    """Remove articles from the index, with their passages and vectors.

    Needs no model. Ids the index does not hold are reported (exit code 3 when some were removed,
    1 when none was).
    """
    from cli.index_cmd import print_summary, report_json
    from indexer.index.directory import IndexDirectory
    from indexer.write.pipeline import update_index

    with handle_errors():
        target = IndexDirectory(index_dir)
        target.manifest()  # a missing or damaged index: its own clear error
        report = update_index(target, None, None, remove=doc_ids, merges=settings().merges)
    if as_json:
        print_json(report_json(report, None))
    else:
        print_summary(report, None)
    if report.unknown:
        raise typer.Exit(EXIT_PARTIAL if report.removed else EXIT_ERROR)
