"""What a search may be asked: modes, bounds and options, defined once for the CLI, the API
and MCP."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from indexer.errors import QueryError
from search.fusion import FusionWeights

# Why: docs/decisions/0026-request-limits.md
MAX_QUERY_CHARS = 2000
MAX_K = 100
DEFAULT_K = 5
MAX_PER_ARTICLE = 10


class SearchMode(str, Enum):
    HYBRID = "hybrid"  # meaning and keywords, fused
    DENSE = "dense"  # meaning only
    KEYWORD = "keyword"  # BM25 only

    def __str__(self) -> str:
        return self.value


MODES = tuple(m.value for m in SearchMode)


@dataclass(frozen=True)
class SearchOptions:
    k: int = DEFAULT_K
    mode: SearchMode = SearchMode.HYBRID
    group: bool = True  # one entry per article
    per_article: int = 1  # passages per article entry (the best, then ``passages``)
    since: str | None = None
    until: str | None = None
    dates_from_question: bool = True  # "in juni 2021" in the question filters like --since/--until
    weights: FusionWeights = field(default_factory=FusionWeights)

    def __post_init__(self) -> None:
        validate_k(self.k)
        try:  # a plain string ("dense") from a program becomes the enum
            object.__setattr__(self, "mode", SearchMode(self.mode))
        except ValueError:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}") from None
        if not 1 <= self.per_article <= MAX_PER_ARTICLE:
            raise QueryError(f"per_article must be between 1 and {MAX_PER_ARTICLE}, "
                             f"not {self.per_article}")


def validate_query(query: str) -> str:
    query = " ".join(query.split())
    if not query:
        raise QueryError("the question is empty", hint="ask something, e.g. \"Wat zei Poetin over Navalny?\"")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the question is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    return query


def validate_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")
    return k


