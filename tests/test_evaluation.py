"""`vraagbaak eval`: article-level metrics checked against hand arithmetic, the question loader,
and the command (fake model; the real model where marked)."""

import json
import math

import pytest

from indexer.errors import InputError
from search.evaluation import (EvalQuery, evaluate, first_occurrences, load_eval_queries, mrr_at,
                               ndcg_at, percentile, recall_at)
from search.options import validate_query
from tests.conftest import QUESTIONS, write

LOG2_3 = math.log2(3)  # 1.5849625; 1 / LOG2_3 = 0.6309298
LOG2_5 = math.log2(5)  # 2.3219281; 1 / LOG2_5 = 0.4306766


# --- metrics ---------------------------------------------------------------------------------

RANKED = ["x", "a", "y", "b"]
RELEVANT = {"a", "b"}


def test_recall_counts_relevant_articles_in_the_first_k():
    assert recall_at(RANKED, RELEVANT, 1) == 0.0  # [x]: none of 2
    assert recall_at(RANKED, RELEVANT, 2) == 0.5  # [x, a]: 1 of 2
    assert recall_at(RANKED, RELEVANT, 3) == 0.5  # [x, a, y]: 1 of 2
    assert recall_at(RANKED, RELEVANT, 4) == 1.0  # [x, a, y, b]: 2 of 2
    assert recall_at(RANKED, RELEVANT, 10) == 1.0  # a shorter list than k is fine


def test_mrr_is_one_over_the_rank_of_the_first_relevant_article():
    assert mrr_at(RANKED, RELEVANT, 10) == 0.5  # a at rank 2: 1/2
    assert mrr_at(RANKED, RELEVANT, 1) == 0.0  # rank 2 is beyond k = 1
    assert mrr_at(["b", "a"], RELEVANT, 10) == 1.0  # b at rank 1


def test_ndcg_by_hand():
    # DCG = 1/log2(2+1) + 1/log2(4+1) = 0.6309298 + 0.4306766 = 1.0616063
    # IDCG (2 relevant at ranks 1, 2) = 1/log2(2) + 1/log2(3) = 1 + 0.6309298 = 1.6309298
    # nDCG = 1.0616063 / 1.6309298 = 0.6509209
    assert ndcg_at(RANKED, RELEVANT, 10) == pytest.approx((1 / LOG2_3 + 1 / LOG2_5) / (1 + 1 / LOG2_3))
    assert ndcg_at(RANKED, RELEVANT, 10) == pytest.approx(0.6509209, abs=1e-7)
    # At k = 2 only a (rank 2) counts: 0.6309298 / 1.6309298 = 0.3868528
    assert ndcg_at(RANKED, RELEVANT, 2) == pytest.approx(0.3868528, abs=1e-7)
    assert ndcg_at(["a", "b", "x"], RELEVANT, 10) == pytest.approx(1.0)  # ideal order


def test_ndcg_ideal_list_is_cut_at_k():
    relevant = [f"r{i}" for i in range(12)]
    # 12 relevant, 10 of them at ranks 1..10: DCG == IDCG, which has min(12, 10) = 10 terms
    assert ndcg_at(relevant[:10], relevant, 10) == pytest.approx(1.0)
    assert recall_at(relevant[:10], relevant, 10) == pytest.approx(10 / 12)


def test_nothing_relevant_found_scores_zero():
    for metric in (recall_at, mrr_at, ndcg_at):
        assert metric(["x", "y", "z"], {"a"}, 10) == 0.0
        assert metric([], {"a"}, 10) == 0.0


def test_relevant_at_rank_11_is_not_counted_at_10():
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert recall_at(ranked, {"a"}, 10) == 0.0
    assert mrr_at(ranked, {"a"}, 10) == 0.0
    assert ndcg_at(ranked, {"a"}, 10) == 0.0
    assert recall_at(ranked, {"a"}, 11) == 1.0
    assert mrr_at(ranked, {"a"}, 11) == pytest.approx(1 / 11)


def test_repeated_articles_count_once_at_their_first_rank():
    # Passages x, x, x, a are the articles [x, a]: a is the 2nd article, not the 4th hit.
    assert first_occurrences(["x", "x", "x", "a", "x", "b"]) == ["x", "a", "b"]
    assert first_occurrences(["x", "x", "a", "b"], 2) == ["x", "a"]
    assert recall_at(["x", "x", "x", "a"], {"a"}, 2) == 1.0
    assert mrr_at(["x", "x", "x", "a"], {"a"}, 10) == 0.5
    # [a, a, b] is [a, b]: DCG = 1 + 1/log2(3) = IDCG, so 1.0 (not 1 + 0.63 + 0.5 over IDCG)
    assert ndcg_at(["a", "a", "b"], RELEVANT, 10) == pytest.approx(1.0)
    # A repeated relevant id is one relevant article: 1 of 1, not 1 of 2
    assert recall_at(["a"], ["a", "a"], 10) == 1.0


def test_metrics_reject_programming_errors():
    with pytest.raises(ValueError):
        recall_at(["a"], set(), 10)
    with pytest.raises(ValueError):
        ndcg_at(["a"], {"a"}, 0)


def test_percentile_interpolates_between_ranks():
    values = [40.0, 10.0, 30.0, 20.0]  # sorted: 10, 20, 30, 40
    assert percentile(values, 50) == pytest.approx(25.0)  # position 3 * 0.50 = 1.5: 20 + 0.5 * 10
    assert percentile(values, 95) == pytest.approx(38.5)  # position 3 * 0.95 = 2.85: 30 + 0.85 * 10
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile(values, 101)


# --- aggregation -----------------------------------------------------------------------------

def ticking_clock(*latencies_s):
    """A clock whose successive start/stop pairs are ``latencies_s`` apart."""
    times = iter([t for i, latency in enumerate(latencies_s) for t in (float(i), i + latency)])
    return lambda: next(times)


def test_evaluate_per_language_and_overall():
    queries = [
        EvalQuery("q1", "een", ("a",), "nl"),  # [a, b]: R@1 1, R@10 1, MRR 1, nDCG 1
        EvalQuery("q2", "twee", ("a", "b"), "nl"),  # [x, a, y, b]: 0, 1, 0.5, 0.6509209
        EvalQuery("q3", "three", ("c",), "en"),  # [x]: 0, 0, 0, 0
        EvalQuery("q4", "vier", ("d",), None),  # [x, d]: 0, 1, 0.5, 1/log2(3) = 0.6309298
    ]
    answers = {"een": ["a", "b"], "twee": RANKED, "three": ["x"], "vier": ["x", "d"]}
    report = evaluate(queries, answers.__getitem__, clock=ticking_clock(0.010, 0.020, 0.030, 0.040))

    assert list(report.by_lang) == ["en", "nl", "unknown"]
    nl = report.by_lang["nl"]
    assert nl.n == 2
    assert nl.recall_at_1 == pytest.approx(0.5)  # (1 + 0) / 2
    assert nl.recall_at_10 == pytest.approx(1.0)
    assert nl.mrr_at_10 == pytest.approx(0.75)  # (1 + 0.5) / 2
    assert nl.ndcg_at_10 == pytest.approx(0.8254605, abs=1e-6)  # (1 + 0.6509209) / 2
    assert nl.p50_ms == pytest.approx(15.0)  # 10, 20 ms: 10 + 0.5 * 10
    assert nl.p95_ms == pytest.approx(19.5)  # 10 + 0.95 * 10
    en = report.by_lang["en"]
    assert (en.n, en.recall_at_10, en.mrr_at_10, en.p50_ms) == (1, 0.0, 0.0, pytest.approx(30.0))

    overall = report.overall
    assert overall.n == 4
    assert overall.recall_at_1 == pytest.approx(0.25)  # (1 + 0 + 0 + 0) / 4
    assert overall.recall_at_10 == pytest.approx(0.75)  # (1 + 1 + 0 + 1) / 4
    assert overall.mrr_at_10 == pytest.approx(0.5)  # (1 + 0.5 + 0 + 0.5) / 4
    assert overall.ndcg_at_10 == pytest.approx(0.5704627, abs=1e-6)  # (1 + 0.6509209 + 0 + 0.6309298) / 4
    assert overall.p50_ms == pytest.approx(25.0)  # 10, 20, 30, 40 ms
    assert overall.p95_ms == pytest.approx(38.5)

    data = report.as_dict()
    assert list(data) == ["overall", "by_lang"]
    assert data["overall"] == {"n": 4, "recall_at_1": 0.25, "recall_at_10": 0.75, "mrr_at_10": 0.5,
                               "ndcg_at_10": 0.5705, "p50_ms": 25.0, "p95_ms": 38.5}
    json.dumps(data)


def test_evaluate_needs_questions():
    with pytest.raises(ValueError):
        evaluate([], lambda text: [])


# --- loader ----------------------------------------------------------------------------------

def test_loader_keeps_good_lines_and_reports_bad_ones_with_line_numbers(tmp_path):
    path = write(tmp_path / "q.jsonl", "\n".join([
        '{"id": "q1", "lang": "nl", "text": "Wat zei Poetin?", "relevant": ["d1"]}',  # 1
        "{oops",  # 2
        "[1, 2]",  # 3
        '{"id": "q4", "relevant": ["d1"]}',  # 4
        '{"id": "q5", "text": "  ", "relevant": ["d1"]}',  # 5
        '{"id": "q6", "text": "vraag", "relevant": []}',  # 6
        '{"id": "q7", "text": "vraag", "relevant": "d1"}',  # 7
        '{"id": "q8", "text": "vraag", "relevant": ["d1", 3]}',  # 8
        "",  # 9: blank lines are skipped
        '{"id": "q1", "text": "dubbel", "relevant": ["d1"]}',  # 10
        '{"text": "no id, no lang", "relevant": ["d2", "d2", "d3"]}',  # 11
        json.dumps({"id": "q12", "text": "x" * 2001, "relevant": ["d1"]}),  # 12
        '{"id": "q13", "text": "vraag", "relevant": ["d1"], "lang": 5}',  # 13
    ]))
    queries, problems = load_eval_queries(path, check_text=validate_query)

    assert queries == [EvalQuery("q1", "Wat zei Poetin?", ("d1",), "nl"),
                       EvalQuery("11", "no id, no lang", ("d2", "d3"), None)]
    assert problems == [
        f"{path}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        f'{path}:3: each line must be an object {{"id", "text", "relevant": [...]}}',
        f"{path}:4: question 'q4': \"text\" is missing or empty",
        f"{path}:5: question 'q5': \"text\" is missing or empty",
        f"{path}:6: question 'q6': \"relevant\" must be a non-empty list of doc ids",
        f"{path}:7: question 'q7': \"relevant\" must be a non-empty list of doc ids",
        f"{path}:8: question 'q8': \"relevant\" must be a non-empty list of doc ids",
        f"{path}:10: duplicate id 'q1' (first on line 1)",
        f"{path}:12: question 'q12': the question is 2001 characters long; the limit is 2000",
        f"{path}:13: question 'q13': \"lang\" must be a string such as \"nl\"",
    ]


def test_loader_reads_the_sample_questions():
    queries, problems = load_eval_queries(QUESTIONS)
    assert problems == [] and len(queries) == 30
    assert {q.lang for q in queries} == {"nl", "en"}


@pytest.mark.parametrize("content", [None, "caf\xe9".encode("latin-1")])
def test_loader_raises_input_error_for_an_unreadable_file(tmp_path, content):
    path = tmp_path / "q.jsonl"
    if content is not None:
        write(path, content)
    with pytest.raises(InputError, match=f"cannot read {path}"):
        load_eval_queries(path)


# --- the command (fake model) ----------------------------------------------------------------

METRICS = ["n", "recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10", "p50_ms", "p95_ms"]


def test_eval_json(run, fake_index):
    result = run("eval", QUESTIONS, "--index", fake_index, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["overall", "by_lang", "problems"]
    assert data["problems"] == []
    assert list(data["overall"]) == METRICS and data["overall"]["n"] == 30
    assert {lang: m["n"] for lang, m in data["by_lang"].items()} == {"en": 16, "nl": 14}
    for metrics in [data["overall"], *data["by_lang"].values()]:
        assert all(0.0 <= metrics[name] <= 1.0 for name in METRICS[1:5])
        assert 0.0 <= metrics["p50_ms"] <= metrics["p95_ms"]
    # The sample has 5 articles and 10 are asked for, so every relevant one is in the top 10.
    assert data["overall"]["recall_at_10"] == 1.0


def test_eval_readable_table(run, fake_index):
    result = run("eval", QUESTIONS, "--index", fake_index)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["lang", "n", "R@1", "R@10", "MRR@10", "nDCG@10", "p50", "ms", "p95", "ms"]
    assert [line.split()[:2] for line in lines[1:]] == [["en", "16"], ["nl", "14"], ["all", "30"]]
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_eval_k_limits_the_ranked_articles(run, fake_index):
    data = json.loads(run("eval", QUESTIONS, "--index", fake_index, "-k", "1", "--json").stdout)
    assert data["overall"]["recall_at_10"] == data["overall"]["recall_at_1"] < 1.0


def test_eval_with_bad_lines_reports_them_evaluates_the_rest_and_exits_3(run, fake_index, tmp_path):
    path = write(tmp_path / "q.jsonl", "\n".join([
        '{"id": "q1", "lang": "nl", "text": "Poetin Navalny", "relevant": ["001_2bed4d3526be678e"]}',
        "{oops",
        '{"id": "q3", "text": "Genève", "relevant": []}',
        '{"id": "q4", "text": "Biden cyber", "relevant": ["000_80b0f47be43478c7"]}',
    ]))
    result = run("eval", path, "--index", fake_index, "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["overall"]["n"] == 2
    assert set(data["by_lang"]) == {"nl", "unknown"}
    assert len(data["problems"]) == 2 and data["problems"][0].startswith(f"{path}:2: not valid JSON")
    assert f"error: {path}:2: not valid JSON" in result.stderr
    assert f"error: {path}:3: question 'q3': \"relevant\" must be" in result.stderr


@pytest.mark.parametrize("content, message", [
    ("{oops\n", "error: {path} holds no usable questions"),
    ("", "error: {path} holds no usable questions"),
    (None, "error: cannot read {path}: No such file or directory"),
    ("caf\xe9".encode("latin-1"), "error: cannot read {path}: it is not UTF-8 (byte 4)"),
])
def test_eval_without_a_usable_question_exits_1(run, fake_index, tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    if content is not None:
        write(path, content)
    result = run("eval", path, "--index", fake_index)
    assert result.exit_code == 1
    assert message.format(path=path) in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_eval_without_an_index_exits_1(run, tmp_path):
    result = run("eval", QUESTIONS, "--index", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "error: there is no index at" in result.stderr
    assert "Traceback" not in result.output


# --- the command (real model) ----------------------------------------------------------------

@pytest.mark.model
def test_real_model_eval_on_the_sample_questions(run, use_real_embedder, real_index):
    """Measured (30 questions): overall R@1 0.800, MRR@10 0.925, nDCG@10 0.941; nl (14) R@1 0.893,
    MRR@10 0.964; en (16) R@1 0.719, MRR@10 0.891. Floors just below: one question slipping from
    rank 1 to 2 fails. R@10 is 1.0 by construction: the sample has 5 articles, fewer than 10."""
    result = run("eval", QUESTIONS, "--index", real_index, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    overall, nl, en = data["overall"], data["by_lang"]["nl"], data["by_lang"]["en"]
    assert (overall["n"], nl["n"], en["n"]) == (30, 14, 16)
    assert overall["recall_at_10"] == 1.0
    assert overall["recall_at_1"] >= 0.79 and overall["mrr_at_10"] >= 0.92, overall
    assert nl["mrr_at_10"] >= 0.95, nl
    assert en["mrr_at_10"] >= 0.88, en
    assert 0.0 < overall["p50_ms"] <= overall["p95_ms"]
