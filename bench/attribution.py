"""Attribution precision and recall of indexer.write.quotes on hand-judged quotes.

tests/data/quote_attribution.jsonl names, for the 40 written articles of bench/data/eval and
the 5 sample articles, every quote and every piece of reported speech (a verb of saying,
thinking or expecting with "dat", "volgens X", "…, meldt X"), each by words it contains and the
speaker(s) it may be given to. A found quote is right when it holds such words and its speaker
is one of theirs (indexer.index.names.same_speaker); one that holds none is wrong (a scare
quote given a speaker, a sentence that reports nobody). Precision: right / found; recall:
judged quotes found with a right speaker / judged quotes.

usage: python -m bench.attribution [--show]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.lib.corpora import ROOT
from indexer.index.names import name_key, same_speaker
from indexer.write.loading import load_articles
from indexer.write.quotes import attribute

JUDGED = ROOT / "tests" / "data" / "quote_attribution.jsonl"
ARTICLES = (ROOT / "bench" / "data" / "eval" / "written_articles.jsonl", ROOT / "data" / "sample")


def score(judged_path: Path = JUDGED, show: bool = False) -> dict:
    judged = [json.loads(line) for line in judged_path.read_text().splitlines() if line.strip()]
    texts = {d.doc_id: d.text for d in load_articles(list(ARTICLES)).documents}
    by_doc: dict[str, list[dict]] = {}
    for item in judged:
        by_doc.setdefault(item["doc_id"], []).append(item)
    counts = {kind: {"found": 0, "right": 0, "judged": 0, "recalled": 0}
              for kind in ("direct", "indirect")}
    for doc_id, items in by_doc.items():
        text = texts[doc_id]
        quotes = attribute(doc_id, text)
        for item in items:
            counts[item["kind"]]["judged"] += 1
        recalled = set()
        for q in quotes:
            words = text[q.start:q.end]
            matches = [i for i, item in enumerate(items) if item["contains"] in words]
            right = [i for i in matches if any(same_speaker(name_key(s), tuple(q.speaker_key.split()))
                                               for s in items[i]["speaker"])]
            counts[q.kind]["found"] += 1
            counts[q.kind]["right"] += bool(right)
            recalled.update(right)
            if show and not right:
                print(f"wrong  {doc_id} {q.kind}: {q.speaker!r} for {words[:70]!r}"
                      + (f" (judged: {items[matches[0]]['speaker']})" if matches else " (not a judged quote)"))
        for i, item in enumerate(items):
            counts[item["kind"]]["recalled"] += i in recalled
            if show and i not in recalled:
                print(f"missed {doc_id} {item['kind']}: {item['contains']!r} ({item['speaker']})")
    total = {key: sum(c[key] for c in counts.values()) for key in ("found", "right", "judged", "recalled")}
    result = {}
    for name, c in (*counts.items(), ("all", total)):
        result[name] = {**c, "precision": round(c["right"] / c["found"], 3) if c["found"] else 0.0,
                        "recall": round(c["recalled"] / c["judged"], 3) if c["judged"] else 0.0}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print every wrong and missed quote")
    args = parser.parse_args()
    for name, c in score(show=args.show).items():
        print(f"{name:9} found {c['found']:3}  right {c['right']:3}  precision {c['precision']:.3f}   "
              f"judged {c['judged']:3}  recalled {c['recalled']:3}  recall {c['recall']:.3f}")


if __name__ == "__main__":
    main()
