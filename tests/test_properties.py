"""Property tests (hypothesis) for the article loaders and the chunker.

The loader's oracle is the documented cleaning, written out here independently: CRLF and CR
become LF, other control characters (Unicode category Cc: C0, DEL, C1) but \\n and \\t become a
space, unpaired surrogates become U+FFFD, then surrounding whitespace is stripped.
"""

import json
import re
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.write.chunking import _SENTENCE_END, ParagraphChunker, sentence_spans
from indexer.records import Document
from indexer.write.loading import Problem, load_articles
from tests.fakes import FakeEmbedder

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Pieces that break loaders: line endings, BOM, control characters, emoji, right-to-left text,
# bidi controls, Unicode line separators, NEL, JSON and SQL metacharacters.
HOSTILE = ["\r\n", "\r", "\n", "\n\n", "\t", "\ufeff", "\x00", "\x01", "\x1b[31m", "\x7f", "\x85",
           "\x9b", "\u2028", "\u2029", "\u00a0", "\u200f", "\u202e", "😀", "👩‍👩‍👧", "שלום עולם",
           "السلام عليكم", "'; DROP TABLE documents; --", '"', "%", "_", "\\", " date 2021-06 ", "{"]
TEXT = st.lists(st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
                          st.sampled_from(HOSTILE)), max_size=12).map("".join)
TEXT_WITH_SURROGATES = st.lists(st.one_of(TEXT, st.characters(categories=["Cs"])), max_size=4).map("".join)


def cleaned(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in value:
        category = unicodedata.category(ch)
        out.append("\ufffd" if category == "Cs" else " " if category == "Cc" and ch not in "\n\t" else ch)
    return "".join(out).strip()


def has_no_control(value: str) -> bool:
    return all(unicodedata.category(c) not in ("Cc", "Cs") or c in "\n\t" for c in value)


def assert_clean_document(doc: Document) -> None:
    assert doc.text and doc.text == doc.text.strip()
    assert has_no_control(doc.text), ascii(doc.text)
    for value in (doc.doc_id, doc.title, doc.url, doc.source):
        assert value is None or (value == value.strip() and value and has_no_control(value)), ascii(value)


# --- loader ------------------------------------------------------------------------------------

@SETTINGS
@given(text=TEXT, bom=st.booleans(), date=st.sampled_from(["2021-06", "2021", "2020-02-29"]),
       crlf=st.booleans())
def test_txt_loader_yields_one_clean_document_or_one_problem(text, bom, date, crlf):
    if crlf:
        text = text.replace("\n", "\r\n")
    content = f" date {date} {text}"
    raw = ("\ufeff" if bom else "").encode() + content.encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "artikel.txt"
        path.write_bytes(raw)
        result = load_articles([path])
    assert len(result.documents) + len(result.problems) == 1
    expected = cleaned(text)
    if b"\x00" in raw[:8192]:
        [problem] = result.problems
        assert "binary" in problem.message and problem.path == str(path)
    elif not expected:
        [problem] = result.problems
        assert "is empty" in problem.message and problem.path == str(path)
    else:
        [doc] = result.documents
        assert_clean_document(doc)
        assert (doc.doc_id, doc.date, doc.text, doc.origin) == ("artikel", date, expected, str(path))


GOOD_IDS = st.one_of(st.sampled_from(["a", "b", " c ", "../../etc/passwd", "'; --", "😀", "שלום"]),
                     st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=30))
BAD_IDS = st.one_of(st.sampled_from(["id\x00", "id\r", "id\t", "\x85", "\u2028", "", "  ", "x" * 201]),
                    TEXT_WITH_SURROGATES.map(lambda s: s[:30]), st.none(), st.booleans())
IDS = st.one_of(GOOD_IDS, GOOD_IDS, st.integers(-5, 5), BAD_IDS)  # about half of them valid
GOOD_DATES = st.sampled_from([None, "", "2021", "2021-06", "2021-06-16", " 2021-06-16 "])
BAD_DATES = st.sampled_from(["2021-13-45", "yesterday", "2021/06/01", "\u0662\u0660\u0662\u0661",
                             "2021-6", 2021])
DATES = st.one_of(GOOD_DATES, GOOD_DATES, BAD_DATES)
FIELD = st.one_of(st.none(), TEXT, st.none(), TEXT, TEXT_WITH_SURROGATES, st.integers(0, 3))
ARTICLE = st.one_of(TEXT.map(lambda s: s + " Tekst."), TEXT.map(lambda s: s + " Tekst."),
                    TEXT_WITH_SURROGATES, st.none(), st.just(7))
RECORDS = st.fixed_dictionaries({"id": IDS, "text": ARTICLE, "title": FIELD, "url": FIELD,
                                 "source": FIELD, "date": DATES})
LINES = st.lists(st.one_of(RECORDS, st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n"),
                                            max_size=15)), min_size=1, max_size=8)


def expected_document(record: dict, seen: set[str]) -> Document | None:
    """What the loader must make of a record: the documented rules, written out."""
    doc_id = str(record["id"]) if type(record["id"]) is int else record["id"]
    if not isinstance(doc_id, str) or not doc_id.strip() or len(doc_id) > 200:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in doc_id):
        return None
    if not isinstance(record["text"], str) or not cleaned(record["text"]):
        return None
    fields = {}
    for key in ("title", "url", "source", "date"):
        value = record[key]
        if value is not None and not isinstance(value, str):
            return None
        fields[key] = cleaned(value) or None if value is not None else None
    if fields["date"] is not None and not re.fullmatch(r"2021(-06(-16)?)?", fields["date"]):
        return None  # of the generated dates, only these are real dates in ASCII digits
    if doc_id.strip() in seen:
        return None
    seen.add(doc_id.strip())
    return Document(doc_id.strip(), cleaned(record["text"]), fields["title"], fields["date"],
                    fields["url"], fields["source"])


@SETTINGS
@given(lines=LINES, ascii_only=st.booleans(), bom=st.booleans(), crlf=st.booleans())
def test_jsonl_loader_yields_a_document_or_a_problem_per_line(lines, ascii_only, bom, crlf):
    encoded = []
    for line in lines:
        text = json.dumps(line, ensure_ascii=ascii_only) if isinstance(line, dict) else line
        encoded.append(text.encode("utf-8", "surrogatepass"))  # a raw surrogate: invalid UTF-8
    raw = (b"\xef\xbb\xbf" if bom else b"") + (b"\r\n" if crlf else b"\n").join(encoded)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "articles.jsonl"
        path.write_bytes(raw)
        result = load_articles([path])
    if b"\x00" in raw and not result.documents:  # NUL lines and no article: one problem
        [problem] = result.problems
        assert "binary" in problem.message
        return
    numbered = [(n, line) for n, (line, b) in enumerate(zip(lines, encoded), start=1) if b.strip()]
    if not numbered:
        assert [str(p) for p in result.problems] == [f"{path}: is empty (no articles)"]
        return
    found = {int(d.origin.rsplit(":", 1)[1]): d for d in result.documents}
    # A duplicate id is reported as Problem("path:line", message) with line None (the loader's
    # established form, see test_documents.py); the others as Problem(path, message, line).
    problems = {p.line if p.line is not None else int(p.path.rsplit(":", 1)[1]): p
                for p in result.problems}
    assert len(found) == len(result.documents) and len(problems) == len(result.problems)
    assert not set(found) & set(problems), "a line is either a document or a problem"
    assert set(found) | set(problems) == {n for n, _ in numbered}, "every non-blank line is one"
    seen: set[str] = set()
    for number, line in numbered:
        if number in found:
            doc = found[number]
            assert_clean_document(doc)
            assert doc.origin == f"{path}:{number}"
        else:
            problem = problems[number]
            assert problem.message and str(problem).startswith(f"{path}:{number}: ")
            assert problem.path == str(path) or "duplicate article id" in problem.message
        valid_utf8 = ascii_only or not re.search("[\ud800-\udfff]", json.dumps(line, ensure_ascii=False))
        if not isinstance(line, dict) or not valid_utf8:
            continue  # garbage: a problem, or by chance a valid record; either is checked above
        # What the line's JSON means: escaped surrogates that pair up (\ud800\udc00) are one
        # character to any JSON reader, so the record is the one read back, not the one written.
        expected = expected_document(json.loads(json.dumps(line, ensure_ascii=ascii_only)), seen)
        if expected is None:
            assert number in problems, (line, found.get(number))
        else:
            doc = found.get(number)
            assert doc is not None, (line, problems.get(number))
            assert (doc.doc_id, doc.text, doc.title, doc.date, doc.url, doc.source) == (
                expected.doc_id, expected.text, expected.title, expected.date, expected.url,
                expected.source)


# --- chunker -----------------------------------------------------------------------------------

BUDGETS = st.sampled_from([16, 20, 32, 64, 128])
SENTENCES = ["Poetin ontmoette Biden in Genève.", "De top duurde drie uur.", "Navalny zit nog vast!",
             "Wat zei hij over cyberaanvallen?", "Eerste ontmoeting", "(Zie ook de top.)",
             "„Absurd”, zei hij.", "o.a. de VS en 3.5 miljoen", "1. Inleiding",
             " ".join(f"woord{i}" for i in range(40)) + ".", "x" * 300, "!" * 40 + ".",
             "שלום עולם.", "السلام عليكم."]
SENTENCE = st.one_of(st.sampled_from(SENTENCES), TEXT.filter(lambda s: "\n" not in s).map(lambda s: s[:60]))
PARAGRAPH = st.lists(SENTENCE, min_size=1, max_size=6).flatmap(
    lambda parts: st.lists(st.sampled_from([" ", "  ", "\n", " \t"]), min_size=len(parts),
                           max_size=len(parts)).map(
        lambda seps: "".join(p + s for p, s in zip(parts, seps)).rstrip()))
STRUCTURED = st.lists(PARAGRAPH, min_size=1, max_size=12).flatmap(
    lambda paragraphs: st.lists(st.sampled_from(["\n\n", "\n \n", "\n\t\n\n", "\n\n\n  "]),
                                min_size=len(paragraphs), max_size=len(paragraphs)).map(
        lambda seps: "".join(p + s for p, s in zip(paragraphs, seps))))
ANY_TEXT = st.lists(st.one_of(TEXT, st.sampled_from(["\n\n", "\n \n", ". ", "! X", "\n"] + SENTENCES)),
                    max_size=25).map("".join)


def paragraphs_of(text: str) -> list[tuple[int, int]]:
    """Blank-line-separated pieces of text, whitespace trimmed, as (start, end)."""
    spans, cursor = [], 0
    for match in re.finditer(r"\n[ \t]*\n", text):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, len(text)))
    out = []
    for s, e in spans:
        piece = text[s:e]
        if piece.strip():
            out.append((s + len(piece) - len(piece.lstrip()), e - len(piece) + len(piece.rstrip())))
    return out


def repeats(text: str, paragraphs: list[tuple[int, int]]) -> list[bool]:
    """The chunker's repeat rule: a paragraph all of whose sentences (whitespace runs made one
    space) already appeared in earlier kept paragraphs of the article is dropped."""
    seen: set[str] = set()
    flags = []
    for s, e in paragraphs:
        sentences = {" ".join(p.split()) for p in _SENTENCE_END.split(text[s:e]) if p.strip()}
        flags.append(sentences <= seen)
        seen |= sentences
    return flags


def check_chunks(text: str, budget: int) -> None:
    embedder = FakeEmbedder()
    doc = Document("d", text)
    chunks = ParagraphChunker(embedder, budget).split(doc)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.doc_id == "d" and doc.text[c.start:c.end] == c.text
        assert c.text.strip() and c.text == c.text.strip(), repr(c.text)
        assert c.n_tokens == embedder.count_tokens([c.text])[0]
        assert c.n_tokens <= budget or len(c.text.split()) == 1, "only one long word may exceed it"
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:])), "in order, no overlap"
    covered = bytearray(len(text))
    for c in chunks:
        covered[c.start:c.end] = b"\x01" * (c.end - c.start)
    paragraphs = paragraphs_of(text)
    for (s, e), repeat in zip(paragraphs, repeats(text, paragraphs)):
        marks = [covered[i] for i in range(s, e) if not text[i].isspace()]
        if repeat:
            assert not any(marks), f"repeat {text[s:e]!r} was indexed"
        else:
            assert all(marks), f"paragraph {text[s:e]!r} is not covered"
    for c in chunks:
        for min_words in (1, 4):
            spans = sentence_spans(text, c.start, c.end, min_words)
            assert spans and all(c.start <= s < e <= c.end for s, e in spans)
            assert all(text[s:e].strip() and text[s:e] == text[s:e].strip() for s, e in spans)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
            inside = set().union(*(range(s, e) for s, e in spans))
            assert all(i in inside for i in range(c.start, c.end) if not text[i].isspace())


@SETTINGS
@given(text=STRUCTURED, budget=BUDGETS)
def test_chunker_properties_on_paragraphs_that_repeat(text, budget):
    check_chunks(text, budget)


@SETTINGS
@given(text=ANY_TEXT, budget=BUDGETS)
def test_chunker_properties_on_any_text(text, budget):
    check_chunks(text, budget)


@SETTINGS
@given(text=TEXT, budget=BUDGETS)
def test_loaded_documents_chunk_cleanly(text, budget):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jsonl"
        path.write_text(json.dumps({"id": "a", "text": text}) + "\n", encoding="utf-8")
        result = load_articles([path])
    for doc in result.documents:
        check_chunks(doc.text, budget)
        assert isinstance(result.problems, list)
    assert all(isinstance(p, Problem) for p in result.problems)


def test_a_nul_line_beside_an_article_is_that_line_s_problem_not_a_binary_file(tmp_path):
    # Found by the property test above: a file that holds an article is text, so its NUL line is
    # one line's problem and the article is kept (only a file of no article is "binary").
    path = tmp_path / "articles.jsonl"
    path.write_bytes(b'0\n\x00\n' + json.dumps({"id": "x", "text": "hallo wereld"}).encode())
    result = load_articles([path])
    assert [d.doc_id for d in result.documents] == ["x"]
    assert [(p.line, "NUL" in p.message) for p in result.problems] == [(1, False), (2, True)]
