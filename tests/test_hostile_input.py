"""Hostile and broken input: each case gets a specific message (file, and line for JSONL) or is
handled; the rest of the run proceeds; nothing already indexed is lost; never a traceback."""

import json
import os
import time

import pytest

from indexer.write.chunking import ParagraphChunker, sentence_spans
from indexer.write.loading import document_from_record, load_articles
from indexer.index.version import IndexVersion
from indexer.index.directory import IndexDirectory
from search.options import MAX_QUERY_CHARS
from tests.conftest import SAMPLE_DIR, write
from tests.fakes import FakeEmbedder

GOOD = " date 2021-06 Het Rijksmuseum in Amsterdam opent een tentoonstelling over Rembrandt."
SQL = "'; DROP TABLE documents; -- \" % _ \\"

DUTCH = ["De gemeenteraad van Utrecht besprak op dag {i} het nieuwe plan voor fietsers.",
         "Volgens de wethouder kost het project {i} euro meer dan eerst gedacht.",
         "Bewoners van de wijk reageerden verdeeld op voorstel nummer {i}.",
         "Het kabinet wil binnen {i} dagen een besluit nemen over de financiering.",
         "Oppositiepartijen noemen het plan onverantwoord en vragen om uitstel."]


def big_text(n_chars: int) -> str:
    """Paragraphs of five Dutch sentences; numbered, so the chunker keeps them (no repeats)."""
    parts, size, i = [], 0, 0
    while size < n_chars:
        paragraph = " ".join(s.format(i=i * 5 + k) for k, s in enumerate(DUTCH))
        parts.append(paragraph)
        size += len(paragraph) + 2
        i += 1
    return "\n\n".join(parts)


def jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def assert_clean(result, code: int) -> None:
    """The exit code, and no exception escaped (CliRunner swallows tracebacks, so check both)."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def index(run, fake_model, idx, *paths, code=0):
    result = run("index", *paths, "--index", idx, "--model", fake_model)
    assert_clean(result, code)
    return result


def search(run, idx, question, *extra):
    result = run("search", question, "--index", idx, "--json", "--no-group", "-k", "20", *extra)
    assert_clean(result, 0)
    return json.loads(result.stdout)["results"]


def doc_ids(run, idx, question, *extra) -> list[str]:
    return [hit["doc_id"] for hit in search(run, idx, question, *extra)]


def stored_document(idx, doc_id):
    with IndexVersion.open(IndexDirectory(idx).current_version(), vectors=False,
                           keywords=False) as version:
        return version.store.get_document(doc_id)


def articles_in(run, idx) -> int:
    result = run("info", "--index", idx, "--json")
    assert_clean(result, 0)
    return json.loads(result.stdout)["articles"]


def files_under(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


# --- binary, encodings, line endings --------------------------------------------------------

def test_binary_files_are_rejected_by_name_and_the_good_ones_are_indexed(run, fake_model, tmp_path):
    write(tmp_path / "in" / "good.txt", GOOD)
    png = write(tmp_path / "in" / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    gz = write(tmp_path / "in" / "dump.jsonl", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 40)
    noise = write(tmp_path / "in" / "noise.txt", bytes(range(128, 256)) * 10)  # no NUL byte
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert f"{png}: looks like a binary file" in result.stderr
    assert f"{gz}: looks like a binary file" in result.stderr
    assert f"{noise}:1: is not UTF-8 (byte 0x80" in result.stderr
    assert doc_ids(run, tmp_path / "idx", "Rembrandt Rijksmuseum") == ["good"]


def test_invalid_utf8_names_the_file_and_the_line(run, fake_model, tmp_path):
    lines = jsonl({"id": "a", "text": "Eerste artikel over Rotterdam."},
                  {"id": "b", "text": "Tweede artikel over Groningen."}).encode()
    bad = write(tmp_path / "in" / "mixed.jsonl",
                lines + '{"id": "c", "text": "caf\xe9 in Delft"}\n'.encode("latin-1")
                + b'{"id": "d", "text": "Vierde artikel over Delft."}\n')
    txt = write(tmp_path / "in" / "latin.txt", "regel een\nregel twee\nna\xefef\n".encode("latin-1"))
    loaded = load_articles([tmp_path / "in"])
    assert [d.doc_id for d in loaded.documents] == ["a", "b", "d"]
    assert [str(p) for p in loaded.problems] == [
        f"{txt}:3: is not UTF-8 (byte 0xef cannot be decoded); convert it first, e.g. "
        "`iconv -f latin1 -t utf-8`",
        f"{bad}:3: is not UTF-8 (byte 0xe9 cannot be decoded); convert it first, e.g. "
        "`iconv -f latin1 -t utf-8`"]
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert f"{bad}:3: is not UTF-8" in result.stderr and f"{txt}:3: is not UTF-8" in result.stderr
    assert articles_in(run, tmp_path / "idx") == 3
    assert "d" in doc_ids(run, tmp_path / "idx", "Delft")


def test_utf8_bom_is_not_part_of_the_id_or_the_text(run, fake_model, tmp_path):
    write(tmp_path / "in" / "bom.jsonl",
          "\ufeff" + jsonl({"id": "bom1", "text": "Artikel met BOM over Maastricht."},
                           {"id": "bom2", "text": "Nog een over Maastricht."}))
    write(tmp_path / "in" / "bom.txt", "\ufeff date 2021-06 Tekst met BOM over Zwolle.")
    write(tmp_path / "in" / "only-bom.txt", "\ufeff")
    loaded = load_articles([tmp_path / "in"])
    assert [(d.doc_id, d.text[:7], d.date) for d in loaded.documents] == [
        ("bom1", "Artikel", None), ("bom2", "Nog een", None), ("bom", "Tekst m", "2021-06")]
    [problem] = loaded.problems
    assert str(problem) == f"{tmp_path / 'in' / 'only-bom.txt'}: is empty (no article text)"
    index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert set(doc_ids(run, tmp_path / "idx", "Maastricht")[:2]) == {"bom1", "bom2"}


def test_crlf_line_endings_offsets_point_at_the_text(run, fake_model, tmp_path):
    paragraphs = [f"Alinea {i} over de haven van Rotterdam. Schepen wachten dag {i}." for i in range(30)]
    write(tmp_path / "in" / "windows.txt", (" date 2021-06\r\n" + "\r\n\r\n".join(paragraphs)).encode())
    write(tmp_path / "in" / "windows.jsonl",
          jsonl({"id": "j", "text": "Eerste regel.\r\n\r\nTweede alinea over Rotterdam.\rDerde."})
          .replace("\n", "\r\n").encode())
    loaded = load_articles([tmp_path / "in"])
    assert loaded.problems == []
    assert all("\r" not in d.text for d in loaded.documents)
    assert loaded.documents[0].text == "Eerste regel.\n\nTweede alinea over Rotterdam.\nDerde."
    index(run, fake_model, tmp_path / "idx", tmp_path / "in", "--max-tokens", "32")
    hits = search(run, tmp_path / "idx", "haven Rotterdam schepen")
    assert {h["doc_id"] for h in hits} == {"windows", "j"}
    for hit in hits:
        text = stored_document(tmp_path / "idx", hit["doc_id"]).text
        assert text[hit["start"]:hit["end"]] == hit["text"]
        assert text[hit["snippet_start"]:hit["snippet_end"]] == hit["snippet"]


# --- control characters, surrogates, right-to-left -------------------------------------------

def test_control_characters_in_text_become_spaces_and_in_ids_are_rejected(tmp_path):
    path = write(tmp_path / "ctl.jsonl", jsonl(
        {"id": "t1", "text": "Kleur\x1b[31m rood\x07 en\x00 nul\x85 en C1\x9b.", "title": "Kop\x0c"},
        {"id": "nul\x00id", "text": "Tekst."},
        {"id": "esc\x1bid", "text": "Tekst."},
        {"id": "cr\rid", "text": "Tekst."},
        {"id": "tab\tid", "text": "Tekst."},
        {"id": "c1\x9bid", "text": "Tekst."},
        {"id": "only-control", "text": "\x00\x01\x02\x7f"},
    ))
    loaded = load_articles([path])
    [doc] = loaded.documents
    assert doc.text == "Kleur [31m rood  en  nul  en C1 ." and doc.title == "Kop"
    assert [(p.line, p.message) for p in loaded.problems[:5]] == [
        (n, f"id {i!r} must be at most 200 characters without control characters")
        for n, i in zip(range(2, 7), ["nul\x00id", "esc\x1bid", "cr\rid", "tab\tid", "c1\x9bid"])]
    assert loaded.problems[5].line == 7 and "missing field 'text'" in loaded.problems[5].message


def test_control_characters_in_a_file_name_are_rejected_through_the_cli(run, fake_model, tmp_path):
    write(tmp_path / "in" / "good.txt", GOOD)
    bad = write(tmp_path / "in" / "ctl\x01name.txt", "Tekst over Leiden.")
    write(tmp_path / "in" / "text.txt", "Tekst\x01 met\x1b stuurtekens\x08 over Leiden.")
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert f"{bad}: the file name holds control characters" in result.stderr
    hits = {h["doc_id"]: h for h in search(run, tmp_path / "idx", "stuurtekens Leiden")}
    assert hits["text"]["text"] == "Tekst  met  stuurtekens  over Leiden."
    assert articles_in(run, tmp_path / "idx") == 2


def test_lone_surrogates_and_bad_file_names_do_not_stop_the_run(run, fake_model, tmp_path):
    # A JSON "\udc80" escape decodes to a lone surrogate, which SQLite cannot store; a file name in
    # Latin-1 shows up as one too. Both used to crash the whole run.
    write(tmp_path / "in" / "good.txt", GOOD)
    write(tmp_path / "in" / "surrogates.jsonl", jsonl(
        '{"id": "s1", "text": "Half \\ud83d teken over Arnhem.", "title": "Kop \\udc80"}',
        '{"id": "\\udc80", "text": "Tekst."}',
        '{"id": "pair", "text": "Echt \\ud83d\\ude00 emoji over Arnhem."}'))
    os.makedirs(os.fsencode(tmp_path / "in" / "latin"))
    with open(os.fsencode(tmp_path / "in" / "latin") + b"/caf\xe9.txt", "wb") as fh:
        fh.write("Tekst over Arnhem.".encode())
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert f"{tmp_path / 'in' / 'surrogates.jsonl'}:2: id '\\udc80' must be" in result.stderr
    assert f"{tmp_path / 'in' / 'latin' / 'caf'}\ufffd.txt: the file name is not valid UTF-8" in result.stderr
    hits = {h["doc_id"]: h for h in search(run, tmp_path / "idx", "Arnhem")}
    assert hits["s1"]["text"] == "Half \ufffd teken over Arnhem." and hits["s1"]["title"] == "Kop \ufffd"
    assert hits["pair"]["text"] == "Echt \U0001F600 emoji over Arnhem."
    assert articles_in(run, tmp_path / "idx") == 3
    with pytest.raises(ValueError, match="without control characters"):
        document_from_record({"id": "\ud800", "text": "Via de web-API."})


def test_right_to_left_and_mixed_direction_text_is_indexed_and_searchable(run, fake_model, tmp_path):
    arabic = "السلام عليكم ورحمة الله. اجتمع وزراء الخارجية في القاهرة لمناقشة الهدنة."
    hebrew = "שלום עולם. הכנסת אישרה את התקציב החדש בירושלים."
    mixed = ("Premier \u202bנתניהו\u202c zei in Jeruzalem: \u200fשלום\u200f. Daarna sprak hij in "
             "Caïro met \u2067الرئيس\u2069 over de wapenstilstand.")
    write(tmp_path / "in" / "rtl.jsonl", jsonl(
        {"id": "ar", "text": arabic, "title": "القاهرة"},
        {"id": "he", "text": hebrew, "title": "ירושלים"},
        {"id": "mix", "text": mixed, "title": "Jeruzalem \u200fשלום\u200f"}))
    index(run, fake_model, tmp_path / "idx", tmp_path / "in")
    assert doc_ids(run, tmp_path / "idx", "القاهرة الهدنة")[0] == "ar"
    assert doc_ids(run, tmp_path / "idx", "הכנסת התקציב")[0] == "he"
    assert doc_ids(run, tmp_path / "idx", "נתניהו wapenstilstand")[0] == "mix"
    hits = {h["doc_id"]: h for h in search(run, tmp_path / "idx", "שלום الرئيس القاهرة")}
    assert hits["mix"]["text"] == mixed and hits["mix"]["title"] == "Jeruzalem \u200fשלום\u200f"
    assert hits["ar"]["text"] == arabic and hits["ar"]["title"] == "القاهرة"
    result = run("search", "נתניהו", "--index", tmp_path / "idx")  # the readable output too
    assert_clean(result, 0)
    assert "mix" in result.stdout


# --- SQL metacharacters, path traversal ------------------------------------------------------

def test_sql_metacharacters_in_every_field_are_stored_and_returned_verbatim(run, fake_model, tmp_path):
    record = {"id": f"id {SQL}", "title": f"titel {SQL}", "text": f"Tekst over Nijmegen {SQL}",
              "url": f"https://example.org/?q={SQL}", "source": f"bron {SQL}"}
    path = write(tmp_path / "in" / "sql.jsonl", jsonl(
        record | {"date": "2021-06-16"},
        record | {"id": "bad date", "date": SQL},
        {"id": "'", "text": "%", "title": "_", "url": "\\", "source": '"'}))
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert f"{path}:2: article 'bad date': field 'date': {SQL!r} is not a date" in result.stderr
    hits = {h["doc_id"]: h for h in search(run, tmp_path / "idx", f"Nijmegen {SQL}")}
    assert set(hits) == {f"id {SQL}", "'"}
    hit = hits[f"id {SQL}"]
    assert (hit["title"], hit["text"], hit["date"]) == (record["title"], record["text"], "2021-06-16")
    doc = stored_document(tmp_path / "idx", f"id {SQL}")
    assert (doc.url, doc.source, doc.title, doc.text) == (
        record["url"], record["source"], record["title"], record["text"])
    tiny = stored_document(tmp_path / "idx", "'")
    assert (tiny.text, tiny.title, tiny.url, tiny.source) == ("%", "_", "\\", '"')
    for mode in ("keyword", "dense", "hybrid"):  # the question may hold them too
        found = doc_ids(run, tmp_path / "idx", f"Nijmegen {SQL}", "--mode", mode)
        assert f"id {SQL}" in found, mode
    assert articles_in(run, tmp_path / "idx") == 2
    index(run, fake_model, tmp_path / "idx", SAMPLE_DIR)  # the index still takes more
    assert articles_in(run, tmp_path / "idx") == 7


@pytest.mark.parametrize("doc_id", ["../../etc/passwd", "/etc/passwd", "..\\..\\x", "../../../../tmp/x",
                                    "./.", "CURRENT", "versions/../CURRENT"])
def test_path_traversal_in_ids_is_an_opaque_id(run, fake_model, tmp_path, doc_id):
    (tmp_path / "outside").mkdir()
    before = files_under(tmp_path / "outside")
    passwd = os.stat("/etc/passwd").st_mtime_ns if os.path.exists("/etc/passwd") else None
    idx = tmp_path / "outside" / "deep" / "idx"
    write(tmp_path / "in" / "ids.jsonl", jsonl({"id": doc_id, "text": "Artikel over Eindhoven."}))
    index(run, fake_model, idx, tmp_path / "in")
    assert doc_ids(run, idx, "Eindhoven") == [doc_id]
    assert stored_document(idx, doc_id).text == "Artikel over Eindhoven."
    written = files_under(tmp_path / "outside") - before
    assert all(path.startswith(os.path.join("deep", "idx") + os.sep) for path in written), written
    assert files_under(tmp_path / "in") == {"ids.jsonl"}
    if passwd is not None:
        assert os.stat("/etc/passwd").st_mtime_ns == passwd


# --- dates, duplicates, deep JSON, odd files --------------------------------------------------

def test_bad_dates_reject_their_line_with_file_and_line(run, fake_model, tmp_path):
    path = write(tmp_path / "in" / "dates.jsonl", jsonl(
        {"id": "ok", "text": "Goede datum in Haarlem.", "date": "2021-06-01"},
        {"id": "d1", "text": "Haarlem.", "date": "2021-13-45"},
        {"id": "d2", "text": "Haarlem.", "date": "yesterday"},
        {"id": "d3", "text": "Haarlem.", "date": "2021/06/01"},
        {"id": "d4", "text": "Haarlem.", "date": "\u0662\u0660\u0662\u0661-\u0660\u0666"},  # Arabic digits
        {"id": "d5", "text": "Haarlem.", "date": 20210601},
        {"id": "ok2", "text": "Ook goed, in Haarlem.", "date": "2021"}))
    slash = write(tmp_path / "in" / "slash.txt", " date 2021/06/01 Tekst over Haarlem.")
    month = write(tmp_path / "in" / "month.txt", " date 2021-13-45 Tekst over Haarlem.")
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    for line, value in [(2, "'2021-13-45' is not a real calendar date"),
                        (3, "'yesterday' is not a date"), (4, "'2021/06/01' is not a date"),
                        (5, "'\u0662\u0660\u0662\u0661-\u0660\u0666' is not a date"),
                        (6, "field 'date' must be a string, not int")]:
        assert f"{path}:{line}: " in result.stderr and value in result.stderr
    assert f"{slash}:1: the date line says '2021/06/01' is not a date" in result.stderr
    assert f"{month}:1: the date line says '2021-13-45' is not a real calendar date" in result.stderr
    hits = search(run, tmp_path / "idx", "Haarlem")
    assert sorted((h["doc_id"], h["date"]) for h in hits) == [("ok", "2021-06-01"), ("ok2", "2021")]


def test_duplicate_ids_across_files_and_within_one(run, fake_model, tmp_path):
    first = write(tmp_path / "in" / "a.jsonl", jsonl(
        {"id": "dup", "text": "Het origineel over Tilburg."},
        {"id": "dup", "text": "Een kopie over Tilburg."},
        {"id": "same", "text": "Uniek artikel over Breda."}))
    write(tmp_path / "in" / "b" / "dup.txt", "Nog een kopie over Tilburg.")
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert (f"{first}:2: duplicate article id 'dup' (already loaded from {first}:1); this one is "
            "skipped") in result.stderr
    dup_txt = tmp_path / "in" / "b" / "dup.txt"
    assert f"{dup_txt}: duplicate article id 'dup' (already loaded from {first}:1)" in result.stderr
    hits = [h for h in search(run, tmp_path / "idx", "Tilburg") if h["doc_id"] == "dup"]
    assert [h["text"] for h in hits] == ["Het origineel over Tilburg."], "the first one wins"
    assert articles_in(run, tmp_path / "idx") == 2


def test_json_nested_too_deeply_is_a_line_problem_not_a_crash(tmp_path):
    path = write(tmp_path / "deep.jsonl", jsonl(
        {"id": "before", "text": "Voor."}, "[" * 100_000 + "]" * 100_000,
        '{"id": "x", "text": ' + "[" * 50_000, {"id": "after", "text": "Na."}))
    loaded = load_articles([path])
    assert [d.doc_id for d in loaded.documents] == ["before", "after"]
    assert [(p.line, p.message) for p in loaded.problems] == [
        (2, "not valid JSON (nested too deeply)"), (3, "not valid JSON (nested too deeply)")]


def test_odd_files_in_a_folder(tmp_path):
    write(tmp_path / "in" / "a" / "x.txt", "Tekst.")
    os.symlink("..", tmp_path / "in" / "a" / "loop")  # a folder that contains itself
    os.symlink("nowhere", tmp_path / "in" / "a" / "dangling.txt")
    os.mkfifo(tmp_path / "in" / "a" / "fifo.txt")  # reading it would block forever
    (tmp_path / "in" / "folder.txt").mkdir()
    loaded = load_articles([tmp_path / "in"])
    assert [d.doc_id for d in loaded.documents] == ["x"] and loaded.problems == []


# --- size ------------------------------------------------------------------------------------

def test_a_50_mb_article_loads_and_chunks(tmp_path):
    path = write(tmp_path / "big.txt", " date 2021-06 " + big_text(50_000_000))
    [doc] = load_articles([path]).documents
    chunks = ParagraphChunker(FakeEmbedder(), 128).split(doc)
    assert len(doc.text) >= 50_000_000 and doc.date == "2021-06"
    assert len(chunks) > 60_000 and all(c.n_tokens <= 128 for c in chunks)
    assert all(doc.text[c.start:c.end] == c.text for c in chunks[::997] + chunks[-3:])
    assert chunks[-1].end == len(doc.text), "nothing at the end is lost"


def test_a_long_whitespace_run_does_not_make_sentence_splitting_quadratic():
    text = "Een zin hier. " + " " * 2_000_000 + "en nog wat woorden.\n \nNieuwe regel met woorden."
    started = time.perf_counter()
    spans = sentence_spans(text, 0, len(text), min_words=1)
    assert time.perf_counter() - started < 2
    assert [text[s:e] for s, e in spans][1:] == ["Nieuwe regel met woorden."]


def test_a_large_article_through_the_cli(run, fake_model, tmp_path):
    # The CLI embeds every passage and sentence: 50 MB takes over a minute with the fake model
    # (the loader and chunker alone take seconds, tested above), so the CLI gets 2 MB.
    text = big_text(2_000_000) + "\n\nTot slot het zeldzaamheidsonderzoek."
    write(tmp_path / "in" / "big.txt", " date 2021-06 " + text)
    write(tmp_path / "in" / "small.txt", GOOD)
    index(run, fake_model, tmp_path / "idx", tmp_path / "in")
    assert articles_in(run, tmp_path / "idx") == 2
    hits = search(run, tmp_path / "idx", "zeldzaamheidsonderzoek", "--mode", "keyword")
    assert hits[0]["doc_id"] == "big" and hits[0]["text"].endswith("zeldzaamheidsonderzoek.")
    assert text[hits[0]["start"]:hits[0]["end"]] == hits[0]["text"]
    assert doc_ids(run, tmp_path / "idx", "Rembrandt Rijksmuseum")[0] == "small"


def test_a_100k_line_jsonl_file_with_bad_lines_between(tmp_path):
    bad = {17: "{broken", 50_000: json.dumps({"id": "no text"}), 99_999: "[1, 2]",
           100_003: json.dumps({"id": "x", "text": "t", "date": "ooit"})}
    lines, good = [], 0
    for number in range(1, 100_000 + len(bad) + 1):
        if number in bad:
            lines.append(bad[number])
        else:
            lines.append(json.dumps({"id": f"a{good}", "text": f"Artikel {good} over Zeeland.",
                                     "date": "2021-06-16", "title": f"Titel {good}"}))
            good += 1
    path = write(tmp_path / "big.jsonl", "\n".join(lines) + "\n")
    loaded = load_articles([path])
    assert good == 100_000 and len(loaded.documents) == 100_000
    assert loaded.documents[-1].doc_id == "a99999" and loaded.documents[-1].origin == f"{path}:100004"
    assert [p.line for p in loaded.problems] == sorted(bad)
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in loaded.problems)


def test_a_100k_character_question_is_a_clear_error(run, fake_index, tmp_path):
    question = "Wat zei Poetin over Navalny? " * 3449  # 100,021 characters
    result = run("search", question, "--index", fake_index)
    assert_clean(result, 1)
    assert f"error: the question is {len(' '.join(question.split()))} characters long; the limit is " \
           f"{MAX_QUERY_CHARS}" in result.stderr
    batch = write(tmp_path / "q.jsonl", jsonl({"id": "long", "text": question},
                                              {"id": "ok", "text": "Navalny"}))
    result = run("search", "--batch", batch, "--index", fake_index)
    assert_clean(result, 3)
    assert f"{batch}:1: question 'long': the question is" in result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["ok"]


# --- the run as a whole ----------------------------------------------------------------------

def test_one_run_with_every_kind_of_bad_file_indexes_the_good_ones(run, fake_model, tmp_path):
    write(tmp_path / "in" / "good.txt", GOOD)
    write(tmp_path / "in" / "good.jsonl", jsonl({"id": "j", "text": "Goed JSONL-artikel over Texel."},
                                                "{kapot", {"id": "k", "text": "Ook goed, Texel."}))
    write(tmp_path / "in" / "binary.txt", b"\x00\x01\x02")
    write(tmp_path / "in" / "latin.txt", "caf\xe9".encode("latin-1"))
    write(tmp_path / "in" / "empty.jsonl", "\n\n")
    write(tmp_path / "in" / "ctl.txt", "Tekst " * 2000 + "\x00" * 100 + "na de nullen")  # NUL after 8 KB
    result = index(run, fake_model, tmp_path / "idx", tmp_path / "in", code=3)
    assert "Left out (4):" in result.stderr
    assert f"{tmp_path / 'in' / 'good.jsonl'}:2: not valid JSON" in result.stderr
    assert articles_in(run, tmp_path / "idx") == 4
    assert set(doc_ids(run, tmp_path / "idx", "Texel Rembrandt nullen")) == {"j", "k", "good", "ctl"}


def test_a_run_with_only_broken_files_keeps_the_index_that_is_there(run, fake_model, tmp_path):
    idx = tmp_path / "idx"
    index(run, fake_model, idx, SAMPLE_DIR)
    current = (idx / "CURRENT").read_text()
    before = search(run, idx, "Poetin Navalny")
    broken = tmp_path / "broken"
    write(broken / "binary.txt", b"\x89PNG\x00\x00")
    write(broken / "latin.txt", "caf\xe9".encode("latin-1"))
    write(broken / "lines.jsonl", jsonl("{kapot", {"id": "x", "text": "t", "date": "gisteren"},
                                        {"id": "../../etc/passwd"}))
    write(broken / "empty.txt", "\ufeff  \r\n ")
    write(broken / "001_2bed4d3526be678e.txt", "\x00")  # an indexed article's name, now broken
    result = run("index", broken, "--index", idx, "--model", fake_model)
    assert_clean(result, 1)
    assert "error: nothing to index: no readable article was found" in result.stderr
    assert str(broken / "001_2bed4d3526be678e.txt") in result.stderr
    assert f"{broken / 'binary.txt'}: looks like a binary file" in result.stderr
    assert (idx / "CURRENT").read_text() == current
    assert articles_in(run, idx) == 5
    assert search(run, idx, "Poetin Navalny") == before
    result = run("index", broken, "--index", idx, "--model", fake_model, "--prune")
    assert_clean(result, 1)
    assert articles_in(run, idx) == 5, "even --prune removes nothing when nothing could be read"


def test_one_nul_line_in_jsonl_rejects_that_line_not_the_file(run, fake_model, tmp_path):
    good = [{"id": f"g{i}", "text": f"Artikel {i} over de haven van Harlingen."} for i in range(300)]
    path = write(tmp_path / "in" / "mixed.jsonl",
                 b'{"id": "nul", "text": "kapot\x00"}\n' + jsonl(*good).encode())
    loaded = load_articles([path])
    assert len(loaded.documents) == 300
    assert [str(p) for p in loaded.problems] == [
        f"{path}:1: holds NUL bytes (binary data), not a line of JSON text"]
    result = index(run, fake_model, tmp_path / "idx", path, code=3)
    assert f"{path}:1: holds NUL bytes" in result.stderr and "binary file" not in result.stderr
    assert articles_in(run, tmp_path / "idx") == 300


def test_a_binary_jsonl_file_is_one_message_and_nul_lines_are_capped(tmp_path):
    binary = write(tmp_path / "dump.jsonl", (bytes(range(1, 10)) + b"\x00" * 50 + b"\n") * 10_000)
    loaded = load_articles([binary])
    assert [str(p) for p in loaded.problems] == [
        f"{binary}: looks like a binary file (10000 of 10000 lines hold NUL bytes), not JSONL text; "
        "if it is UTF-16 text, convert it to UTF-8 first"]
    lines = [json.dumps({"id": f"a{i}", "text": "Goed."}) for i in range(5)] + ["x\x00y"] * 1000
    partly = write(tmp_path / "partly.jsonl", "\n".join(lines) + "\n")
    loaded = load_articles([partly])
    assert len(loaded.documents) == 5
    assert [p.line for p in loaded.problems] == [*range(6, 16), None]
    assert str(loaded.problems[-1]) == (
        f"{partly}: 990 more lines hold NUL bytes (the first at line 16); they were left out too")
