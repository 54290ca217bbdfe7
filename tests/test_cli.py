"""The CLI as people and programs use it (CliRunner; fake model unless marked)."""

import json
import os

import pytest

from tests.conftest import SAMPLE_DIR, write


def test_index_prints_a_summary(run, fake_model, tmp_path):
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 0
    assert f"Indexed into {tmp_path / 'idx'}: 5 added, 0 updated, 0 unchanged, 0 removed" in result.stdout
    assert "The index holds 5 articles as " in result.stdout
    assert f"model: {fake_model}" in result.stdout


def test_index_json(run, fake_model, tmp_path):
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model, "--json")
    data = json.loads(result.stdout)
    assert data["articles"] == 5 and data["chunks"] > 5 and data["problems"] == []


def test_index_with_bad_files_reports_them_indexes_the_rest_and_exits_3(run, fake_model, tmp_path):
    write(tmp_path / "in" / "good.txt", " date 2021-06 Een goed artikel.")
    write(tmp_path / "in" / "latin.txt", "caf\xe9".encode("latin-1"))
    write(tmp_path / "in" / "empty.txt", "")
    write(tmp_path / "in" / "lines.jsonl", '{"id": "j1", "text": "Goed."}\n{broken\n')
    write(tmp_path / "in" / "readme.md", "not an article")
    result = run("index", tmp_path / "in", tmp_path / "missing", "--index", tmp_path / "idx",
                 "--model", fake_model)
    assert result.exit_code == 3
    assert ": 2 added, 0 updated, 0 unchanged, 0 removed" in result.stdout
    assert f"{tmp_path / 'in' / 'latin.txt'}:1: is not UTF-8" in result.stderr
    assert f"{tmp_path / 'in' / 'empty.txt'}: is empty" in result.stderr
    assert f"{tmp_path / 'in' / 'lines.jsonl'}:2: not valid JSON" in result.stderr
    assert f"{tmp_path / 'missing'}: no such file or directory" in result.stderr
    assert "Ignored 1 files that are not .txt or .jsonl" in result.stdout
    assert "Traceback" not in result.output


def test_index_with_nothing_good_exits_1_without_a_traceback(run, fake_model, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("index", tmp_path / "empty", "--index", tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 1
    assert "error: nothing to index" in result.stderr
    assert "folder holds no .txt or .jsonl files" in result.stderr
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_index_with_another_model_is_refused_naming_both(run, fake_index, tmp_path, monkeypatch):
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "modules.json").write_text('[{"other": true}]')
    result = run("index", SAMPLE_DIR, "--index", fake_index, "--model", other)
    assert result.exit_code == 1
    assert "was built with the model" in result.stderr and str(other) in result.stderr
    assert "fake-model" in result.stderr


def test_search_readable(run, fake_index):
    result = run("search", "Poetin Navalny opsluiting", "--index", fake_index, "-k", "2")
    assert result.exit_code == 0
    assert "\n1. [" in "\n" + result.stdout
    assert "2. [" in result.stdout and "3. [" not in result.stdout
    assert "001_2bed4d3526be678e" in result.stdout and "2021-06" in result.stdout
    assert result.stdout.count("»") == result.stdout.count("«") == 2, "each snippet is marked once"
    assert not any(line.endswith(" ") for line in result.stdout.splitlines())


def test_search_json_has_the_stable_fields(run, fake_index):
    result = run("search", "Poetin Navalny", "--index", fake_index, "-k", "3", "--json")
    data = json.loads(result.stdout)
    assert data["query"] == "Poetin Navalny"
    assert [r["rank"] for r in data["results"]] == [1, 2, 3]
    assert list(data["results"][0])[:13] == [
        "rank", "score", "doc_id", "chunk_id", "date", "title", "text", "start", "end",
        "snippet", "snippet_start", "snippet_end", "highlights"]
    assert {"mode", "confident", "filter", "language"} <= set(data)


def test_search_batch(run, fake_index, tmp_path):
    batch = write(tmp_path / "q.jsonl", "\n".join([
        '{"id": "q1", "text": "Poetin Navalny"}', '{"id": "q2", "text": "Afghanistan"}',
        "{oops", '{"id": "q4", "text": "  "}', '{"id": "q5"}', '{"id": 6, "text": "Genève"}']))
    result = run("search", "--batch", batch, "--index", fake_index, "-k", "2")
    assert result.exit_code == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2", 6]
    assert all(len(line["results"]) == 2 for line in lines)
    assert f"{batch}:3: not valid JSON" in result.stderr
    assert f"{batch}:4: question 'q4': the question is empty" in result.stderr
    assert f"{batch}:5: each line must be an object" in result.stderr


def test_search_batch_from_stdin(run, fake_index):
    result = run("search", "--batch", "-", "--index", fake_index, input='{"id": "a", "text": "Biden"}\n')
    assert result.exit_code == 0
    assert json.loads(result.stdout)["id"] == "a"


@pytest.mark.parametrize("args, code, message", [
    (["search", ""], 1, "error: the question is empty"),
    (["search", "   "], 1, "error: the question is empty"),
    (["search"], 2, "give either a QUESTION or --batch"),
    (["search", "vraag", "-k", "0"], 2, "Invalid value"),
    (["search", "vraag"], 1, "error: there is no index at vraagbaak-index"),
    (["info"], 1, "error: there is no index at vraagbaak-index"),
])
def test_search_and_info_errors(run, args, code, message):
    result = run(*args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_no_index_hint_says_what_to_do(run):
    result = run("search", "vraag", "--index", "nowhere")
    assert "hint: build one first: vraagbaak index PATH... --index nowhere" in result.stderr


def test_info(run, fake_index):
    result = run("info", "--index", fake_index)
    assert result.exit_code == 0
    assert "articles: 5" in result.stdout
    assert "dates: 2021-04 to 2021-12" in result.stdout
    assert "max_tokens=128" in result.stdout
    data = json.loads(run("info", "--index", fake_index, "--json").stdout)
    assert data["articles"] == 5 and data["format_version"] == 4 and data["size_bytes"] > 0
    assert len(data["segments"]) == 1 and "segments: 1; deleted" in result.stdout


def test_index_env_variable(run, fake_model, tmp_path, monkeypatch):
    monkeypatch.setenv("VRAAGBAAK_INDEX", str(tmp_path / "env-idx"))
    assert run("index", SAMPLE_DIR, "--model", fake_model).exit_code == 0
    assert "articles: 5" in run("info").stdout


def test_model_that_does_not_exist(run, tmp_path):
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", "./no-such-model")
    assert result.exit_code == 1
    assert "error: model folder ./no-such-model does not exist" in result.stderr


@pytest.mark.model
def test_real_model_answers_the_three_required_questions_via_cli(run, use_real_embedder, real_index):
    expectations = {  # the answer's words, in the passage at rank 1 or 2
        "what did Biden say about cyber": "zestien",  # the sixteen critical systems
        "Wat zei Poetin over Navalny?": "opsluiting van de belangrijkste oppositiepoliticus",
        "how long did the Geneva meeting last": "3 uur en 21 minuten",
    }
    for question, evidence in expectations.items():
        result = run("search", question, "--index", real_index, "-k", "2", "--json")
        assert result.exit_code == 0, result.output
        texts = [r["text"] for r in json.loads(result.stdout)["results"]]
        assert any(evidence in t for t in texts), (question, texts)


def test_search_options_reach_the_searcher(run, fake_index):
    data = json.loads(run("search", "Poetin", "--index", fake_index, "--mode", "keyword",
                          "--since", "2021-06", "--until", "2021-06", "--no-group", "-k", "4",
                          "--json").stdout)
    assert data["mode"] == "keyword"
    assert data["filter"]["since"] == "2021-06-01" and data["filter"]["until"] == "2021-06-30"
    assert {r["date"] for r in data["results"]} == {"2021-06"}
    assert len(data["results"]) == 4 and len({r["doc_id"] for r in data["results"]}) < 4


def test_per_article_and_question_dates(run, fake_index):
    data = json.loads(run("search", "Biden Poetin in april 2021", "--index", fake_index,
                          "--per-article", "2", "--json").stdout)
    assert data["filter"]["phrase"] == "in april 2021" and data["filter"]["applied"]
    assert [r["date"] for r in data["results"]] == ["2021-04"]
    assert len(data["results"][0]["passages"]) == 1
    off = json.loads(run("search", "Biden Poetin in april 2021", "--index", fake_index,
                         "--no-question-dates", "--json").stdout)
    assert off["filter"] is None and len(off["results"]) == 5


def test_readable_output_names_the_date_filter(run, fake_index):
    result = run("search", "Poetin in juni 2021", "--index", fake_index)
    assert "Dates: June 2021 (from the question: 'in juni 2021')" in result.stdout
    result = run("search", "Poetin in 1988", "--index", fake_index)
    assert "Dates: no article is from 1988 (from the question: 'in 1988')" in result.stdout
    assert "searched all dates" in result.stdout


@pytest.mark.parametrize("command", ["search", "eval"])
def test_a_bad_mode_is_bad_usage_like_every_other_choice(run, fake_index, tmp_path, command):
    """Modes are one enum for the CLI, the API and MCP: an unknown one is refused by the option
    parser (exit 2, naming the choices), as a bad --vector-index is."""
    target = "Poetin" if command == "search" else str(write(tmp_path / "q.jsonl", "{}\n"))
    result = run(command, target, "--index", fake_index, "--mode", "magic")
    assert result.exit_code == 2
    assert "hybrid" in result.output and "keyword" in result.output
    assert run("index", "x", "--vector-index", "magic").exit_code == 2


@pytest.mark.parametrize("args, message", [
    (["--since", "juni"], "juni"),
    (["--since", "2021-07", "--until", "2021-06"], "is after --until"),
])
def test_bad_search_options(run, fake_index, args, message):
    result = run("search", "Poetin", "--index", fake_index, *args)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


def test_eval_with_the_fake_model(run, fake_index, tmp_path):
    questions = write(tmp_path / "q.jsonl", '{"id": "a", "text": "Navalny opsluiting", '
                                            '"relevant": ["001_2bed4d3526be678e"], "lang": "nl"}\n')
    data = json.loads(run("eval", questions, "--index", fake_index, "--mode", "keyword",
                          "--json").stdout)
    assert data["overall"]["n"] == 1 and data["overall"]["recall_at_1"] == 1.0


def test_search_batch_that_cannot_be_read_exits_1_before_loading_the_model(run, fake_index, tmp_path,
                                                                          monkeypatch):
    def no_model(spec):
        raise AssertionError("the model was loaded for a batch that cannot be read")

    monkeypatch.setattr("indexer.embedders.load_query_embedder", no_model)
    monkeypatch.setattr("search.searcher.load_query_embedder", no_model)
    for batch in (tmp_path / "missing.jsonl", tmp_path):
        result = run("search", "--batch", batch, "--index", fake_index)
        assert result.exit_code == 1, result.output
        assert f"error: cannot read the questions in {batch}" in result.stderr
        assert "Traceback" not in result.output


def test_search_batch_without_one_good_question_exits_1(run, fake_index, tmp_path):
    batch = write(tmp_path / "q.jsonl", '{"id": 1}\n{kapot\n')
    result = run("search", "--batch", batch, "--index", fake_index)
    assert result.exit_code == 1, result.output
    assert f"{batch}:1: each line must be an object" in result.stderr
    assert f"error: {batch} holds no usable questions" in result.stderr and result.stdout == ""


def test_index_a_device_or_pipe_says_what_it_is(run, fake_model, tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for path, kind in (("/dev/null", "a device"), (fifo, "a pipe")):
        result = run("index", path, "--index", tmp_path / "idx", "--model", fake_model)
        assert result.exit_code == 1, result.output
        assert f"{path}: is {kind}, not a file or folder of articles" in result.stderr
        assert "folder holds no" not in result.stderr and "Traceback" not in result.output


def test_the_same_file_given_twice_is_loaded_once(run, fake_model, tmp_path):
    article = SAMPLE_DIR / "001_2bed4d3526be678e.txt"
    (tmp_path / "link.txt").symlink_to(article)
    result = run("index", article, article, SAMPLE_DIR, tmp_path / "link.txt", "--index",
                 tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 0, result.output
    assert "duplicate" not in result.output
    assert ": 5 added," in result.stdout


def test_index_prints_plain_progress_lines_when_stderr_is_not_a_terminal(run, fake_model, tmp_path):
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("embedded ")]
    assert len(lines) >= 3, result.stderr
    total = int(lines[-1].split(" of ")[1].split()[0].replace(",", ""))
    assert lines[-1] == f"embedded {total:,} of {total:,} texts"
    assert "\x1b[" not in result.stderr and "━" not in result.stderr, "no bar, no escape codes"
    unchanged = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model)
    assert "embedded " not in unchanged.stderr, "nothing to embed: no progress lines"
