"""The evaluation sets of bench/data/eval (their files agree with each other), the rule that makes
en-short, several sets per `vraagbaak eval` (loader, arithmetic, the command with the fake model),
and that a set from the manifest scores as the same file does on its own (real model)."""

import importlib.util
import json
import math

import pytest

from indexer.errors import InputError
from search.evaluation import EvalQuery, EvalSet, evaluate, evaluate_sets, load_eval_sets
from search.options import validate_query
from tests.conftest import QUESTIONS, ROOT, write

EVAL = ROOT / "bench" / "data" / "eval"
MANIFEST = EVAL / "sets.json"
SAMPLE_DOC = "001_2bed4d3526be678e"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_module():
    spec = importlib.util.spec_from_file_location("eval_build", EVAL / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the data --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifest():
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def corpus():
    return read_jsonl(EVAL / "corpus.jsonl")


def test_the_manifest_describes_every_set(manifest):
    names = [s["name"] for s in manifest["sets"]]
    assert names == ["en-short", "en-flores", "nl-headline", "nl-paraphrase", "en-who-where",
                     "nl-who-said", "nl-short", "sample", "nl-reworded"]
    for entry in manifest["sets"]:
        assert {"name", "file", "corpus", "language", "level", "asks", "made", "license"} <= set(entry)
        assert (MANIFEST.parent / entry["file"]).is_file(), entry["file"]
        assert entry["level"] == "article"  # the only level `vraagbaak eval` judges


def test_every_judged_article_is_in_the_corpus_and_every_set_is_big_enough(manifest, corpus):
    ids = [a["id"] for a in corpus]
    assert len(ids) == len(set(ids)) == 185
    total = 0
    for entry in manifest["sets"]:
        questions = read_jsonl(MANIFEST.parent / entry["file"])
        total += len(questions)
        assert len(questions) >= (30 if entry["name"] == "sample" else 50), entry["name"]
        assert {d for q in questions for d in q["relevant"]} <= set(ids), entry["name"]
        langs = {q["lang"] for q in questions}
        assert langs == set(entry["language"].split("+")), entry["name"]
    assert total >= 1500


def test_the_corpus_is_small_enough_to_index_in_minutes(corpus):
    # ~700 article tokens/s on two busy cores; 165 k characters are ~32 k tokens.
    assert sum(len(a["text"]) for a in corpus) < 200_000
    for article in corpus:
        assert article["text"].strip() and article["title"].strip()
        assert article["title"] not in article["text"]  # a headline is not a quote of its body


def test_en_short_lines_are_short_and_come_from_their_english_sentence():
    flores = {q["id"]: q for q in read_jsonl(EVAL / "en-flores.jsonl")}
    for question in read_jsonl(EVAL / "en-short.jsonl"):
        assert 3 <= len(question["text"].split()) <= 8, question
        long = flores[question["id"].replace("en-short-", "en-flores-")]
        assert long["relevant"] == question["relevant"]
        assert all(word in long["text"] for word in question["text"].split())


def test_nl_short_lines_are_short_and_come_from_their_dutch_sentence(corpus):
    texts = {a["id"]: a["text"] for a in corpus}
    questions = read_jsonl(EVAL / "nl-short.jsonl")
    assert len(questions) >= 600
    for question in questions:
        assert 3 <= len(question["text"].split()) <= 8, question
        assert all(word in texts[question["relevant"][0]] for word in question["text"].split())


def test_the_hand_written_sets_ask_what_they_say():
    for question in read_jsonl(EVAL / "nl-who-said.jsonl"):
        assert question["text"].startswith(("Wat zei ", "Wat vertelde ", "Wat adviseerde ")), question
    for question in read_jsonl(EVAL / "en-who-where.jsonl"):
        assert question["text"].split()[0] in {"Who", "Where", "What", "Which"}, question


def test_build_makes_the_files_that_are_here():
    build = build_module()
    dev = build.default_dev()
    if not (dev / "corpus.jsonl").is_file():
        pytest.skip(f"the FLORES dev set is not at {dev}")
    outputs = build.build(dev)
    build.check(outputs)
    for name, records in outputs.items():
        assert read_jsonl(EVAL / name) == records, f"{name} is stale: run bench/data/eval/build.py"


def test_pseudo_articles_group_consecutive_sentences_of_one_category():
    build = build_module()
    sentences = [{"id": f"flores-{i}", "text": f"Zin {i}.", "category": "sports" if i % 3 else "travel"}
                 for i in range(30)]
    groups = build.pseudo_articles(sentences)
    assert [(slug, len(members)) for slug, _, members in groups] == [
        ("spo01", 5), ("spo02", 5), ("spo03", 5), ("spo04", 5), ("tra01", 5), ("tra02", 5)]
    for _, category, members in groups:
        assert {m["category"] for m in members} == {category}
        numbers = [int(m["id"].split("-")[1]) for m in members]
        assert numbers == sorted(numbers)


@pytest.mark.parametrize("sentence, short", [
    ("He recently lost against Raonic in the Brisbane Open.", "recently lost against Raonic in the Brisbane Open"),
    # the clause with the most content words, cut to 8 words, no stop word at the end
    ("Around 11:29, the protest moved up Whitehall, past Trafalgar Square, along the Strand.",
     "the protest moved up Whitehall"),
    # quotes and asides go
    ('"After the match, King of Clay said, ""I\'m just excited."""', "King of Clay said"),
    ("The Earth’s atmosphere distorts some of our light.",
     "The Earth’s atmosphere distorts some of our light"),  # apostrophes stay
    ("It is so.", None),  # fewer than three content words
])
def test_shorten(sentence, short):
    assert build_module().shorten(sentence) == short


# --- loading several sets --------------------------------------------------------------------

def question(qid, text, relevant, lang="nl"):
    return json.dumps({"id": qid, "text": text, "relevant": relevant, "lang": lang}) + "\n"


def test_sets_are_named_by_the_manifest_or_by_their_file(tmp_path):
    write(tmp_path / "m" / "data" / "a.jsonl", question("1", "Poetin", ["d1"]))
    write(tmp_path / "m" / "sets.json", json.dumps({"sets": [
        {"name": "eerste", "file": "data/a.jsonl", "language": "nl", "level": "article"}]}))
    loose = write(tmp_path / "los.jsonl", question("1", "Biden", ["d2"], "en"))
    sets, problems = load_eval_sets([tmp_path / "m" / "sets.json", loose])
    assert problems == []
    assert sets == [
        EvalSet("eerste", tmp_path / "m" / "data" / "a.jsonl",
                (EvalQuery("1", "Poetin", ("d1",), "nl"),), "nl", "article"),
        EvalSet("los", loose, (EvalQuery("1", "Biden", ("d2",), "en"),))]
    only, _ = load_eval_sets([tmp_path / "m" / "sets.json", loose], only=["los"])
    assert [s.name for s in only] == ["los"]


def test_bad_lines_and_empty_sets_are_problems_the_rest_is_kept(tmp_path):
    good = write(tmp_path / "good.jsonl", question("1", "Poetin", ["d1"]) + "{oops\n")
    empty = write(tmp_path / "empty.jsonl", '{"id": "x"}\n')
    sets, problems = load_eval_sets([good, empty], check_text=validate_query)
    assert [s.name for s in sets] == ["good"] and len(sets[0].queries) == 1
    assert problems[0].startswith(f"{good}:2: not valid JSON")
    assert problems[1] == f"{empty}:1: question 'x': \"text\" is missing or empty"
    assert problems[2] == f"{empty}: set 'empty' holds no usable questions"


@pytest.mark.parametrize("manifest, message", [
    ("{oops", "is not valid JSON"),
    ('{"sets": []}', 'has no "sets" list'),
    ('[1]', 'has no "sets" list'),
    ('{"sets": [{"name": "a"}]}', 'set 1 needs a "name" and a "file"'),
    ('{"sets": [{"name": "a", "file": "missing.jsonl"}]}', "cannot read"),
    ('{"sets": [{"name": "a", "file": "q.jsonl"}, {"name": "a", "file": "q.jsonl"}]}',
     "two question sets are named 'a'"),
])
def test_a_bad_manifest_is_an_input_error(tmp_path, manifest, message):
    write(tmp_path / "q.jsonl", question("1", "Poetin", ["d1"]))
    path = write(tmp_path / "sets.json", manifest)
    with pytest.raises(InputError, match=message):
        load_eval_sets([path])


def test_an_unknown_set_name_is_an_input_error_naming_the_sets(tmp_path):
    path = write(tmp_path / "q.jsonl", question("1", "Poetin", ["d1"]))
    with pytest.raises(InputError, match="no question set is named 'nope'") as caught:
        load_eval_sets([path], only=["nope"])
    assert caught.value.hint == "the sets are: q"


# --- the arithmetic --------------------------------------------------------------------------

def ticking_clock(*latencies_s):
    times = iter([t for i, latency in enumerate(latencies_s) for t in (float(i), i + latency)])
    return lambda: next(times)


def test_per_set_pooled_and_mean_of_sets():
    one = EvalSet("one", ROOT / "one.jsonl", (
        EvalQuery("q1", "een", ("a",), "nl"),  # [a]: R@1 1, MRR 1, nDCG 1
        EvalQuery("q2", "twee", ("a",), "nl"),  # [x, a]: R@1 0, MRR 0.5, nDCG 1/log2(3)
        EvalQuery("q3", "drie", ("a",), "nl")))  # [x]: 0, 0, 0
    two = EvalSet("two", ROOT / "two.jsonl", (EvalQuery("q1", "four", ("b",), "en"),))  # [b]: 1, 1, 1
    answers = {"een": ["a"], "twee": ["x", "a"], "drie": ["x"], "four": ["b"]}
    report = evaluate_sets([one, two], answers.__getitem__,
                           clock=ticking_clock(0.010, 0.020, 0.030, 0.040))

    assert list(report.sets) == ["one", "two"]
    first = report.sets["one"].overall
    assert (first.n, first.recall_at_1, first.recall_at_10) == (3, pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert first.mrr_at_10 == pytest.approx(0.5)  # (1 + 0.5 + 0) / 3
    assert first.p50_ms == pytest.approx(20.0)
    assert report.sets["two"].overall.recall_at_1 == 1.0
    # pooled: four questions
    assert report.overall.n == 4
    assert report.overall.recall_at_1 == pytest.approx(0.5)  # (1 + 0 + 0 + 1) / 4
    assert report.overall.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(3) + 0 + 1) / 4)
    assert report.overall.p50_ms == pytest.approx(25.0)
    # mean of sets: each set once
    assert report.mean_of_sets.n == 2
    assert report.mean_of_sets.recall_at_1 == pytest.approx((1 / 3 + 1) / 2)
    assert report.mean_of_sets.p50_ms == pytest.approx((20.0 + 40.0) / 2)
    # one set scores as `evaluate` does on its own
    alone = evaluate(one.queries, answers.__getitem__, clock=ticking_clock(0.010, 0.020, 0.030))
    assert report.sets["one"] == alone

    data = report.as_dict([one, two])
    assert list(data) == ["sets", "overall", "mean_of_sets"]
    assert [(s["name"], s["file"], s["overall"]["n"]) for s in data["sets"]] == [
        ("one", str(ROOT / "one.jsonl"), 3), ("two", str(ROOT / "two.jsonl"), 1)]
    assert list(data["sets"][0]) == ["name", "file", "language", "level", "overall", "by_lang"]
    json.dumps(data)


def test_evaluate_sets_needs_sets():
    with pytest.raises(ValueError):
        evaluate_sets([], lambda text: [])


# --- the command (fake model) ----------------------------------------------------------------

@pytest.fixture
def two_sets(tmp_path):
    nl = write(tmp_path / "sets" / "nl-set.jsonl", question("1", "Poetin Navalny", [SAMPLE_DOC])
               + question("2", "Genève", [SAMPLE_DOC]))
    en = write(tmp_path / "sets" / "en-set.jsonl", question("1", "Biden cyber", ["000_80b0f47be43478c7"], "en"))
    manifest = write(tmp_path / "sets" / "sets.json", json.dumps({"sets": [
        {"name": "nl-set", "file": "nl-set.jsonl", "language": "nl", "level": "article"},
        {"name": "en-set", "file": "en-set.jsonl", "language": "en", "level": "article"}]}))
    return manifest, nl, en


def test_eval_of_two_files_prints_a_row_per_set(run, fake_index, two_sets):
    _, nl, en = two_sets
    result = run("eval", nl, en, "--index", fake_index)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["set", "lang", "level", "n", "R@1", "R@10", "MRR@10", "nDCG@10",
                                "p50", "ms", "p95", "ms"]
    assert [line.split()[:4] for line in lines[1:3]] == [["nl-set", "nl", "article", "2"],
                                                         ["en-set", "en", "article", "1"]]
    assert lines[3].split()[:2] == ["all", "3"]
    assert lines[4].split()[:5] == ["mean", "of", "sets", "2", "sets"]
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_eval_of_a_manifest_json(run, fake_index, two_sets):
    manifest, nl, _ = two_sets
    result = run("eval", manifest, "--index", fake_index, "--mode", "keyword", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["mode", "fusion", "sets", "overall", "mean_of_sets", "problems"]
    assert data["mode"] == "keyword" and data["problems"] == []
    assert [(s["name"], s["file"], s["language"], s["overall"]["n"]) for s in data["sets"]] == [
        ("nl-set", str(nl), "nl", 2), ("en-set", str(manifest.parent / "en-set.jsonl"), "en", 1)]
    assert data["overall"]["n"] == 3 and data["mean_of_sets"]["n"] == 2
    assert data["sets"][0]["overall"]["recall_at_1"] == 1.0  # keywords find Navalny and Genève


def test_eval_fusion_picks_the_method_and_a_bad_one_is_an_input_error(run, fake_index, two_sets):
    manifest, _, _ = two_sets
    data = json.loads(run("eval", manifest, "--index", fake_index, "--fusion", "minmax",
                          "--json").stdout)
    assert data["fusion"] == "minmax" and data["overall"]["n"] == 3
    result = run("eval", manifest, "--index", fake_index, "--fusion", "borda")
    assert result.exit_code == 1
    assert "error: fusion method must be one of rrf, minmax, zscore, not 'borda'" in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_set_picks_sets_even_from_one_file(run, fake_index, two_sets):
    manifest, nl, _ = two_sets
    data = json.loads(run("eval", manifest, "--set", "en-set", "--index", fake_index, "--json").stdout)
    assert [s["name"] for s in data["sets"]] == ["en-set"]
    data = json.loads(run("eval", nl, "--set", "nl-set", "--index", fake_index, "--json").stdout)
    assert [s["name"] for s in data["sets"]] == ["nl-set"]  # --set asks for the per-set report
    result = run("eval", manifest, "--set", "nope", "--index", fake_index)
    assert result.exit_code == 1
    assert "error: no question set is named 'nope'" in result.stderr
    assert "hint: the sets are: nl-set, en-set" in result.stderr


def test_eval_sets_with_bad_lines_and_an_empty_set_exit_3(run, fake_index, two_sets, tmp_path):
    _, nl, _ = two_sets
    bad = write(tmp_path / "bad.jsonl", "{oops\n")
    result = run("eval", nl, bad, "--index", fake_index, "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["sets"]] == ["nl-set"]
    assert data["problems"] == [f"{bad}:1: not valid JSON (Expecting property name enclosed in "
                                f"double quotes at column 2)", f"{bad}: set 'bad' holds no usable questions"]
    assert f"error: {bad}: set 'bad' holds no usable questions" in result.stderr


def test_eval_sets_without_a_usable_question_exit_1_before_the_model_loads(run, fake_index, tmp_path,
                                                                          monkeypatch):
    def no_searcher(*args, **kwargs):
        raise AssertionError("the index was opened for sets that cannot be used")

    monkeypatch.setattr("search.searcher.Searcher.open", no_searcher)
    bad = write(tmp_path / "bad.jsonl", "{oops\n")
    result = run("eval", bad, bad.with_name("missing.json"), "--index", fake_index)
    assert result.exit_code == 1
    assert "cannot read" in result.stderr and "Traceback" not in result.output
    result = run("eval", bad, write(tmp_path / "bad2.jsonl", "\n"), "--index", fake_index)
    assert result.exit_code == 1
    assert "error: no question set holds a usable question" in result.stderr
    assert result.stdout == ""


def test_one_file_still_prints_per_language(run, fake_index):
    result = run("eval", QUESTIONS, "--index", fake_index)
    assert result.stdout.splitlines()[0].split()[0] == "lang"


# --- the command (real model) ----------------------------------------------------------------

@pytest.mark.model
def test_real_model_a_manifest_set_scores_as_its_file_alone(run, use_real_embedder, real_index):
    """The manifest's "sample" set on the sample index is the sample questions file: the same
    metrics (latencies aside) whichever way it is asked."""
    alone = json.loads(run("eval", QUESTIONS, "--index", real_index, "--json").stdout)
    result = run("eval", MANIFEST, "--set", "sample", "--index", real_index, "--json")
    assert result.exit_code == 0, result.output
    (sample,) = json.loads(result.stdout)["sets"]
    for key in ("n", "recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10"):
        assert sample["overall"][key] == alone["overall"][key], key
