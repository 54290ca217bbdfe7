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
    version. Use DEST with --index, or copy it back to restore. Vectors kept in Milvus are not
    copied (the command says so): back those up with Milvus's own tools at the same time.
    """
    from indexer.index.directory import IndexDirectory

    with handle_errors():
        version = IndexDirectory(index_dir).backup(dest)
        manifest = IndexDirectory(dest).manifest()
    elsewhere = _vectors_elsewhere(manifest.vector_store)
    if as_json:
        print_json({"backup": str(dest), "version": version.name, "articles": manifest.articles,
                    "chunks": manifest.chunks, "vectors_copied": elsewhere is None,
                    "vector_store": {k: manifest.vector_store.get(k)
                                     for k in ("kind", "uri", "collections")}})
    else:
        typer.echo(f"Copied version {version.name} ({manifest.articles} articles, "
                   f"{manifest.chunks} passages) to {dest}")
    if elsewhere:
        typer.echo(elsewhere, err=True)


def _vectors_elsewhere(store: dict) -> str | None:
    """What a user must know of a copy whose vectors stay in a vector database; None where the
    vectors are the version's own files (FAISS), which the copy holds."""
    if store.get("kind", "faiss") == "faiss":
        return None
    names = ", ".join(sorted((store.get("collections") or {}).values()))
    return (f"Note: the vectors are not in the copy: they stay in {store.get('kind')} at "
            f"{store.get('uri')} (collections {names}). Back those up with Milvus's own tool "
            "(milvus-backup) at the same time; the copy answers only while they hold its rows.")
