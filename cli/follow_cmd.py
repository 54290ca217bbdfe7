"""`vraagbaak follow`: poll RSS/Atom feeds and index their new and changed articles."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from cli.common import (DEFAULT_INDEX, EXIT_ERROR, EXIT_PARTIAL, IndexOption,
                        ModelOption, error, handle_errors, print_json, settings)

DEFAULT_EVERY = 300.0
_sleep = time.sleep  # between polls (tests replace it)


def follow(
    feeds: Annotated[list[str], typer.Argument(
        metavar="URL_OR_FILE",
        help="RSS or Atom feeds: http(s) URLs, or feed files (.xml, .rss, .atom).",
        show_default=False)],
    index_dir: IndexOption = DEFAULT_INDEX,
    every: Annotated[float | None, typer.Option(
        "--every", min=1.0, help=f"Seconds between polls (default {DEFAULT_EVERY:.0f}); runs "
                                 "until interrupted (Ctrl-C).", show_default=False)] = None,
    once: Annotated[bool, typer.Option("--once", help="Poll once, then exit.")] = False,
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object per poll, for programs.")] = False,
) -> None:
    """Follow RSS/Atom feeds: index their new and changed articles as they appear.

    Each poll reads every feed (conditionally: an unchanged feed answers 304), takes the article
    from the entry when it holds the whole text and from its web page otherwise, and publishes
    one new version when anything is new or changed; a running `vraagbaak serve` answers from it
    without a restart. Entries already indexed unchanged are not fetched again. Feeds and entries
    that fail are reported and tried again at the next poll. With --once: exit code 3 if some
    failed, 1 if no feed could be read.
    """
    from indexer import embedders
    from indexer.embedders.base import LazyEmbedder, resolve_model_for_index
    from indexer.errors import IndexBusyError, IndexWriteError
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import DEFAULT_MAX_TOKENS, ParagraphChunker
    from indexer.write.follow import FollowState, poll

    if once and every is not None:
        error("give --once (one poll) or --every SECONDS (poll until interrupted), not both")
        raise typer.Exit(2)
    with handle_errors():
        target = IndexDirectory(index_dir)
        manifest = target.manifest_if_any()
        spec = resolve_model_for_index(manifest.model if manifest else None, model,
                                       settings().models_dir)

        def load(spec):
            if not as_json:
                typer.echo("loading the model…", err=True)
            return embedders.load_embedder(spec, embedders.document_backend_for(spec))

        embedder = LazyEmbedder(spec, load)  # loaded at the first poll that finds something
        # The index's own passage budget: another one would re-split every article it holds.
        chunker = ParagraphChunker(embedder, manifest.chunker.get("max_tokens", DEFAULT_MAX_TOKENS)
                                   if manifest else DEFAULT_MAX_TOKENS)
        state = FollowState.load(target)
        if state.warning:
            typer.echo(f"warning: {state.warning}", err=True)
    while True:
        with handle_errors():  # Ctrl-C in a poll: exit 130; its version was not published
            try:
                report = poll(target, feeds, embedder, chunker, state,
                              merges=settings().merges)
            except (IndexBusyError, IndexWriteError) as exc:  # another writer, a full disk
                if once:
                    raise
                error(f"{exc}; this poll is given up, the next one tries again", exc.hint)
                report = None
        if report is not None:
            _show(report, as_json)
        if once:
            raise typer.Exit(EXIT_ERROR if report.nothing_read
                             else EXIT_PARTIAL if report.problems else 0)
        try:
            _sleep(DEFAULT_EVERY if every is None else every)
        except KeyboardInterrupt:
            if not as_json:
                typer.echo("stopped", err=True)
            raise typer.Exit(0) from None


def _show(report, as_json: bool) -> None:
    if as_json:
        print_json({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "feeds": report.feeds,
            "read": report.read, "not_modified": report.not_modified,
            "failed_feeds": report.failed_feeds, "new": report.new, "updated": report.updated,
            "unchanged": report.unchanged, "failed": report.failed,
            "published": report.published, "version": report.version,
            "articles": report.articles, "seconds": round(report.seconds, 2),
            "problems": [{"feed": p.feed, "entry": p.entry, "message": p.message}
                         for p in report.problems]})
        return
    feeds = (f"{report.read} of {report.feeds} feeds read, {report.not_modified} not modified, "
             f"{report.failed_feeds} failed")
    entries = (f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.failed} failed")
    if report.published:
        outcome = f"published version {report.version}"
    else:
        outcome = "no new version"
    held = f"; the index holds {report.articles} articles" if report.articles is not None else ""
    typer.echo(f"{time.strftime('%H:%M:%S')} poll: {feeds}; entries: {entries}; {outcome}{held} "
               f"({report.seconds:.1f} s)")
    for problem in report.problems:
        typer.echo(f"  {problem}", err=True)
