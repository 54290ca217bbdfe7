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
    with_vectors: Annotated[bool, typer.Option(
        "--with-vectors",
        help="Also copy vectors kept in Milvus, into the copy as FAISS files: the copy is then "
             "an embedded index that answers without Milvus.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Copy the index's current version to DEST, which is then an index of its own.

    Safe while a server answers and while `index` or `remove` runs: the copy is one complete
    version. Use DEST with --index, or copy it back to restore. Vectors kept in Milvus are not
    copied unless --with-vectors is given (the command says so): back them up with Milvus's own
    tools at the same time, or bring them into the copy with --with-vectors.
    """
    from indexer.index.directory import IndexDirectory
    from indexer.index.vectors_home import backup_with_vectors

    with handle_errors():
        source = IndexDirectory(index_dir)
        version, brought = (backup_with_vectors(source, dest) if with_vectors
                            else (source.backup(dest), None))
        manifest = IndexDirectory(dest).manifest()
    elsewhere = _vectors_elsewhere(manifest.vector_store)
    if as_json:
        print_json({"backup": str(dest), "version": version.name, "articles": manifest.articles,
                    "chunks": manifest.chunks, "vectors_copied": elsewhere is None,
                    "vector_store": {k: manifest.vector_store.get(k)
                                     for k in ("kind", "uri", "collections")},
                    "vectors_from": brought and {k: brought.get(k) for k in ("kind", "uri")}})
    else:
        typer.echo(f"Copied version {version.name} ({manifest.articles} articles, "
                   f"{manifest.chunks} passages) to {dest}")
        if brought:
            typer.echo(f"Its vectors came from {brought['kind']} at {brought.get('uri')} and are "
                       "FAISS files in the copy: it answers without Milvus.")
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
            "(milvus-backup) at the same time, or copy them into the backup with "
            "--with-vectors; the copy answers only while they hold its rows.")
