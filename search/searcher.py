"""Search over a published index version: dense, keyword or hybrid, grouped by article."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from indexer.embedders import backend_of, compatible, load_query_embedder
from indexer.embedders.base import Embedder, ModelSpec, resolve_model_for_index
from indexer.errors import IndexFormatError, ModelMismatchError
from indexer.index.directory import IndexDirectory
from indexer.index.keywords.analysis import language_probabilities, most_likely_language
from indexer.index.keywords.bm25 import KeywordHits
from indexer.index.manifest import REBUILD_HINT, STORE, check_same_model
from indexer.index.store import StoredChunk
from indexer.index.stores.base import DateBounds
from indexer.index.version import IndexVersion
from indexer.settings import BACKEND_ENV, Settings
from search.dates import article_period, effective_filter, filter_from_options, store_bounds
from search.dense import DenseCandidate, DenseRetriever
from search.evidence import gather
from search.fusion import reciprocal_rank_fusion, scaled, score_fusion
from search.names import NameMatcher
from search.options import SearchMode, SearchOptions, validate_query
from search.results import Duplicate, Hit, Passage, SearchResult
from search.snippets import best_snippet, highlights
from search.speakers import Subject, asked_speakers, boost, marks

# Why: docs/decisions/0010-duplicate-cosine-0-97.md
DUPLICATE_COSINE = 0.97  # passages this close are the same text (wire copies, repeats)
# Calibrated on answerable and unanswerable questions; why: docs/decisions/0009-confidence-threshold-0-84.md
CONFIDENCE_THRESHOLD = 0.84
_OPEN_ATTEMPTS = 3


# Why: docs/decisions/0022-single-threaded-numpy.md
def single_threaded_numpy() -> None:
    """One thread for numpy's OpenBLAS in a searching process (FAISS keeps its own threads):
    process-wide, so the edges that search call it once (cli.common.open_searcher, the server).

    A search does small products (a filter's subset, fusion); with two threads numpy's idle
    OpenBLAS threads spin on the cores FAISS's OpenMP threads need. Process-wide, as thread
    pools are; the prefix names numpy's own OpenBLAS, not the one FAISS trains and builds with."""
    import threadpoolctl

    threadpoolctl.threadpool_limits({"libscipy_openblas": 1})


class Searcher:
    """Embed the question with the index's own model; retrieve; fuse; group; snippet."""

    def __init__(self, index_dir: IndexDirectory, embedder: Embedder,
                 sentence_weight: float = 0.5) -> None:
        for attempt in range(_OPEN_ATTEMPTS):
            version = index_dir.current_version()
            try:
                self._load(version, embedder, index_dir, sentence_weight)
                break
            except (OSError, RuntimeError, IndexFormatError):
                # A writer may publish, and remove the version we read in CURRENT, while we
                # open it: read CURRENT again. A version that stays broken is reported.
                if attempt == _OPEN_ATTEMPTS - 1 or index_dir.current_version() == version:
                    raise

    def _load(self, path: Path, embedder: Embedder, index_dir: IndexDirectory,
              sentence_weight: float) -> None:
        version = IndexVersion.open(path)
        try:  # a version that cannot be used is closed here, not left to the collector
            check_same_model(version.manifest, embedder.spec, index_dir.root)
            backends = [*version.manifest.document_backends, backend_of(embedder)]
            if not compatible(embedder.spec, backends):
                raise ModelMismatchError(
                    f"the index at {index_dir.root} holds vectors made by "
                    f"{', '.join(version.manifest.document_backends)}, which "
                    f"{backend_of(embedder)} cannot be compared with",
                    hint=f"set {BACKEND_ENV} to the index's backend")
            sentence_chunks = version.store.sentence_chunks()
        except sqlite3.Error as exc:  # the store's tables are there, their pages are not
            version.close()
            raise IndexFormatError(f"the passage store {path / STORE} is damaged ({exc})",
                                   hint=REBUILD_HINT) from exc
        except BaseException:
            version.close()
            raise
        self.index_dir = index_dir
        self.opened = version
        self.manifest = version.manifest
        self.version = version.name
        self.embedder = embedder
        self.store = version.store
        self._periods: dict[str | None, tuple | None] = {}  # stored date -> article_period
        self.dense = DenseRetriever(version.passages, version.sentences, sentence_chunks,
                                    sentence_weight)
        self.keywords = version.keywords
        self.articles = version.articles  # None for a version written before it: passages only
        self.names = None if version.articles is None else NameMatcher(
            version.articles, version.keywords.analyzer, embedder.embed_queries)
        # CPython's sqlite3.Connection is in a reference cycle with its own statement cache, so
        # a connection nobody uses keeps its file open until a full garbage collection, which a
        # server that publishes often may not run for hundreds of versions. The searcher itself
        # is freed as soon as its last user lets go: close the version then, or at close().
        self._closing = weakref.finalize(self, version.close)

    def is_current(self) -> bool:
        """Whether this is still the published version (a cheap read of CURRENT)."""
        return self.index_dir.current_name() == self.version

    def reopened(self) -> Searcher:
        """The published version, with the same model (already loaded)."""
        return Searcher(self.index_dir, self.embedder, self.dense.sentence_weight)

    @classmethod
    def open(cls, index_root: Path, model: str | None = None,
             make_embedder: Callable[[ModelSpec], Embedder] | None = None,
             settings: Settings | None = None, one_question: bool = False) -> Searcher:
        """Open ``index_root`` with ``model``, or with the model the index was built with;
        ``one_question``: this process answers one, so the question embedder that starts
        fastest is chosen over the one that embeds fastest."""
        settings = settings or Settings()
        index_dir = IndexDirectory(index_root)
        manifest = index_dir.manifest()
        spec = resolve_model_for_index(manifest.model, model, settings.models_dir)
        check_same_model(manifest, spec, index_dir.root)  # before the slow part: loading the model
        if make_embedder is None:
            return cls(index_dir, load_query_embedder(spec, settings.query_backend, one_question))
        return cls(index_dir, make_embedder(spec))

    def search(self, query: str, options: SearchOptions | None = None, **overrides) -> SearchResult:
        return self.search_many([query], options, **overrides)[0]

    def search_many(self, queries: Sequence[str], options: SearchOptions | None = None,
                    **overrides) -> list[SearchResult]:
        options = replace(options or SearchOptions(), **overrides)
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        vectors = self.embedder.embed_queries(cleaned)
        return [self._search_one(q, v, options) for q, v in zip(cleaned, vectors)]

    def _search_one(self, query: str, vector: np.ndarray, options: SearchOptions) -> SearchResult:
        probabilities = language_probabilities(query)
        language = most_likely_language(probabilities)
        date_filter = effective_filter(filter_from_options(options.since, options.until),
                                       query if options.dates_from_question else "")
        allowed, filter_info, bounds = None, None, None
        if date_filter is not None:
            allowed = self.store.chunk_ids_for_dates(self._date_test(date_filter))
            # A date in the question may be an event's date, not the article's ("what happened
            # in 1988"): when no article is from that period, search without it, and say so.
            # Dates given as options are the user's explicit choice and always apply.
            applied = date_filter.source == "options" or len(allowed) > 0
            filter_info = date_filter.as_dict() | {"applied": applied}
            if not applied:
                allowed = None
            else:
                bounds = store_bounds(date_filter)
        asked = asked_speakers(query)
        ranked, dense, keyword = self._rank(query, vector, options, probabilities, allowed, bounds)
        if options.mode is SearchMode.HYBRID and asked:  # the legs stay pure, to be compared with
            ranked = self._boosted(query, ranked, asked, options.weights)
        hits = self._hits(ranked, dense, keyword, options, asked)
        confident = bool(hits) and (hits[0].dense_score or 0.0) >= CONFIDENCE_THRESHOLD
        return SearchResult(query, options.mode, hits, confident, filter_info, language)

    def _boosted(self, query: str, ranked, asked, weights) -> list[tuple[int, float]]:
        """``ranked`` with the speaker boost (search/speakers.py), on the question's subject.
        The boost is an RRF leg: after score fusion it is added to the fused order's own RRF
        scores, so it moves a passage as far as it does after rank fusion (decision 0056)."""
        if weights.method != "rrf":
            ranked = [(c, 1.0 / (weights.rrf_k + r + 1)) for r, (c, _) in enumerate(ranked)]
        subject = None
        if weights.speaker_on_subject:
            names = self.names if weights.respell_names else None
            subject = Subject.of(query, self.keywords, names)
        return boost(ranked, self.store, asked, weights.speaker, weights.rrf_k, subject)

    def _date_test(self, date_filter) -> Callable[[str | None], bool]:
        """``date_filter.matches`` with each stored date parsed once per searcher, not per search."""
        periods = self._periods

        def keep(article_date: str | None) -> bool:
            if article_date not in periods:
                periods[article_date] = article_period(article_date)
            return date_filter.matches_period(periods[article_date])
        return keep

    def _rank(self, query: str, vector: np.ndarray, options: SearchOptions,
              probabilities: dict[str, float], allowed: np.ndarray | None,
              bounds: DateBounds | None = None):
        total = len(self.dense.passages)
        if total == 0 or (allowed is not None and len(allowed) == 0):
            return [], {}, KeywordHits(np.empty(0, np.int64), np.empty(0, np.float32), ())
        n = min(total, max(50, 4 * options.k * options.per_article))
        mask = None
        if allowed is not None:  # over stable ids, which may run past the live count
            mask = np.zeros(self.dense.passages.id_space, np.float32)
            mask[allowed] = 1.0
        if options.mode is SearchMode.DENSE:  # only the terms, to highlight them
            candidates = self.dense.search(vector, n, allowed, dates=bounds)
            return ([(c.chunk_id, c.score) for c in candidates], {c.chunk_id: c for c in candidates},
                    KeywordHits(np.empty(0, np.int64), np.empty(0, np.float32),
                                self.keywords.terms(query)))
        evidence = gather(query, n, mask, self.keywords, self.articles, self.names,
                          min(n, max(20, 2 * options.k)), options.weights.respell_names)
        keyword = evidence.keyword_leg(options.weights)
        ids = np.asarray([c for c, _ in keyword], np.int64)
        if options.mode is SearchMode.KEYWORD:
            return keyword, {c.chunk_id: c for c in self.dense.score(vector, ids)}, evidence.passages
        candidates = self.dense.search(vector, n, allowed, also=ids, dates=bounds)
        weight = options.weights.keyword_weight(probabilities, self.manifest.language,
                                                self._covered(query, evidence))
        fused = _fused(candidates, n, ids, evidence, weight, options.weights)
        return fused, {c.chunk_id: c for c in candidates}, evidence.passages

    def _covered(self, query: str, evidence) -> bool:
        """Whether the keyword leg's best article holds every word of the question."""
        wanted = set(self.keywords.analyzer.terms(query))
        if not wanted or not evidence.articles:
            return False
        held = set()
        for row in self.store.get_chunks(evidence.articles[0].tolist()).values():
            held.update(self.keywords.analyzer.terms(row.chunk.text))
        return wanted <= held

    def _hits(self, ranked: list[tuple[int, float]], dense: dict[int, DenseCandidate],
              keyword: KeywordHits, options: SearchOptions, asked=()) -> list[Hit]:
        scores = dict(ranked)
        stored = self.store.get_chunks(list(scores))
        missing = set(scores) - set(stored)
        if missing:
            raise IndexFormatError(f"the index at {self.index_dir.root} is damaged: passages "
                                   f"{sorted(missing)[:5]} are missing from the store",
                                   hint="re-run `vraagbaak index` to rebuild it")
        groups = _group([c for c, _ in ranked], {c: row.chunk.doc_id for c, row in stored.items()},
                        options)
        chunk_ids = [c for group in groups for c in group]
        sentences = self.store.sentences_of(chunk_ids)
        keyword_scores = dict(zip(keyword.ids.tolist(), keyword.scores.tolist()))
        quotes = self.store.quotes_of(stored[c].chunk.doc_id for c in chunk_ids)
        passages = {}
        for chunk_id in chunk_ids:
            chunk = stored[chunk_id].chunk
            passages[chunk_id] = replace(
                self._passage(stored[chunk_id], dense[chunk_id], sentences[chunk_id],
                              keyword.terms, round(scores[chunk_id], 6)),
                quotes=marks(quotes[chunk.doc_id], chunk.start, chunk.end, asked))
        groups = _fold_duplicates(groups, self.dense.passages.vectors(np.asarray(
            [g[0] for g in groups], np.int64)), stored)
        hits = []
        for rank, (group, dupes) in enumerate(groups, start=1):
            best, row = passages[group[0]], stored[group[0]]
            hits.append(Hit(
                rank=rank, score=best.score, doc_id=row.chunk.doc_id, chunk_id=best.chunk_id,
                date=row.date, title=row.title, text=best.text, start=best.start, end=best.end,
                snippet=best.snippet, snippet_start=best.snippet_start,
                snippet_end=best.snippet_end, highlights=best.highlights,
                dense_score=round(dense[group[0]].score, 4),
                keyword_score=_rounded(keyword_scores.get(group[0])),
                passages=[passages[c] for c in group[1:]], quotes=best.quotes,
                duplicates=[Duplicate(stored[c].chunk.doc_id, stored[c].chunk.chunk_id,
                                      stored[c].chunk.start, stored[c].chunk.end, c)
                            for c in dupes],
                passage_id=group[0]))
        return hits

    def _passage(self, row: StoredChunk, candidate: DenseCandidate,
                 sentence_rows: list[tuple[int, int, int]], terms, score: float) -> Passage:
        chunk = row.chunk
        marks = highlights(chunk.text, chunk.start, terms, self.keywords.analyzer)
        spans = [(s, e) for _, s, e in sentence_rows] or [(chunk.start, chunk.end)]
        scores = candidate.sentence_scores if len(candidate.sentence_scores) == len(spans) \
            else np.zeros(len(spans))
        s, e = best_snippet(spans, scores, marks, chunk.text, chunk.start)
        return Passage(chunk_id=chunk.chunk_id, score=score, text=chunk.text, start=chunk.start,
                       end=chunk.end, snippet=chunk.text[s - chunk.start:e - chunk.start],
                       snippet_start=s, snippet_end=e, highlights=marks, passage_id=row.id)

    def close(self) -> None:
        """Release the version's files now; a searcher that is freed closes itself."""
        self._closing()


def _fused(candidates: list[DenseCandidate], depth: int, keyword_ids: np.ndarray, evidence,
           keyword_weight: float, weights) -> list[tuple[int, float]]:
    """The dense candidates (best first) and the keyword leg fused by ``weights.method``. For
    the score methods each leg is scaled by its own list: dense by its best ``depth`` (the
    candidates the keyword leg added are scored exactly, but are not the dense leg's list)."""
    if weights.method == "rrf":
        return reciprocal_rank_fusion([([c.chunk_id for c in candidates], weights.dense),
                                       (keyword_ids.tolist(), keyword_weight)], weights.rrf_k)
    dense = np.asarray([c.score for c in candidates], np.float64)
    scaled_dense = scaled(dense, dense[:depth], weights.method)
    dense_leg = dict(zip((c.chunk_id for c in candidates), scaled_dense.tolist()))
    keyword, missing = evidence.scaled_scores(weights.method, weights.article)
    lowest = float(scaled_dense.min()) if len(scaled_dense) else 0.0
    return score_fusion([(dense_leg, weights.dense, lowest), (keyword, keyword_weight, missing)])


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _group(ranked: list[int], doc_of: dict[int, str], options: SearchOptions) -> list[list[int]]:
    """Chunk ids per entry, best first: one entry per article (its best passages), or per passage."""
    if not options.group:
        return [[c] for c in ranked[:options.k]]
    entries: dict[str, list[int]] = {}
    for chunk_id in ranked:
        doc = doc_of[chunk_id]
        if doc not in entries and len(entries) == options.k:
            continue
        entries.setdefault(doc, [])
        if len(entries[doc]) < options.per_article:
            entries[doc].append(chunk_id)
    return list(entries.values())


def _fold_duplicates(groups: list[list[int]], vectors: np.ndarray,
                     stored: dict[int, StoredChunk]) -> list[tuple[list[int], list[int]]]:
    """Entries whose best passage repeats a better entry's are folded into it as duplicates."""
    kept: list[tuple[list[int], list[int], int]] = []  # (group, duplicates, row in vectors)
    for row, group in enumerate(groups):
        twin = next((k for k in kept if float(vectors[k[2]] @ vectors[row]) >= DUPLICATE_COSINE), None)
        if twin is not None:
            twin[1].append(group[0])
        else:
            kept.append((group, [], row))
    return [(group, dupes) for group, dupes, _ in kept]
