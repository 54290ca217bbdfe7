"""What an indexing run changes: articles added, updated, unchanged, removed, kept.

Articles are compared by a hash of their text and metadata, so re-indexing a folder only does
the new work. Removal is explicit (by id) or by pruning: an article whose source file lies under
one of the paths of this run and no longer holds it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer.index.keywords.analysis import detect_language
from indexer.index.store import StoredDocument
from indexer.records import Document
from indexer.write.loading import Problem


def content_hash(doc: Document) -> str:
    """Of everything stored about an article except where it came from."""
    fields = [doc.text, doc.title, doc.date, doc.url, doc.source]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def source_file(doc: Document) -> str | None:
    """The resolved file an article was loaded from ("path:line" origins name a JSONL line)."""
    if not doc.origin:
        return None
    path = doc.origin.rsplit(":", 1)[0] if doc.origin.rsplit(":", 1)[-1].isdigit() else doc.origin
    return str(Path(path).resolve())


def stored(doc: Document) -> StoredDocument:
    return StoredDocument(doc, content_hash(doc), source_file(doc), detect_language(doc.text[:2000]))


@dataclass(frozen=True)
class Plan:
    """The next version's articles, in order, and how each relates to the previous version."""

    documents: list[StoredDocument]
    reuse_chunks: frozenset[str]  # ids whose passages can be copied from the previous version
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: int = 0  # previous articles this run neither loaded nor removed
    unknown: list[str] = field(default_factory=list)  # ids asked to be removed that are not there
    moved: int = 0  # unchanged articles now loaded from another file

    @property
    def changes_anything(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.moved)


def plan_changes(previous: Sequence[StoredDocument], loaded: Sequence[Document],
                 remove: Iterable[str] = (), prune_under: Sequence[Path] = (),
                 problems: Sequence[Problem] = (), same_chunker: bool = True) -> Plan:
    """Compare this run's articles with the previous version's.

    Loaded articles replace their namesakes in place; new ones go at the end. With
    ``prune_under``, a previous article whose source file is under one of those paths and was not
    loaded this run is removed, unless its file had a problem this run (an unreadable file is not
    a deleted one: its articles stay until it can be read again).
    """
    incoming = {doc.doc_id: stored(doc) for doc in loaded}
    before = {s.document.doc_id: s for s in previous}
    remove = list(dict.fromkeys(remove))
    unknown = [doc_id for doc_id in remove if doc_id not in before]
    removed = {doc_id for doc_id in remove if doc_id in before and doc_id not in incoming}
    removed |= _pruned(previous, set(incoming), prune_under, problems)
    documents, reuse, updated, unchanged, moved = [], set(), [], [], 0
    for doc_id, old in before.items():
        if doc_id in removed:
            continue
        new = incoming.pop(doc_id, old)
        documents.append(new)
        if new is old:
            reuse.add(doc_id)
        elif new.content_hash != old.content_hash:
            updated.append(doc_id)
        else:
            unchanged.append(doc_id)
            reuse.add(doc_id)
            moved += new.source_file != old.source_file
    documents.extend(incoming.values())
    return Plan(documents, frozenset(reuse if same_chunker else ()), added=list(incoming),
                updated=updated, unchanged=unchanged, removed=[d for d in before if d in removed],
                kept=len(before) - len(removed) - len(updated) - len(unchanged), unknown=unknown,
                moved=moved)


def _pruned(previous: Sequence[StoredDocument], loaded_ids: set[str], roots: Sequence[Path],
            problems: Sequence[Problem]) -> set[str]:
    if not roots:
        return set()
    roots = [Path(r).resolve() for r in roots]
    troubled = {str(Path(p.path).resolve()) for p in problems}
    gone = set()
    for old in previous:
        where = old.source_file
        if old.document.doc_id in loaded_ids or not where or where in troubled:
            continue
        if any(Path(where) == root or Path(where).is_relative_to(root) for root in roots):
            gone.add(old.document.doc_id)
    return gone
