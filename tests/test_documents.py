import json

import pytest

from indexer.write.loading import load_articles
from indexer.dates import parse_date
from tests.conftest import SAMPLE_DIR, write


def test_sample_articles_load_with_their_dates():
    result = load_articles([SAMPLE_DIR])
    assert result.problems == []
    assert [d.doc_id for d in result.documents] == sorted(p.stem for p in SAMPLE_DIR.glob("*.txt"))
    assert [d.date for d in result.documents] == ["2021-06", "2021-06", "2021-04", "2021-12", "2021-12"]
    first = result.documents[0]
    assert first.text.startswith("Biden noemde face-to-face-contact")  # header removed, text kept


@pytest.mark.parametrize("content, date, text", [
    (" date 2021-06 Tekst op dezelfde regel.", "2021-06", "Tekst op dezelfde regel."),
    ("   date 2021-06-17\nTekst op de volgende regel.", "2021-06-17", "Tekst op de volgende regel."),
    ("date 2021 Alleen een jaar.", "2021", "Alleen een jaar."),
    ("Geen datumregel hier.\n\nTweede alinea.", None, "Geen datumregel hier.\n\nTweede alinea."),
    ("\ufeff date 2021-06 Met BOM.", "2021-06", "Met BOM."),
    (" date 2021-06 Windows\r\n\r\nregels.", "2021-06", "Windows\n\nregels."),
    ("dated material, no header", None, "dated material, no header"),
])
def test_txt_header_variants(tmp_path, content, date, text):
    path = write(tmp_path / "a.txt", content)
    [doc] = load_articles([path]).documents
    assert (doc.doc_id, doc.date, doc.text) == ("a", date, text)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n\n ", "is empty"),
    (b" date 2021-06   ", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("regel één\nregel twee caf\xe9".encode("latin-1"), "is not UTF-8"),
    (b" date 2021-13 Dertiende maand.", "not a real calendar date"),
])
def test_bad_txt_files_are_reported_and_good_ones_still_load(tmp_path, content, message):
    bad = write(tmp_path / "in" / "bad.txt", content)
    write(tmp_path / "in" / "good.txt", " date 2021-06 Goed artikel.")
    result = load_articles([tmp_path / "in"])
    assert [d.doc_id for d in result.documents] == ["good"]
    [problem] = result.problems
    assert problem.path == str(bad) and message in problem.message


def test_non_utf8_error_names_the_line(tmp_path):
    path = write(tmp_path / "x.txt", "eerste\ntweede\ncaf\xe9\n".encode("latin-1"))
    [problem] = load_articles([path]).problems
    assert problem.line == 3 and "iconv" in problem.message
    assert str(problem).startswith(f"{path}:3: ")


def test_jsonl_good_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": "a1", "text": "Eerste artikel.", "title": "Titel", "date": "2021-06-16",
                    "url": "https://example.org/a1", "source": "NOS"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"text": "zonder id"}),
        json.dumps({"id": "a2", "text": "   "}),
        json.dumps({"id": "a3", "text": "Datum fout.", "date": "16 juni"}),
        "",
        json.dumps({"id": 42, "text": "Numeriek id."}),
        json.dumps({"id": "a1", "text": "Dubbel id."}),
        json.dumps({"id": "a4", "text": "Titel fout.", "title": 5}),
    ]
    path = write(tmp_path / "articles.jsonl", "\n".join(lines) + "\n")
    result = load_articles([path])
    assert [(d.doc_id, d.title, d.date) for d in result.documents] == [
        ("a1", "Titel", "2021-06-16"), ("42", None, None)]
    assert result.documents[0].url == "https://example.org/a1"
    assert result.documents[0].source == "NOS"
    found = [(p.line, p.message) for p in result.problems]
    assert [line for line, _ in found] == [2, 3, 4, 5, 6, None, 10]
    assert "not valid JSON" in found[0][1]
    assert "JSON object" in found[1][1]
    assert "missing field 'id'" in found[2][1]
    assert "missing field 'text'" in found[3][1]
    assert "'16 juni' is not a date" in found[4][1]
    assert "duplicate article id 'a1'" in found[5][1] and f"{path}:9" in str(result.problems[5])
    assert "'title' must be a string" in found[6][1]


def test_paths_missing_empty_unsupported_and_ignored(tmp_path):
    write(tmp_path / "dir" / "a.txt", "Tekst.")
    write(tmp_path / "dir" / "notes.md", "# not an article")
    write(tmp_path / "dir" / ".hidden" / "b.txt", "Verborgen.")
    (tmp_path / "empty").mkdir()
    pdf = write(tmp_path / "x.pdf", b"%PDF")
    result = load_articles([tmp_path / "dir", tmp_path / "missing", tmp_path / "empty", pdf])
    assert [d.doc_id for d in result.documents] == ["a"]
    assert [str(p) for p in result.problems] == [
        f"{tmp_path / 'missing'}: no such file or directory",
        f"{tmp_path / 'empty'}: folder holds no .txt or .jsonl files",
        f"{pdf}: unsupported file type '.pdf'; articles must be .txt (sample format) or .jsonl "
        "(one article per line)",
    ]
    assert result.ignored == [tmp_path / "dir" / "notes.md"]


def test_folders_are_searched_recursively_in_a_stable_order(tmp_path):
    write(tmp_path / "b" / "z.txt", "Z.")
    write(tmp_path / "a" / "deep" / "y.txt", "Y.")
    write(tmp_path / "a" / "x.jsonl", json.dumps({"id": "x", "text": "X."}))
    assert [d.doc_id for d in load_articles([tmp_path]).documents] == ["y", "x", "z"]


@pytest.mark.parametrize("value", ["2021", "2021-06", "2021-06-17", "2020-02-29"])
def test_parse_date_accepts(value):
    assert parse_date(value) == value


@pytest.mark.parametrize("value", ["21", "2021-6", "2021/06", "2021-00", "2021-02-30", "juni 2021", ""])
def test_parse_date_rejects(value):
    with pytest.raises(ValueError):
        parse_date(value)
