"""Builds the evaluation corpus and the rule-made question sets in this folder, deterministically.

Inputs (all read, none changed):
- the FLORES dev set (``--dev``, default ../shared/data/dev): 701 Dutch sentences with a
  category (corpus.jsonl) and their English originals (queries.jsonl); CC BY-SA 4.0;
- flores_titles.tsv: a Dutch title, written by hand, per FLORES pseudo-article;
- written_articles.jsonl: short Dutch news articles written for this evaluation;
- data/sample/*.txt and sample_titles.json: the five sample articles and titles written for them.

Outputs:
- corpus.jsonl: every article, {"id", "title", "date", "text"} (FLORES ones have no date);
- en-flores.jsonl: each FLORES English sentence -> its pseudo-article;
- en-short.jsonl: each English sentence cut to at most 8 words by the rule in ``shorten``;
- nl-short.jsonl: each Dutch sentence cut by the same rule (Dutch stop words), a Dutch line ->
  the pseudo-article that holds it, with the sentence id (so the passage is known too);
- nl-headline.jsonl: each title -> its article.

The hand-written sets (en-who-where, nl-who-said, nl-paraphrase) are files of their own and are
only checked here: every judged id must be in the corpus. No set is chosen by running a search.

usage: python bench/data/eval/build.py [--dev ../shared/data/dev] [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

PER_ARTICLE = 5  # FLORES sentences per pseudo-article (4-6 after even splitting)
MAX_SHORT_WORDS = 8
MIN_SHORT_WORDS = 3
SLUG = {"entertainment": "ent", "geography": "geo", "health": "hea", "politics": "pol",
        "science/technology": "sci", "sports": "spo", "travel": "tra"}
HAND_WRITTEN = ("en-who-where.jsonl", "nl-who-said.jsonl", "nl-paraphrase.jsonl")
# Words a cut may not start or end on (a line ending "... of the" reads as broken); they
# are not content words either.
STOP = {"a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "but", "by",
            "with", "from", "as", "that", "which", "who", "is", "was", "are", "were", "be",
            "has", "had", "have", "its", "their", "his", "her", "this", "these", "than", "into",
            "about", "over", "after", "before", "while", "when", "where", "it", "he", "she",
            "they", "we", "not", "also", "been", "being", "very", "more", "most", "such", "so"}

# The same, for Dutch lines (nl-short); "de", "het", "een" may start a line, as "the" may.
STOP_NL = {"de", "het", "een", "van", "in", "op", "aan", "met", "voor", "door", "naar", "bij",
           "uit", "over", "en", "of", "maar", "dat", "die", "dit", "deze", "is", "was", "zijn",
           "waren", "wordt", "werd", "worden", "werden", "heeft", "had", "hebben", "hadden", "er",
           "ook", "niet", "als", "om", "te", "tot", "zo", "zich", "hij", "zij", "ze", "hun",
           "haar", "we", "wij", "nog", "al", "toen", "wanneer", "waar", "dan", "na", "tijdens",
           "onder", "meer", "zeer", "veel", "wel", "kan", "kunnen", "zal", "zullen"}
ARTICLES = {"en": {"the", "a", "an"}, "nl": {"de", "het", "een"}}


def number(flores_id: str) -> int:
    return int(flores_id.split("-")[1])


def pseudo_articles(sentences: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """(slug, category, sentences): per category, its sentences in id order, split evenly into
    round(n / 5) consecutive groups."""
    by_category: dict[str, list[dict]] = defaultdict(list)
    for sentence in sorted(sentences, key=lambda s: number(s["id"])):
        by_category[sentence["category"]].append(sentence)
    groups = []
    for category in sorted(by_category):
        members = by_category[category]
        count = max(1, round(len(members) / PER_ARTICLE))
        base, extra = divmod(len(members), count)
        start = 0
        for j in range(count):
            size = base + (1 if j < extra else 0)
            groups.append((f"{SLUG[category]}{j + 1:02d}", category, members[start:start + size]))
            start += size
    return groups


def shorten(sentence: str, language: str = "en") -> str | None:
    """A short line from a FLORES sentence (English, or Dutch with STOP_NL), by rule: drop quotes and bracketed asides,
    split into clauses at , ; : and dashes, take the clause with the most content words (four
    letters or more; the first clause on ties), take its 8-word window with the most content
    words (the first on ties), and drop stop words at both ends. None when fewer than 3 content
    words are left."""
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", sentence)
    text = re.sub(r"[\"“”]|(?<!\w)[‘’']|[‘’'](?!\w)", "", text)  # quotes, not apostrophes
    clauses = [c.split() for c in re.split(r"[,;:]|\s[-–—]\s", text)]
    clauses = [[w.strip(".!?") for w in c if w.strip(".!?")] for c in clauses]
    clauses = [c for c in clauses if c]
    if not clauses:
        return None

    stop = STOP if language == "en" else STOP_NL

    def weight(words: list[str]) -> int:
        return sum(len(re.sub(r"\W", "", w)) >= 4 and w.lower() not in stop for w in words)

    best = max(clauses, key=weight)  # max keeps the first of equal weights
    windows = [best[i:i + MAX_SHORT_WORDS] for i in range(max(1, len(best) - MAX_SHORT_WORDS + 1))]
    words = max(windows, key=weight)
    while words and words[-1].lower() in stop:
        words = words[:-1]
    while words and words[0].lower() in stop - ARTICLES[language]:
        words = words[1:]
    return " ".join(words) if weight(words) >= MIN_SHORT_WORDS else None


def default_dev() -> Path:
    """../shared/data/dev beside the checkout (as bench/answer_quality.py has it), or one level
    up for a worktree in a folder of worktrees."""
    candidates = [ROOT.parent / "shared" / "data" / "dev", ROOT.parent.parent / "shared" / "data" / "dev"]
    return next((c for c in candidates if (c / "corpus.jsonl").is_file()), candidates[0])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


def sample_articles() -> list[dict]:
    from indexer.write.loading import load_articles

    titles = json.loads((HERE / "sample_titles.json").read_text(encoding="utf-8"))
    loaded = load_articles([ROOT / "data" / "sample"])
    docs = sorted(loaded.documents, key=lambda d: d.doc_id)
    assert [d.doc_id for d in docs] == sorted(titles), "sample_titles.json must name every sample"
    return [{"id": d.doc_id, "title": titles[d.doc_id], "date": d.date, "text": d.text} for d in docs]


def build(dev: Path) -> dict[str, list[dict]]:
    sentences = read_jsonl(dev / "corpus.jsonl")
    english = {q["relevant"][0]: q["text"] for q in read_jsonl(dev / "queries.jsonl")}
    titles = dict(line.split("\t") for line in
                  (HERE / "flores_titles.tsv").read_text(encoding="utf-8").splitlines() if line)
    corpus, en_flores, en_short, headlines, nl_short = [], [], [], [], []
    for slug, category, members in pseudo_articles(sentences):
        doc_id = f"fl-{slug}"
        corpus.append({"id": doc_id, "title": titles[slug], "text": " ".join(m["text"] for m in members),
                       "category": category, "source": "FLORES-200 (CC BY-SA 4.0)"})
        headlines.append({"id": f"nl-headline-{doc_id}", "lang": "nl", "text": titles[slug],
                          "relevant": [doc_id]})
        for member in members:
            original = english[member["id"]]
            en_flores.append({"id": f"en-flores-{member['id']}", "lang": "en", "text": original,
                              "relevant": [doc_id], "sentence": member["id"]})
            short = shorten(original)
            if short:
                en_short.append({"id": f"en-short-{member['id']}", "lang": "en", "text": short,
                                 "relevant": [doc_id], "sentence": member["id"]})
            dutch = shorten(member["text"], "nl")
            if dutch:
                nl_short.append({"id": f"nl-short-{member['id']}", "lang": "nl", "text": dutch,
                                 "relevant": [doc_id], "sentence": member["id"]})
    assert len(titles) == len(corpus), "flores_titles.tsv must title every pseudo-article"
    for article in sample_articles() + read_jsonl(HERE / "written_articles.jsonl"):
        corpus.append({key: article[key] for key in ("id", "title", "date", "text")})
        headlines.append({"id": f"nl-headline-{article['id']}", "lang": "nl",
                          "text": article["title"], "relevant": [article["id"]]})
    return {"corpus.jsonl": corpus, "en-flores.jsonl": en_flores, "en-short.jsonl": en_short,
            "nl-headline.jsonl": headlines, "nl-short.jsonl": nl_short}


def check(outputs: dict[str, list[dict]]) -> None:
    ids = {a["id"] for a in outputs["corpus.jsonl"]}
    assert len(ids) == len(outputs["corpus.jsonl"]), "duplicate article ids"
    sets = {name: records for name, records in outputs.items() if name != "corpus.jsonl"}
    sets |= {name: read_jsonl(HERE / name) for name in HAND_WRITTEN}
    for name, records in sets.items():
        missing = {d for r in records for d in r["relevant"]} - ids
        assert not missing, f"{name} judges articles that are not in the corpus: {sorted(missing)}"
        assert len({r["id"] for r in records}) == len(records), f"{name}: duplicate question ids"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=default_dev())
    parser.add_argument("--check", action="store_true",
                        help="only check that the files here are what the build would write")
    args = parser.parse_args()
    outputs = build(args.dev)
    check(outputs)
    for name, records in outputs.items():
        path = HERE / name
        if args.check:
            if read_jsonl(path) != records:
                sys.exit(f"{path} differs from what build.py makes; run it without --check")
        else:
            write_jsonl(path, records)
        print(f"{name}: {len(records)}")


if __name__ == "__main__":
    main()
