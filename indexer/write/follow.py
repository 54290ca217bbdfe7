"""Following feeds: one poll reads every feed, and publishes one new version when anything is new.

What a poll may skip is kept in ``follow-state.json`` in the index folder, per feed: the feed's
ETag and Last-Modified (sent back as If-None-Match / If-Modified-Since, so an unchanged feed costs
a 304), and per entry its article id and a fingerprint of what the feed said about it. An entry
whose fingerprint is unchanged and whose article is still in the index is not read again (its
page is not fetched); everything else goes through ``update_index``, which itself skips articles
whose content hash is unchanged. So the state only saves work: deleting it costs one poll that
fetches every page again, and indexes nothing twice.

The state trusts the index, never the other way round: a feed's validators are used only while
every article it gave is still in the index, and are kept only after a poll in which none of its
entries failed (so a page that failed is tried again at the next poll, not hidden behind a 304).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from indexer.embedders.base import Embedder
from indexer.errors import IndexBusyError
from indexer.index.directory import IndexDirectory
from indexer.index.durable import replace_synced
from indexer.index.version import IndexVersion
from indexer.write import fetch
from indexer.write.chunking import Chunker
from indexer.write.extract import ExtractError, page_article
from indexer.write.feeds import Entry, FeedError, read_feed
from indexer.write.loading import LoadResult, document_from_record
from indexer.write.pipeline import update_index

STATE_FILE = "follow-state.json"
STATE_FORMAT = 1
MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_ARTICLE_CHARS = 200_000  # a long news article is 30,000; more is not an article
PAGE_TYPES = ("text/html", "application/xhtml+xml")
BUSY_WAIT = 10.0  # seconds to wait for another writer (`index`, the API) before giving up a poll


@dataclass(frozen=True)
class FollowProblem:
    feed: str
    message: str
    entry: str | None = None  # its title or key; None: the feed itself

    def __str__(self) -> str:
        return f"{self.feed}: " + (f"entry {self.entry!r}: " if self.entry else "") + self.message


@dataclass
class PollReport:
    feeds: int = 0
    read: int = 0  # feeds read (changed, or read for the first time)
    not_modified: int = 0  # feeds that answered 304
    failed_feeds: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0  # entries
    published: bool = False
    version: str | None = None
    articles: int | None = None  # in the index after the poll
    seconds: float = 0.0
    problems: list[FollowProblem] = field(default_factory=list)

    @property
    def nothing_read(self) -> bool:
        return self.feeds > 0 and self.failed_feeds == self.feeds


class FollowState:
    """Per feed: validators and the entries seen, as ``{key: [doc_id, fingerprint]}``."""

    def __init__(self, feeds: dict | None = None, warning: str | None = None) -> None:
        self.feeds: dict[str, dict] = feeds or {}
        self.warning = warning  # why the saved state could not be used, if it could not
        self._saved: str | None = None

    @classmethod
    def load(cls, index_dir: IndexDirectory) -> FollowState:
        path = index_dir.root / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            return cls(warning=f"the follow state {path} cannot be read ({exc}); starting afresh: "
                               "pages are fetched again, nothing is indexed twice")
        feeds = data.get("feeds") if isinstance(data, dict) else None
        if not isinstance(feeds, dict) or data.get("format") != STATE_FORMAT:
            return cls(warning=f"the follow state {path} is not one this version writes; "
                               "starting afresh: pages are fetched again, nothing is indexed twice")
        return cls({k: v for k, v in feeds.items() if isinstance(v, dict)})

    def save(self, index_dir: IndexDirectory) -> None:
        if not index_dir.exists():  # nothing indexed yet: an empty folder stays one to index into
            return
        text = json.dumps({"format": STATE_FORMAT, "feeds": self.feeds}, ensure_ascii=False)
        if text != self._saved:  # a quiet poll writes nothing
            replace_synced(index_dir.root / STATE_FILE, text)
            self._saved = text

    def entries(self, feed: str) -> dict[str, list]:
        seen = self.feeds.get(feed, {}).get("entries")
        return {k: v for k, v in seen.items() if isinstance(v, list) and len(v) == 2} \
            if isinstance(seen, dict) else {}

    def validators(self, feed: str) -> dict[str, str]:
        found = self.feeds.get(feed, {}).get("validators")
        if not isinstance(found, dict):
            return {}
        return {k: v for k, v in found.items() if k in ("etag", "modified") and isinstance(v, str)}


class _Indexed:
    """Which article ids the published version holds, asked one at a time."""

    def __init__(self, index_dir: IndexDirectory) -> None:
        self._store = None
        if index_dir.exists():
            self._store = IndexVersion.open(index_dir.current_version(), vectors=False,
                                            keywords=False).store

    def __contains__(self, doc_id: str) -> bool:
        return self._store is not None and self._store.get_document(doc_id) is not None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def poll(index_dir: IndexDirectory, sources: Sequence[str], embedder: Embedder,
         chunker: Chunker, state: FollowState,
         sleep: Callable[[float], None] = time.sleep, merges: str = "inline") -> PollReport:
    """Read every feed once, index what is new or changed as one new version, update ``state``
    (and its file). Feeds and entries that fail are reported in the result, never raised;
    what the write path raises (a damaged index, another model, a writer that keeps the lock
    past ``BUSY_WAIT``) is. ``merges``: where the write's due merges run (update_index)."""
    started = time.perf_counter()
    sources = list(dict.fromkeys(sources))  # a feed given twice is read once
    report = PollReport(feeds=len(sources))
    documents, next_state = {}, {}
    indexed = _Indexed(index_dir)
    try:
        for source in sources:
            _read_one(source, state, indexed, documents, next_state, report)
    finally:
        indexed.close()
    if documents:
        written = _write(index_dir, embedder, chunker, list(documents.values()), sleep, merges)
        report.new, report.updated = written.added, written.updated
        report.unchanged += written.unchanged
        report.published, report.articles = written.published, written.articles
        report.version = index_dir.current_name() if written.published else None
    elif index_dir.exists():
        report.articles = index_dir.manifest().articles
    state.feeds.update(next_state)
    state.save(index_dir)
    report.seconds = time.perf_counter() - started
    return report


def _read_one(source: str, state: FollowState, indexed: _Indexed, documents: dict,
              next_state: dict, report: PollReport) -> None:
    seen = state.entries(source)
    # Ask conditionally only while every article the feed gave is still in the index.
    validators = state.validators(source) if all(v[0] in indexed for v in seen.values()) else {}
    try:
        feed = read_feed(source, validators)
    except FeedError as exc:
        report.failed_feeds += 1
        hint = f" ({exc.hint})" if exc.hint else ""
        report.problems.append(FollowProblem(source, str(exc) + hint))
        return
    if feed.not_modified:
        report.not_modified += 1
        report.unchanged += len(seen)
        return
    report.read += 1
    for entry, message in feed.problems:
        report.failed += 1
        report.problems.append(FollowProblem(source, message, entry))
    entries, failed = {}, bool(feed.problems)
    for entry in feed.entries:
        before = seen.get(entry.key)
        if entry.doc_id in documents or (before and before == [entry.doc_id, entry.fingerprint]
                                         and entry.doc_id in indexed):
            report.unchanged += 1  # as last time, or given by another feed of this poll too
            entries[entry.key] = [entry.doc_id, entry.fingerprint]
            continue
        try:
            documents[entry.doc_id] = _document(entry)
        except (fetch.FetchError, ExtractError, ValueError) as exc:
            failed = True
            report.failed += 1
            report.problems.append(FollowProblem(source, f"{exc}; it is tried again at the next "
                                                 "poll", entry.label))
            continue
        entries[entry.key] = [entry.doc_id, entry.fingerprint]
    next_state[source] = {"validators": {} if failed else feed.validators, "entries": entries}


def _document(entry: Entry):
    text, title, date = entry.text, entry.title, entry.date
    if text is None:
        if entry.url is None:
            raise ValueError("it holds no full text and no http(s) link to read the article from")
        page = fetch.get(entry.url, MAX_PAGE_BYTES, {"Accept": ", ".join(PAGE_TYPES)},
                         what="the page")
        if page.content_type and page.content_type not in PAGE_TYPES:
            raise ExtractError(f"the page {entry.url} is {page.content_type}, not HTML")
        try:
            found = page_article(page.body, page.url, page.charset, title)
        except ExtractError as exc:
            raise ExtractError(f"the page {entry.url}: {exc}") from None
        text, title, date = found.text, title or found.title, date or found.date
    if len(text) > MAX_ARTICLE_CHARS:
        raise ValueError(f"the article is {len(text):,} characters, more than the "
                         f"{MAX_ARTICLE_CHARS:,} an article may have")
    return document_from_record({"id": entry.doc_id, "text": text, "title": title, "date": date,
                                 "url": entry.url, "source": entry.source})


def _write(index_dir: IndexDirectory, embedder: Embedder, chunker: Chunker, documents: list,
           sleep: Callable[[float], None], merges: str):
    waited = 0.0
    while True:
        try:
            return update_index(index_dir, embedder, chunker, LoadResult(documents=documents),
                                merges=merges)
        except IndexBusyError:
            if waited >= BUSY_WAIT:
                raise
            sleep(0.5)
            waited += 0.5
