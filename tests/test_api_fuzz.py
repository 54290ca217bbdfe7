"""Property-based fuzzing of the web API against its own OpenAPI schema (schemathesis 4).

Schemathesis takes the app's own OpenAPI schema (what /openapi.json serves) and, for every
operation, sends its coverage cases (boundaries, missing and wrong-typed fields, other methods) and
random requests, valid and invalid, in-process through its ASGI transport. No response may be a server error, and
every response must match what the schema documents: its status code, content type and body.

Two apps, each over its own copy of the sample articles indexed with the fake model:
- a writable one (an API key is set, and sent on every request), fuzzed on every operation, so
  POST/DELETE /documents really write, and later searches run on the versions they publish;
- a read-only one (no key), fuzzed on the write operations, which must refuse without a 5xx.

Run with -s to see how many requests were sent and how many of them were answered with a 5xx.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from indexer.write.chunking import ParagraphChunker
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import load_for_index, update_index
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance, unsupported_method)
from search.searcher import Searcher
from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.conftest import SAMPLE_DIR
from tests.fakes import FakeEmbedder

KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
# Left out: negative_data_rejection, as pydantic reads JSON leniently ("context": 0 as false, 5.0
# as 5), on purpose: the same models parse the query string of GET /search. allow_header_conformance,
# as Starlette's 405 lists the methods of one route only (GET, not POST, for /search).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, unsupported_method]
OPERATIONS = {"GET /search", "POST /search", "POST /search/batch", "GET /documents/{doc_id}",
              "POST /documents", "DELETE /documents/{doc_id}", "GET /stats", "GET /health"}

# Per operation: random cases on top of the schema's examples and coverage cases. Fixed
# (derandomized) so CI sees the same requests every run; no example database either.
FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# What was sent, for the summary (run with -s): requests, 5xx, and each status per operation.
SEEN: dict[str, Counter] = {"writable": Counter(), "read-only": Counter()}
SERVER_ERRORS: list[str] = []

# Articles that exist, for GET and DELETE /documents/{doc_id}: random ids almost never do. The
# sample's ids, then those of articles that POST /documents wrote (see _send).
KNOWN_IDS = sorted(path.stem for path in SAMPLE_DIR.glob("*.txt"))


def _known_id(n: int) -> dict:
    return {"doc_id": KNOWN_IDS[n % len(KNOWN_IDS)]}


def _index(root) -> Searcher:
    """The sample articles indexed with the fake model at ``root``, opened for search."""
    embedder = FakeEmbedder()
    update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                 load_for_index([SAMPLE_DIR]))
    return Searcher(IndexDirectory(root), embedder)


@pytest.fixture(scope="module")
def writable_index(tmp_path_factory) -> Searcher:
    return _index(tmp_path_factory.mktemp("fuzz-writable") / "idx")


@pytest.fixture(scope="module")
def read_only_index(tmp_path_factory) -> Searcher:
    return _index(tmp_path_factory.mktemp("fuzz-read-only") / "idx")


# A new app per test (per operation) over the module's index, because schemathesis ends an app's
# lifespan when the test that started it ends, and the app's MCP session manager runs only once.
# The index carries over: an app opens the newest version, with the writes of earlier tests.
@pytest.fixture
def writable_app(writable_index):
    return create_app(ServerSettings(index_dir=writable_index.index_dir.root, api_key=KEY),
                      writable_index)


@pytest.fixture
def read_only_app(read_only_index):
    return create_app(ServerSettings(index_dir=read_only_index.index_dir.root), read_only_index)


def _send(case, app, app_name: str, checks=CHECKS):
    """Send the case to ``app`` in-process (with the key), count it, and check the response."""
    label = case.operation.label
    SEEN[app_name]["requests"] += 1
    try:
        response = case.call(app=app, headers=AUTH)
    except Exception as exc:  # an exception that escaped the app: a 500 behind a real server
        SEEN[app_name]["5xx"] += 1
        SERVER_ERRORS.append(f"{app_name} {label}: {type(exc).__name__}: {exc}")
        raise
    SEEN[app_name][f"{label} -> {response.status_code}"] += 1
    if app_name == "writable" and label == "POST /documents" and response.status_code == 200:
        KNOWN_IDS.extend(a["id"] for a in (case.body if isinstance(case.body, list) else [case.body]))
    if response.status_code >= 500:
        SEEN[app_name]["5xx"] += 1
        SERVER_ERRORS.append(f"{app_name} {label} -> {response.status_code}: {response.text[:300]}")
    case.validate_response(response, checks=checks, headers=AUTH, transport_kwargs={"app": app})
    return response


# The schema, as the app serves it at /openapi.json; it does not depend on the index, so it loads
# here, at collection, and each operation becomes a test of its own.
SCHEMA = schemathesis.openapi.from_dict(create_app(ServerSettings(api_key=KEY)).openapi(),
                                        config=schemathesis.Config())
WRITES = SCHEMA.include(path_regex="^/documents", method=["POST", "DELETE"])


@SCHEMA.hook
def before_generate_path_parameters(context, strategy):
    """Half the generated ids name an article that exists."""
    return st.one_of(strategy, st.integers(min_value=0).map(_known_id))


@SCHEMA.parametrize()
@FUZZ
def test_no_operation_fails_on_the_writable_server(case, writable_app):
    _send(case, writable_app, "writable")


@WRITES.parametrize()
@FUZZ
def test_writes_are_refused_on_the_read_only_server(case, read_only_app, read_only_index):
    response = _send(case, read_only_app, "read-only")
    if case.method.upper() == case.operation.method.upper():  # not a probe with another method
        # Refused: 403, or 400/413/415/422 when the body is refused before the server gets that far.
        assert response.status_code in (400, 403, 413, 415, 422), response.text
    assert read_only_index.is_current(), "a read-only server published a new version"


def test_summary():
    """Every operation was fuzzed, and no request got a 5xx (the figures print with -s)."""
    total = sum(c["requests"] for c in SEEN.values())
    if not total:
        pytest.skip("run with the fuzz tests above")
    errors = sum(c["5xx"] for c in SEEN.values())
    print(f"\nAPI fuzzing: {total} requests, {errors} answered 5xx")
    for app_name, counts in SEEN.items():
        print(f"  {app_name}: {counts['requests']} requests, {counts['5xx']} 5xx")
        for key in sorted(k for k in counts if "->" in k):
            print(f"    {key}: {counts[key]}")
    for line in SERVER_ERRORS[:20]:
        print("  5xx:", line)
    fuzzed = {key.split(" -> ")[0] for key in SEEN["writable"] if "->" in key}
    assert fuzzed == OPERATIONS, f"not fuzzed: {OPERATIONS - fuzzed}"
    assert errors == 0 and SERVER_ERRORS == []
