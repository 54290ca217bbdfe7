"""RSS and Atom feeds (feedparser) as articles: one entry, one article with a stable id.

An entry is known by its id (the RSS guid, the Atom id), else by its link; the article id is made
from that key alone, so it stays the same across polls and a changed entry replaces its article:
``host/slug-hash`` (the host of the key or of the feed, the last part of the link's path, and 12
hex digits of the key's SHA-256), readable in search results, at most 174 characters, and unique
per key. The entry's own content is its text when it holds a whole article (``MIN_CONTENT_TEXT``,
``MIN_SUMMARY_TEXT``); otherwise the article is read from the page it links to (see ``indexer.write.extract``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from indexer.errors import InputError
from indexer.write import fetch
from indexer.write.extract import fragment_text, plain_text

FEED_SUFFIXES = (".xml", ".rss", ".atom")
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 500  # per feed and poll; a feed is a window on the newest, not an archive
# Characters of text from which an entry holds the article itself, and its page is not read:
# content (content:encoded, Atom content) is meant to be the article, a description (RSS) or
# summary (Atom) is mostly a teaser, and the whole article only in some feeds.
MIN_CONTENT_TEXT = 200
MIN_SUMMARY_TEXT = 1000
MAX_TITLE_CHARS = 500
_SLUG = re.compile(r"[^a-z0-9]+")
_HOST_CHARS = re.compile(r"[^a-z0-9.-]+")
_MAX_SLUG, _MAX_HOST = 60, 100
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
              "application/rdf+xml", "application/feed+json")


class FeedError(InputError):
    """A feed that could not be read at all; the message names it and says why."""


@dataclass(frozen=True)
class Entry:
    key: str  # what identifies the entry across polls: its id, else its link
    doc_id: str
    label: str  # how messages name it: its title, else its key
    title: str | None
    date: str | None  # YYYY-MM-DD
    url: str | None  # its link, when that is an http(s) URL
    source: str  # the feed's title, else its host
    text: str | None  # the whole article, when the feed holds it; else the page is read
    fingerprint: str  # of everything the feed says about it: a change means read it again


@dataclass
class Feed:
    source: str
    not_modified: bool = False
    entries: list[Entry] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)  # etag, modified: for the next poll
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry, message)


def read_feed(source: str, validators: dict[str, str] | None = None) -> Feed:
    """Read one feed, a URL or a file; ``validators`` (from the last read) ask the server for
    the feed only if it changed (If-None-Match, If-Modified-Since). Raises FeedError."""
    if fetch.is_web_url(source):
        headers = {"Accept": ", ".join(FEED_TYPES) + ", */*;q=0.1"}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        try:
            answer = fetch.get(source, MAX_FEED_BYTES, headers, what="the feed")
        except fetch.FetchError as exc:
            raise FeedError(str(exc)) from None
        if answer.status == 304:
            return Feed(source, not_modified=True, validators=dict(validators or {}))
        if answer.content_type.startswith(("image/", "audio/", "video/")):
            raise FeedError(f"the feed {source} is {answer.content_type}, not an RSS or Atom feed")
        kept = {"etag": answer.headers.get("etag"), "modified": answer.headers.get("last-modified")}
        try:
            feed = _parse(source, answer.body, answer.url, answer.headers.get("content-type"),
                          urlsplit(answer.url).hostname or "")
        except FeedError:  # some servers send feeds as text/html: only a page that is none is one
            if answer.content_type == "text/html":
                raise FeedError(f"the feed {source} is a web page (text/html), not an RSS or Atom "
                                "feed", hint="give the feed's own URL (often linked as 'RSS')"
                                ) from None
            raise
        feed.validators = {k: v for k, v in kept.items() if v}
        return feed
    return _parse(source, _read_file(source), None, None, Path(source).stem)


def _read_file(source: str) -> bytes:
    path = Path(source)
    if "://" in source:
        raise FeedError(f"the feed {source!r} is neither an http(s) URL nor a file; give an "
                        f"http:// or https:// URL, or a feed file ({', '.join(FEED_SUFFIXES)})")
    if not path.is_file():
        raise FeedError(f"the feed {source}: no such file" if not path.exists() else
                        f"the feed {source} is not a file",
                        hint=f"give an http(s) URL or a feed file ({', '.join(FEED_SUFFIXES)})")
    if path.suffix.lower() not in FEED_SUFFIXES:
        raise FeedError(f"the feed file {source} is not {', '.join(FEED_SUFFIXES)}; give an RSS "
                        "or Atom file, or the feed's URL")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FEED_BYTES + 1)
    except OSError as exc:
        raise FeedError(f"the feed file {source} cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"the feed file {source} is more than the {MAX_FEED_BYTES:,} bytes a "
                        "feed may have; it is skipped")
    return data


def _parse(source: str, body: bytes, url: str | None, content_type: str | None,
           host: str) -> Feed:
    import feedparser

    headers = {"content-location": url} if url else {}
    if content_type:
        headers["content-type"] = content_type
    # feedparser warns when a key is read through one of its fallbacks ("updated"): not for users
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = feedparser.parse(io.BytesIO(body), response_headers=headers,
                                      sanitize_html=True, resolve_relative_uris=bool(url))
        except Exception as exc:  # noqa: BLE001 (a parser of hostile input)
            raise FeedError(f"the feed {source} could not be parsed "
                            f"({type(exc).__name__})") from None
        return _feed(source, parsed, host)


def _feed(source: str, parsed, host: str) -> Feed:
    if not parsed.get("version") and not parsed.entries:
        why = parsed.get("bozo_exception")
        detail = f" ({str(why).splitlines()[0][:200]})" if why else ""
        raise FeedError(f"the feed {source} is not an RSS or Atom feed{detail}",
                        hint="check the URL or file: it should hold <rss> or <feed> XML")
    feed = Feed(source)
    host = _host(host) or "feed"
    title = _plain(parsed.feed.get("title"), parsed.feed.get("title_detail"))
    name = (title or host)[:200]
    seen: set[str] = set()
    for position, raw in enumerate(parsed.entries, start=1):
        if position > MAX_ENTRIES:
            feed.problems.append((f"{len(parsed.entries) - MAX_ENTRIES} more entries",
                                  f"only the first {MAX_ENTRIES} entries of a feed are read "
                                  "per poll"))
            break
        entry = _entry(raw, host, name)
        if isinstance(entry, str):
            feed.problems.append((f"#{position}", entry))
        elif entry.key not in seen:  # the same entry twice in one feed: once
            seen.add(entry.key)
            feed.entries.append(entry)
    return feed


def _entry(raw: dict, feed_host: str, source: str) -> Entry | str:
    key = (raw.get("id") or raw.get("link") or "").strip()
    title = _plain(raw.get("title"), raw.get("title_detail"))
    if not key:
        shown = f" ({title[:60]!r})" if title else ""
        return f"the entry{shown} has neither an id (guid) nor a link, so it cannot be followed"
    link = (raw.get("link") or "").strip()
    url = link if fetch.is_web_url(link) else None
    content = max((_content_text(c) for c in raw.get("content") or []), key=len, default="")
    summary = _content_text(raw.get("summary_detail") or {"value": raw.get("summary") or ""})
    text = (content if len(content) >= MIN_CONTENT_TEXT else
            summary if len(summary) >= MIN_SUMMARY_TEXT else None)
    fingerprint = hashlib.sha256(json.dumps(
        [key, title, link, raw.get("published"), raw.get("updated"),
         [c.get("value") for c in raw.get("content") or []], raw.get("summary")],
        ensure_ascii=False, default=str).encode()).hexdigest()
    return Entry(key=key, doc_id=article_id(key, feed_host), label=(title or key)[:80],
                 title=title[:MAX_TITLE_CHARS] if title else None, date=_date(raw), url=url,
                 source=source, text=text,
                 fingerprint=fingerprint)


def article_id(key: str, feed_host: str) -> str:
    """``host/slug-hash``: stable for the entry's key, valid under the loader's id rules."""
    parts = urlsplit(key) if fetch.is_web_url(key) else None
    host = _host(parts.hostname) if parts else ""
    path = parts.path if parts else key
    segments = [s for s in path.split("/") if s]
    last = segments[-1].rsplit(".", 1)[0] if segments else ""
    slug = _SLUG.sub("-", last.lower()).strip("-")[:_MAX_SLUG].strip("-")
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{host or feed_host}/{slug + '-' if slug else ''}{digest}"


def _host(host: str | None) -> str:
    host = _HOST_CHARS.sub("-", (host or "").lower().removeprefix("www."))
    return host[:_MAX_HOST].strip("-.")


def _plain(value: str | None, detail: dict | None) -> str | None:
    if not value:
        return None
    if (detail or {}).get("type") in ("text/html", "application/xhtml+xml") or "<" in value:
        value = fragment_text(value)
    value = " ".join(value.split())
    return value or None


def _content_text(content: dict) -> str:
    value = content.get("value") or ""
    return plain_text(value) if content.get("type") == "text/plain" else fragment_text(value)


def _date(raw: dict) -> str | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(name)
        if value:
            try:
                day = time.strftime("%Y-%m-%d", value)
            except (TypeError, ValueError):
                continue
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) and day >= "1000":
                return day
    return None
