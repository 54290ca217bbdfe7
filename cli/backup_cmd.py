"""`vraagbaak backup`: a consistent copy of the index, while it is in use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import IndexOption, JsonOption, handle_errors, print_json
from indexer.settings import DEFAULT_INDEX


def backup(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for the copy.",
                                         show_default=False)],
    index_dir: IndexOption = DEFAULT_INDEX,
    as_json: JsonOption = False,
) -> None:
    """Copy the index's current version to DEST, which is then an index of its own.

    Safe while a server answers and while `index` or `remove` runs: the copy is one complete
    version. Use DEST with --index, or copy it back to restore.
    """
    from indexer.index.directory import IndexDirectory

    with handle_errors():
        version = IndexDirectory(index_dir).backup(dest)
        manifest = IndexDirectory(dest).manifest()
    if as_json:
        print_json({"backup": str(dest), "version": version.name, "articles": manifest.articles,
                    "chunks": manifest.chunks})
    else:
        typer.echo(f"Copied version {version.name} ({manifest.articles} articles, "
                   f"{manifest.chunks} passages) to {dest}")
