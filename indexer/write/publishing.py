"""The next version, written into the writer's staging folder: the previous version's segments
shared, the change's new segment, tombstones, the keyword index updated, manifest.

Everything here is written into a folder nobody reads until it is published (one rename of
CURRENT, indexer/index/directory.py), so a run killed at any moment leaves the previous version.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from indexer.index.keywords import DEFAULT_KIND
from indexer.index.keywords.analysis import Analyzer
from indexer.index.keywords.names import NAMES_FILE, count_words, save_counts
from indexer.index.keywords.tantivy_index import update as update_keywords
from indexer.index.manifest import (ARTICLE_KEYWORDS, FORMAT_VERSION, KEYWORDS, MANIFEST, SEGMENTS,
                                    TOMBSTONES, Manifest)
from indexer.index.segments import Segment, Tombstones, vector_summary
from indexer.index.store import StoredDocument
from indexer.write.changes import Plan
from indexer.write.segment_writer import (SegmentRows, joined, link_segments, live_rows,
                                          write_segment)
from indexer.write.store_writes import keeps_files, upsert_rows, with_dead


@dataclass
class Change:
    plan: Plan
    gone: dict  # doc id -> (article id, article, segment number): rows that become tombstones
    new: list[StoredDocument]  # articles that get new rows (added, updated, moved)
    kept: int
    rebuild: bool = False
    merge_all: bool = False  # a new vector index kind: every segment rewritten as one


@dataclass
class _Next:
    """The next version's segments, tombstones and per-language article counts, as they grow."""

    entries: list[dict] = field(default_factory=list)
    tombstones: Tombstones = field(default_factory=Tombstones)
    languages: Counter = field(default_factory=Counter)
    tokens: int = 0
    dead_articles: list[int] = field(default_factory=list)  # the change's tombstoned article ids
    dead_sentences: list[int] = field(default_factory=list)  # and sentence ids


def write_version(writer, previous, change: Change, rows: SegmentRows, settings: dict) -> Manifest:
    """``previous``: the opened version built on (None for a first build); ``settings``: model,
    backends, dim, chunker, index_type, next_ids, vector_store. Returns the manifest written."""
    staging, dim = writer.staging, settings["dim"]
    store = settings.get("vector_store") or {"kind": "faiss"}
    incremental = previous is not None and not change.rebuild
    upcoming = _Next()
    dead_chunks: list[int] = []
    if incremental:
        upcoming, dead_chunks = _carried_over(previous, change, staging)
    elif previous is not None and not keeps_files(store):  # a rebuild: every old row dies
        dead_chunks, upcoming.dead_sentences = _all_live(previous)
    for doc in rows.documents:
        upcoming.languages[doc.language or "?"] += 1
    upcoming.tokens += rows.tokens
    if rows.documents:
        upcoming.entries.append(write_segment(staging, rows, settings["index_type"],
                                              store=store["kind"]))
    # A new vector index kind rewrites every segment here; the merges a write makes due run
    # after its publish, off the write lock (indexer/write/merging.py).
    if change.merge_all and upcoming.entries:
        _merge(staging, upcoming, [e["name"] for e in upcoming.entries], dim,
               settings["index_type"], store["kind"])
    language = _language(upcoming.languages)
    before = previous.manifest.keyword_index if incremental else {}
    in_place = (incremental and not change.merge_all and before.get("kind") == DEFAULT_KIND
                and before.get("language") == language)
    if in_place:
        dated = {d.document.doc_id: d.document.date for d in rows.documents}
        update_keywords(previous.path / KEYWORDS, staging / KEYWORDS, Analyzer(language),
                        dead_chunks, rows.chunk_ids, [c.text for c in rows.chunks],
                        previous.manifest.chunks, dates=[dated[c.doc_id] for c in rows.chunks])
    else:  # a first build, a rebuild, a new vector index kind, or a new language: all anew
        ids, texts, dates = _live_texts(staging, upcoming)
        update_keywords(None, staging / KEYWORDS, Analyzer(language), (), ids, texts, dates=dates)
    articles = _article_keywords(staging, previous, upcoming, rows, language,
                                 in_place and bool(previous.manifest.article_index))
    upcoming.tombstones.write(staging / TOMBSTONES)
    # Before the manifest, so before publishing: a version is never named before its vectors.
    counted = _manifest(upcoming, settings, language)
    store = with_dead(upsert_rows(store, rows, dim, settings["model"]["fingerprint"],
                                  settings["index_type"],
                                  {"passages": counted.chunks, "sentences": counted.sentences}),
                      dead_chunks, upcoming.dead_sentences)
    manifest = replace(counted, article_index=articles, vector_store=store)
    manifest.write(staging / MANIFEST)
    return manifest


def _carried_over(previous, change: Change, staging: Path) -> tuple[_Next, list[int]]:
    """The previous version's segments (linked), with the change's tombstones added."""
    m = previous.manifest
    entries = [dict(e) for e in m.segments]
    link_segments(previous.path, staging, entries)
    by_segment: dict[int, dict] = {}
    for doc_id, located in change.gone.items():
        by_segment.setdefault(located[2], {})[doc_id] = located
    tombstones, dead_chunks, dead_articles, tokens = previous.tombstones, [], [], m.tokens
    dead_sentences: list[int] = []
    languages = Counter(m.language_counts)
    for number, located in by_segment.items():
        a, c, s, t = previous.store.rows_of_articles(located)
        tombstones = tombstones.plus(a, c, s)
        dead_chunks += c
        dead_sentences += s
        tokens -= t
        entries[number]["dead"] = entries[number].get("dead", 0) + len(c)
        for _, doc, _ in located.values():
            languages[doc.language or "?"] -= 1
        dead_articles += a
    return (_Next(entries, tombstones, +languages, tokens, dead_articles, dead_sentences),
            dead_chunks)


def _all_live(previous) -> tuple[list[int], list[int]]:
    """Every passage and sentence id the previous version holds live."""
    chunks, sentences = [], []
    for segment in previous.segments:
        c, s = segment.store.ids()
        chunks += [int(i) for i in c if int(i) not in previous.tombstones.chunks]
        sentences += [int(i) for i in s if int(i) not in previous.tombstones.sentences]
    return chunks, sentences


def _merge(staging: Path, upcoming: _Next, group: list[str], dim: int, index_type: str,
           store: str = "faiss") -> None:
    """Merge the segments named in ``group`` into one; their tombstones go with them. Vectors
    kept outside the folder stay where they are: only the store rows are copied."""
    entries = {e["name"]: e for e in upcoming.entries}
    files = store == "faiss"
    segments = [Segment.open(staging / SEGMENTS / name, entries[name]) for name in group]
    try:
        for segment in segments:
            if files:
                segment.load_vectors(dim)
            else:
                segment.load_ids()
        parts = [live_rows(s, upcoming.tombstones, files) for s in segments]
        ids = (set().union(*({a for a, _ in s.store.documents_where("1")} for s in segments)),
               set().union(*(set(s.chunk_ids.tolist()) for s in segments)),
               set().union(*(set(s.sentence_ids.tolist()) for s in segments)))
    finally:
        for segment in segments:
            segment.store.close()
    merged = write_segment(staging, joined(parts, dim), index_type, store=store)
    upcoming.tombstones = upcoming.tombstones.without(ids)
    at = min(i for i, e in enumerate(upcoming.entries) if e["name"] in group)
    kept = [e for e in upcoming.entries if e["name"] not in group]
    upcoming.entries = kept[:at] + [merged] + kept[at:]
    for name in group:
        shutil.rmtree(staging / SEGMENTS / name)  # links: the published version keeps its files


# Why: docs/decisions/0033-article-keyword-index.md
def _article_keywords(staging: Path, previous, upcoming: _Next, rows: SegmentRows, language: str,
                      in_place: bool) -> dict:
    """The article keyword index, as the passage one: the previous version's, less the change's
    tombstoned articles, plus its new ones; built from every live article where the passage
    index is built anew, or where the previous version was written before the article index."""
    if in_place:
        size = int(previous.manifest.article_index.get("articles", 0))
        _, size = update_keywords(previous.path / ARTICLE_KEYWORDS, staging / ARTICLE_KEYWORDS,
                                  Analyzer(language), upcoming.dead_articles, rows.article_ids,
                                  [d.document.text for d in rows.documents], size,
                                  dates=[d.document.date for d in rows.documents])
    else:
        ids, texts, dates = _live_articles(staging, upcoming)
        _, size = update_keywords(None, staging / ARTICLE_KEYWORDS, Analyzer(language), (), ids,
                                  texts, dates=dates)
    return {"kind": DEFAULT_KIND, "articles": size}


def _live_articles(staging: Path, upcoming: _Next) -> tuple[list[int], list[str], list]:
    """Every live article's id, text and date; a segment written before word counts gets them
    here (a new file in the staging folder: the published version's folder is not touched)."""
    ids, texts, dates = [], [], []
    for entry in upcoming.entries:
        folder = staging / SEGMENTS / entry["name"]
        segment = Segment.open(folder, entry)
        try:
            found = segment.store.documents_where("1")
        finally:
            segment.store.close()
        if not (folder / NAMES_FILE).exists():
            save_counts(count_words(d.document.text for _, d in found), folder)
        for article_id, doc in found:
            if article_id not in upcoming.tombstones.articles:
                ids.append(article_id)
                texts.append(doc.document.text)
                dates.append(doc.document.date)
    return ids, texts, dates


def _live_texts(staging: Path, upcoming: _Next) -> tuple[list[int], list[str], list]:
    """Every live passage's id and text, and its article's date."""
    ids, texts, dates = [], [], []
    for entry in upcoming.entries:
        segment = Segment.open(staging / SEGMENTS / entry["name"], entry)
        try:
            dated = {d.document.doc_id: d.document.date for _, d in segment.store.documents_where("1")}
            for chunk_id, chunk, _ in segment.store.chunk_rows():
                if chunk_id not in upcoming.tombstones.chunks:
                    ids.append(chunk_id)
                    texts.append(chunk.text)
                    dates.append(dated.get(chunk.doc_id))
        finally:
            segment.store.close()
    return ids, texts, dates


def _language(counts: Counter) -> str:
    """The language most articles are in ('nl' when it cannot be told: vraagbaak's default)."""
    votes = Counter({k: v for k, v in counts.items() if k != "?" and v > 0})
    return votes.most_common(1)[0][0] if votes else "nl"


def vraagbaak_version() -> str:
    try:
        return importlib.metadata.version("vraagbaak")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _manifest(upcoming: _Next, settings: dict, language: str) -> Manifest:
    entries, dead = upcoming.entries, upcoming.tombstones.counts()
    live = {part: sum(e[part] for e in entries) - dead[part]
            for part in ("articles", "chunks", "sentences")}
    described = vector_summary(settings["index_type"], entries)
    return Manifest(
        format_version=FORMAT_VERSION, model=settings["model"],
        document_backends=settings["backends"], dim=settings["dim"], chunker=settings["chunker"],
        vector_index=described["passages"]["kind"], vector_indexes=described,
        keyword_index={"kind": DEFAULT_KIND, **Analyzer(language).settings()}, language=language,
        articles=live["articles"], chunks=live["chunks"], sentences=live["sentences"],
        tokens=upcoming.tokens, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        vraagbaak_version=vraagbaak_version(), segments=entries,
        next_ids=settings["next_ids"], language_counts=dict(upcoming.languages),
        tombstones=dead)
