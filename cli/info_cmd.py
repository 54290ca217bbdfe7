"""`vraagbaak info`: what an index holds."""

from __future__ import annotations

from dataclasses import asdict

import typer

from cli.common import (
    DEFAULT_INDEX,
    IndexOption,
    JsonOption,
    describe_vector_indexes,
    handle_errors,
    print_json,
    settings,
)
from indexer.settings import BACKEND_ENV


def _size_on_disk(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _date_range(opened) -> tuple:
    import sqlite3

    from indexer.errors import IndexFormatError
    from indexer.index.manifest import REBUILD_HINT, STORE

    try:
        return opened.store.date_range()
    except sqlite3.Error as exc:
        raise IndexFormatError(f"the passage store {opened.path / STORE} is damaged ({exc})",
                               hint=REBUILD_HINT) from exc


def info(index_dir: IndexOption = DEFAULT_INDEX, as_json: JsonOption = False) -> None:
    """Show what is in an index: model, articles, passages, dates, chunker settings.

    Also checks that the files a search opens can be read (a damaged one is named)."""
    from indexer.embedders import query_backend_for
    from indexer.embedders.base import ModelSpec
    from indexer.index.directory import IndexDirectory
    from indexer.index.stores import describe_store
    from indexer.index.version import IndexVersion

    with handle_errors():
        version = IndexDirectory(index_dir).current_version()
        # Opens what a search opens, mapped rather than read (cheap at any size), so that `info`
        # names a damaged file as `search` would.
        with IndexVersion.open(version, mmap=True) as opened:
            manifest = opened.manifest
            first, last = _date_range(opened)
        spec, choice = ModelSpec(**manifest.model), settings().query_backend
        backend = query_backend_for(spec, choice)
        one = query_backend_for(spec, choice, one_question=True)
    data = asdict(manifest) | {"index": str(index_dir), "version": version.name,
                               "first_date": first, "last_date": last,
                               "size_bytes": _size_on_disk(version), "query_backend": backend,
                               "query_backend_one_question": one}
    if as_json:
        print_json(data)
        return
    model = manifest.model
    rows = [
        ("index", f"{index_dir} (version {version.name}, format {manifest.format_version})"),
        ("model", f"{model['model_id']} ({model['kind']}, fingerprint {model['fingerprint']})"),
        ("backends", f"documents by {', '.join(manifest.document_backends) or 'none yet'}; "
                     f"questions by {backend}"
                     + (f" (a one-question `search`: {one})" if one != backend else "")
                     + f" ({BACKEND_ENV})"),
        ("articles", str(manifest.articles)),
        ("passages", f"{manifest.chunks} ({manifest.tokens:,} tokens, {manifest.sentences} sentences, "
                     f"{manifest.dim}-d vectors)"),
        ("vectors", describe_vector_indexes(manifest.vector_indexes)),
        ("store", describe_store(manifest.vector_store)),
        ("segments", f"{len(manifest.segments)}; deleted, awaiting a merge: "
                     f"{manifest.tombstones.get('articles', 0)} articles, "
                     f"{manifest.tombstones.get('chunks', 0)} passages (`vraagbaak optimize`)"),
        ("keywords", ", ".join(f"{k}={v}" for k, v in manifest.keyword_index.items())),
        ("article", f"{manifest.article_index['articles']} articles in the article keyword index"
         if manifest.article_index else
         "no article keyword index (written before it; the next `vraagbaak index` adds it)"),
        ("language", manifest.language),
        ("dates", f"{first} to {last}" if first else "none"),
        ("chunker", ", ".join(f"{k}={v}" for k, v in manifest.chunker.items())),
        ("size", f"{data['size_bytes'] / 1e6:.1f} MB"),
        ("created", f"{manifest.created} by vraagbaak {manifest.vraagbaak_version}"),
    ]
    for name, value in rows:
        typer.echo(f"{name:>9}: {value}")
