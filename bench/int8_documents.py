"""int8 products for documents on ONNX Runtime: speed against the other paths, and the answers.

Measures, on this machine, on the eval corpus's texts (every passage and sentence the index
embeds):
- tokens/s, in interleaved rounds, of sentence-transformers fp32 (the reference), ONNX
  Runtime on the fp32 graph, ONNX Runtime dynamic int8 (per-channel int8 weights, activations
  quantised per batch) on every matrix product with weights, the same with the products the
  sweep finds most sensitive kept in fp32, and OpenVINO bf16 where the CPU has BF16;
- each path's per-text cosine to the reference (the issue's rule: >= 0.99);
- `vraagbaak eval` on every eval set for an index made by each int8 graph against one made by
  the reference (the rule: R@1, R@10, MRR@10 within 0.005 on every set and mode);
- with --sweep, the min cosine with each layer's feed-forward output kept in fp32 in turn (how
  the kept product was found).

usage: python -m bench.int8_documents [--rounds 2] [--sweep] [--keep 4]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.lib import indexes, machine, quality, results
from bench.lib.corpora import EVAL_CORPUS, model_tokens

LAYERS = 12


def ffn_outputs(graph: Path, layers: set[int]) -> list[str]:
    """The feed-forward output products (``layer.N/output/dense``) of ``layers``."""
    import onnx

    return [n.name for n in onnx.load(str(graph)).graph.node if n.op_type == "MatMul"
            and any(n.name.endswith(f"layer.{i}/output/dense/MatMul") for i in layers)]


def quantised(plain: Path, out: Path, keep: list[str]) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice on pre-processing
    quantize_dynamic(str(plain), str(out), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=keep)
    return out


def on_graph(spec, graph: Path):
    """The shipped ONNX embedder (tokens, word table, length batches) on another graph."""
    from indexer.embedders.onnx_runtime import OnnxEmbedder

    return OnnxEmbedder(spec, threads=2, batch_size=32, spin="never", graph=graph)


def timed(embedder, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    return time.perf_counter() - started, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--keep", type=int, nargs="*", default=[4],
                        help="layers whose feed-forward output stays fp32 (found by --sweep)")
    args = parser.parse_args()
    from indexer import embedders
    from indexer.embedders.base import resolve_model
    from indexer.embedders.onnx_export import _export_fp32

    spec = resolve_model()
    reference = embedders.load_embedder(spec)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain = work / "plain.onnx"
        _export_fp32(Path(spec.location), plain)
        kept_name = f"ort-int8, layer {'+'.join(map(str, args.keep))} ffn out fp32"
        graphs = {"ort-fp32": plain,
                  "ort-int8, all": quantised(plain, work / "all.onnx", []),
                  kept_name: quantised(plain, work / "kept.onnx",
                                       ffn_outputs(plain, set(args.keep)))}
        paths = {"sentence-transformers fp32 (reference)": reference} | {
            name: on_graph(spec, graph) for name, graph in graphs.items()}
        if machine.cpu_flags().get("avx512_bf16"):
            paths[embedders.OPENVINO_BF16] = embedders.load_embedder(spec, embedders.OPENVINO_BF16)
        indexes.build_index(work / "ref", reference, [EVAL_CORPUS])
        texts = indexes.embedded_texts(work / "ref")
        tokens = model_tokens(reference, texts)
        seconds = {name: [] for name in paths}
        vectors = {}
        for name, embedder in paths.items():
            embedder.embed_documents(texts[:32])  # warm-up
        for _ in range(args.rounds):
            for name, embedder in paths.items():
                took, vectors[name] = timed(embedder, texts)
                seconds[name].append(took)
        ref = vectors["sentence-transformers fp32 (reference)"]
        rows = {name: {"best_s": min(s), "tokens_per_s": tokens / min(s),
                       "min_cosine": float(np.sum(vectors[name] * ref, 1).min()),
                       "p1_cosine": float(np.percentile(np.sum(vectors[name] * ref, 1), 1))}
                for name, s in seconds.items()}
        evals = {"fp32": quality.eval_sets(work / "ref")}
        for name in ("ort-int8, all", kept_name):
            indexes.build_index(work / name, paths[name], [EVAL_CORPUS])
            evals[name] = quality.eval_sets(work / name)
        sweep = sweep_cosines(spec, plain, work, texts, ref) if args.sweep else {}
    publish(rows, evals, sweep, len(texts), tokens, kept_name)


def sweep_cosines(spec, plain: Path, work: Path, texts: list[str], ref: np.ndarray) -> dict:
    found = {}
    for layer in range(LAYERS):
        graph = quantised(plain, work / f"sweep-{layer}.onnx", ffn_outputs(plain, {layer}))
        found[layer] = float(np.sum(on_graph(spec, graph).embed_documents(texts) * ref, 1).min())
        graph.unlink()
    return found


def publish(rows: dict, evals: dict, sweep: dict, n_texts: int, tokens: int, kept: str) -> None:
    base = rows["sentence-transformers fp32 (reference)"]["tokens_per_s"]
    speed = results.table(
        f"Documents through each path: the eval corpus's {n_texts:,} texts, {tokens:,} tokens, "
        "batch 32, 2 threads (best of the rounds, interleaved)",
        ["path", "s", "tokens/s", "x reference", "min cosine", "1st percentile cosine"],
        [[name, f"{r['best_s']:.2f}", f"{r['tokens_per_s']:.0f}",
          f"{r['tokens_per_s'] / base:.2f}x", f"{r['min_cosine']:.5f}", f"{r['p1_cosine']:.5f}"]
         for name, r in rows.items()],
        "rule per text: cosine >= 0.99 to the reference")
    names = [n for n in evals if n != "fp32"]
    answers = results.table(
        "Answers, `vraagbaak eval` on every set: R@1 / R@10 / MRR@10, fp32 | " + " | ".join(names),
        ["set", "mode", "fp32", *names],
        [[s, mode] + [" / ".join(f"{evals[n][mode][s][m]:.3f}" for m in
                                 ("recall_at_1", "recall_at_10", "mrr_at_10")) for n in evals]
         for mode in evals["fp32"] for s in evals["fp32"][mode]],
        "; ".join(f"{n}: within 0.005 on every set and mode: "
                  f"{'yes' if quality.within(evals['fp32'], evals[n]) else 'no'} (largest drop: "
                  f"{quality.worst_drop(evals['fp32'], evals[n])})" for n in names))
    tables = [speed, answers]
    if sweep:
        tables.append(results.table(
            "Sweep: int8 everywhere but one layer's feed-forward output (min cosine)",
            ["layer kept in fp32", "min cosine"], [[str(k), f"{v:.5f}"] for k, v in sweep.items()]))
    results.publish({"paths": rows, "quality": evals, "sweep": sweep, "kept": kept}, tables)


if __name__ == "__main__":
    main()
