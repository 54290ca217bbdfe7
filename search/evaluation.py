"""Retrieval quality at article level: recall, MRR and nDCG against judged questions.

Pure Python on purpose (no model, no FAISS): the metrics are unit-tested by hand, and the CLI
supplies the search as a plain function from question to ranked article ids.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from indexer.errors import InputError, QueryError

UNKNOWN_LANG = "unknown"


@dataclass(frozen=True)
class EvalQuery:
    id: str
    text: str
    relevant: tuple[str, ...]  # article (doc) ids, in file order, without repeats
    lang: str | None


@dataclass(frozen=True)
class Metrics:
    n: int
    recall_at_1: float
    recall_at_10: float
    mrr_at_10: float
    ndcg_at_10: float
    p50_ms: float
    p95_ms: float

    def as_dict(self) -> dict:
        return {name: value if name == "n" else round(value, 2 if name.endswith("_ms") else 4)
                for name, value in asdict(self).items()}


@dataclass(frozen=True)
class EvalReport:
    overall: Metrics
    by_lang: Mapping[str, Metrics]

    def as_dict(self) -> dict:
        return {"overall": self.overall.as_dict(),
                "by_lang": {lang: m.as_dict() for lang, m in self.by_lang.items()}}


def load_eval_queries(path: Path, check_text: Callable[[str], object] | None = None,
                      ) -> tuple[list[EvalQuery], list[str]]:
    """The good questions in a JSONL file, and a "PATH:LINE: message" for each bad line.

    ``check_text`` (e.g. the searcher's ``validate_query``) may raise QueryError to reject a
    question here, with its line number, rather than abort the whole run at search time.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {path}: it is not UTF-8 (byte {exc.start + 1})",
                         hint="save it as UTF-8") from None
    queries: list[EvalQuery] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            query = _parse_line(line, number, check_text)
        except (InputError, QueryError) as exc:
            problems.append(f"{path}:{number}: {exc}")
            continue
        if query.id in first_line:
            # Two judgements under one id would make per-question results ambiguous.
            problems.append(f"{path}:{number}: duplicate id {query.id!r} (first on line {first_line[query.id]})")
            continue
        first_line[query.id] = number
        queries.append(query)
    return queries, problems


def _parse_line(line: str, number: int, check_text: Callable[[str], object] | None) -> EvalQuery:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise InputError('each line must be an object {"id", "text", "relevant": [...]}')
    query_id = str(record.get("id", number))
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f'question {query_id!r}: "text" is missing or empty')
    relevant = record.get("relevant")
    if (not isinstance(relevant, list) or not relevant
            or not all(isinstance(d, str) and d for d in relevant)):
        raise InputError(f'question {query_id!r}: "relevant" must be a non-empty list of doc ids')
    lang = record.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise InputError(f'question {query_id!r}: "lang" must be a string such as "nl"')
    if check_text is not None:
        try:
            check_text(text)
        except QueryError as exc:
            raise QueryError(f"question {query_id!r}: {exc}") from None
    return EvalQuery(query_id, text, tuple(dict.fromkeys(relevant)), (lang or "").strip() or None)


def first_occurrences(doc_ids: Iterable[str], k: int | None = None) -> list[str]:
    """Each doc id once, at its best rank: the searcher ranks passages, we judge articles."""
    unique = list(dict.fromkeys(doc_ids))
    return unique if k is None else unique[:k]


def recall_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant articles among the first ``k`` distinct articles."""
    _check(relevant, k)
    return len(set(first_occurrences(ranked, k)) & set(relevant)) / len(set(relevant))


def mrr_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 / rank of the first relevant article within the first ``k``, else 0."""
    _check(relevant, k)
    return next((1 / rank for rank, doc in enumerate(first_occurrences(ranked, k), start=1)
                 if doc in relevant), 0.0)


def ndcg_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance nDCG: DCG = sum of 1/log2(rank + 1) over relevant ranks <= k, over the
    DCG of an ideal list that puts min(|relevant|, k) relevant articles first."""
    _check(relevant, k)
    dcg = sum(1 / math.log2(rank + 1)
              for rank, doc in enumerate(first_occurrences(ranked, k), start=1) if doc in relevant)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(set(relevant)), k) + 1))
    return dcg / ideal


def _check(relevant: Collection[str], k: int) -> None:
    # Programming errors, not user input: the loader already rejects questions without judgements.
    if not relevant:
        raise ValueError("a question needs at least one relevant article")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between ranks (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, not {p}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


_Scored = tuple[str, tuple[float, ...], float]  # lang, (R@1, R@10, MRR@10, nDCG@10), ms


def evaluate(queries: Sequence[EvalQuery], ranked_docs: Callable[[str], list[str]],
             clock: Callable[[], float] = time.perf_counter) -> EvalReport:
    """Ask ``ranked_docs`` each question, one at a time, timing each call; metrics per language
    (questions without one under "unknown") and over all questions."""
    return _report(_score(queries, ranked_docs, clock))


def _score(queries: Sequence[EvalQuery], ranked_docs: Callable[[str], list[str]],
           clock: Callable[[], float]) -> list[_Scored]:
    if not queries:
        raise ValueError("no questions to evaluate")
    per_query: list[_Scored] = []
    for query in queries:
        start = clock()
        ranked = ranked_docs(query.text)
        elapsed_ms = (clock() - start) * 1000
        scores = (recall_at(ranked, query.relevant, 1), recall_at(ranked, query.relevant, 10),
                  mrr_at(ranked, query.relevant, 10), ndcg_at(ranked, query.relevant, 10))
        per_query.append((query.lang or UNKNOWN_LANG, scores, elapsed_ms))
    return per_query


def _report(per_query: Sequence[_Scored]) -> EvalReport:
    by_lang = {lang: _aggregate([q for q in per_query if q[0] == lang])
               for lang in sorted({q[0] for q in per_query})}
    return EvalReport(_aggregate(per_query), by_lang)


def _aggregate(per_query: Sequence[_Scored]) -> Metrics:
    n = len(per_query)
    means = [sum(scores[i] for _, scores, _ in per_query) / n for i in range(4)]
    latencies = [ms for _, _, ms in per_query]
    return Metrics(n, *means, percentile(latencies, 50), percentile(latencies, 95))


# --- several question sets -------------------------------------------------------------------

MANIFEST_SUFFIX = ".json"  # a manifest of sets; any other file is one JSONL set


@dataclass(frozen=True)
class EvalSet:
    """One file of judged questions, with what its manifest says about it."""

    name: str
    path: Path
    queries: tuple[EvalQuery, ...]
    language: str | None = None  # as the manifest gives it ("nl", "en", "nl+en"), else None
    level: str | None = None  # "article" (the only level judged) or what the manifest says


@dataclass(frozen=True)
class SetsReport:
    sets: Mapping[str, EvalReport]  # by set name, in the order asked
    overall: Metrics  # all questions of all sets pooled
    mean_of_sets: Metrics  # each set counts once: the mean of the sets' overall metrics

    def as_dict(self, sets: Sequence[EvalSet] = ()) -> dict:
        about = {s.name: s for s in sets}
        return {"sets": [{"name": name,
                          "file": str(about[name].path) if name in about else None,
                          "language": about[name].language if name in about else None,
                          "level": about[name].level if name in about else None,
                          **report.as_dict()} for name, report in self.sets.items()],
                "overall": self.overall.as_dict(),
                "mean_of_sets": self.mean_of_sets.as_dict()}


def load_eval_sets(paths: Sequence[Path], check_text: Callable[[str], object] | None = None,
                   only: Collection[str] = ()) -> tuple[list[EvalSet], list[str]]:
    """The sets named by ``paths`` — each a JSONL file of questions (named after its file) or a
    ``.json`` manifest ``{"sets": [{"name", "file", "language", "level", ...}, ...]}`` whose
    ``file`` is relative to the manifest — and the problems found ("PATH:LINE: message" per bad
    line, a sentence per set without a usable question). ``only`` keeps the sets of those names.

    An unreadable file, a bad manifest, two sets of one name or an unknown name in ``only``
    raise InputError: those are mistakes in the command, not in a line of data."""
    entries: list[tuple[str, Path, str | None, str | None]] = []
    for path in paths:
        if path.suffix == MANIFEST_SUFFIX:
            entries.extend(_manifest_entries(path))
        else:
            entries.append((path.stem, path, None, None))
    seen: dict[str, Path] = {}
    for name, path, _, _ in entries:
        if name in seen:
            raise InputError(f"two question sets are named {name!r} ({seen[name]} and {path})",
                             hint="give each set its own name")
        seen[name] = path
    unknown = [name for name in only if name not in seen]
    if unknown:
        raise InputError(f"no question set is named {', '.join(map(repr, unknown))}",
                         hint=f"the sets are: {', '.join(seen)}")
    sets: list[EvalSet] = []
    problems: list[str] = []
    for name, path, language, level in entries:
        if only and name not in only:
            continue
        queries, bad = load_eval_queries(path, check_text)
        problems.extend(bad)
        if not queries:
            problems.append(f"{path}: set {name!r} holds no usable questions")
            continue
        sets.append(EvalSet(name, path, tuple(queries), language, level))
    return sets, problems


def _manifest_entries(path: Path) -> list[tuple[str, Path, str | None, str | None]]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {path}: it is not UTF-8 (byte {exc.start + 1})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    sets = manifest.get("sets") if isinstance(manifest, dict) else None
    if not isinstance(sets, list) or not sets:
        raise InputError(f'{path} has no "sets" list',
                         hint='a manifest is {"sets": [{"name": ..., "file": ...}, ...]}')
    entries = []
    for number, entry in enumerate(sets, start=1):
        if (not isinstance(entry, dict) or not isinstance(entry.get("name"), str)
                or not entry["name"].strip() or not isinstance(entry.get("file"), str)
                or not entry["file"].strip()):
            raise InputError(f'{path}: set {number} needs a "name" and a "file"')
        optional = [entry.get(key) if isinstance(entry.get(key), str) else None
                    for key in ("language", "level")]
        entries.append((entry["name"].strip(), path.parent / entry["file"], *optional))
    return entries


def evaluate_sets(sets: Sequence[EvalSet], ranked_docs: Callable[[str], list[str]],
                  clock: Callable[[], float] = time.perf_counter) -> SetsReport:
    """``evaluate`` for each set, one question at a time; then all questions pooled, and the
    sets' mean, where a set of 30 questions weighs as much as one of 700."""
    if not sets:
        raise ValueError("no question sets to evaluate")
    scored = {s.name: _score(s.queries, ranked_docs, clock) for s in sets}
    reports = {name: _report(per_query) for name, per_query in scored.items()}
    pooled = [q for per_query in scored.values() for q in per_query]
    overalls = [report.overall for report in reports.values()]
    mean = Metrics(len(overalls), *(sum(getattr(m, field) for m in overalls) / len(overalls)
                                    for field in ("recall_at_1", "recall_at_10", "mrr_at_10",
                                                  "ndcg_at_10", "p50_ms", "p95_ms")))
    return SetsReport(reports, _aggregate(pooled), mean)
