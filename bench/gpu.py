"""Embedding on a CUDA GPU against the CPU reference: tokens/s, and whether the answers are kept.

Measures, on a machine where torch sees a CUDA GPU (it says so and stops where it does not):
- tokens/s of the document paths `vraagbaak index --device cuda` can pick (fp16 for the bundled
  model, fp32 for others) at batch 64, against sentence-transformers fp32 on the CPU (the
  reference of bench.indexing), on the eval corpus's passages;
- each GPU path's per-text cosine to the CPU fp32 vectors (rule: >= 0.99);
- the whole index run of the eval corpus on the GPU path `--device auto` picks there, and
  `vraagbaak eval` on every eval set against the same index made on the CPU in fp32 (rule:
  R@1, R@10, MRR@10 within 0.005 on every set and mode);
- the same run as users start it on Ray, `vraagbaak index --ray local --device cuda` (GPU
  actors, decision 0067): its time, the backend its manifest names, and its answers by the
  same rule.

A prepared script, for the task that is lent a GPU machine: `python -m bench.gpu` (a few
minutes; the CPU reference is the slow part, --cpu-passages bounds it). Not in the suite, which
must run on any machine.

usage: python -m bench.gpu [--cpu-passages 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.lib import indexes, machine, quality, results
from bench.lib.corpora import EVAL_CORPUS, model_tokens


def passages(embedder) -> list[str]:
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import load_articles

    chunker = ParagraphChunker(embedder)
    return [c.text for d in load_articles([EVAL_CORPUS]).documents for c in chunker.split(d)]


def rate(embedder, texts: list[str], tokens: int, sync) -> tuple[float, np.ndarray]:
    embedder.embed_documents(texts[:8])
    sync()
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    sync()
    return tokens / (time.perf_counter() - started), vectors


def on_ray_gpus(root: Path) -> dict:
    """The eval corpus indexed by `vraagbaak index --ray local --device cuda`: the time and the
    backends the manifest names."""
    from bench.eval_sets import vraagbaak
    from indexer.index.directory import IndexDirectory

    started = time.perf_counter()
    vraagbaak("index", str(EVAL_CORPUS), "--index", str(root), "--ray", "local", "--device", "cuda")
    seconds = time.perf_counter() - started
    return {"index_s": seconds,
            "backends": list(IndexDirectory(root).manifest_if_any().document_backends)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-passages", type=int, default=400,
                        help="passages the CPU reference is timed on (all are compared)")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        results.skip("torch sees no CUDA GPU here (a CUDA build of torch and a GPU are needed)")
        return
    from indexer import embedders
    from indexer.embedders.base import resolve_model

    spec = resolve_model()
    cpu = embedders.load_embedder(spec)
    texts = passages(cpu)
    tokens = model_tokens(cpu, texts)
    sample = texts[:args.cpu_passages]
    cpu_rate, _ = rate(cpu, sample, model_tokens(cpu, sample), lambda: None)
    reference = cpu.embed_documents(texts)
    rows = {"sentence-transformers fp32, CPU (reference)": {
        "tokens_per_s": cpu_rate, "x_reference": 1.0, "min_cosine": 1.0}}
    for name in (embedders.TORCH_CUDA_FP16, embedders.TORCH_CUDA):
        gpu = embedders.load_embedder(spec, name)
        tps, vectors = rate(gpu, texts, tokens, torch.cuda.synchronize)
        cosines = np.sum(vectors * reference, axis=1)
        rows[name] = {"tokens_per_s": tps, "x_reference": tps / cpu_rate,
                      "min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean())}
        del gpu
    picked = embedders.document_backend_for(spec, "auto")
    with tempfile.TemporaryDirectory() as tmp:
        on_cpu, on_gpu = Path(tmp) / "cpu", Path(tmp) / "gpu"
        indexes.build_index(on_cpu, cpu, [EVAL_CORPUS])
        started = time.perf_counter()
        report = indexes.build_index(on_gpu, embedders.load_embedder(spec, picked), [EVAL_CORPUS])
        index_s = time.perf_counter() - started
        evals = {"cpu fp32": quality.eval_sets(on_cpu), picked: quality.eval_sets(on_gpu)}
        on_ray = on_ray_gpus(Path(tmp) / "ray")
        on_ray["answers_kept"] = quality.within(evals["cpu fp32"], quality.eval_sets(Path(tmp) / "ray"))
    keeps = quality.within(evals["cpu fp32"], evals[picked])
    numbers = {"gpu": torch.cuda.get_device_name(0), "passages": len(texts), "tokens": tokens,
               "paths": rows, "auto_picks": picked, "index_s": index_s,
               "index_tokens_per_s": report.tokens / index_s, "quality": evals, "answers_kept": keeps,
               "ray": on_ray}
    path_table = results.table(
        f"Document embedding on {numbers['gpu']} against the CPU reference ({len(texts)} eval "
        f"passages, {tokens:,} tokens; CPU: {machine.describe(machine.facts())})",
        ["path", "tokens/s", "x CPU fp32", "min cosine to CPU fp32"],
        [[name, f"{r['tokens_per_s']:.0f}", f"{r['x_reference']:.1f}x", f"{r['min_cosine']:.5f}"]
         for name, r in rows.items()],
        f"the whole index run of the eval corpus on {picked}: {index_s:.1f} s, "
        f"{numbers['index_tokens_per_s']:.0f} article tokens/s; with `--ray local --device cuda`: "
        f"{on_ray['index_s']:.1f} s (Ray's start included), by {', '.join(on_ray['backends'])}, "
        f"answers kept: {'yes' if on_ray['answers_kept'] else 'NO'}")
    rows_q = [[name, mode] + [f"{evals['cpu fp32'][mode][name][m]:.3f} / {evals[picked][mode][name][m]:.3f}"
                              for m in quality.EVAL_METRICS]
              for mode in evals["cpu fp32"] for name in evals["cpu fp32"][mode]]
    quality_table = results.table(
        f"Answer quality: CPU fp32 / {picked}", ["set", "mode", "R@1", "R@10", "MRR@10", "nDCG@10"],
        rows_q, f"R@1, R@10, MRR@10 within 0.005 on every set and mode: {'yes' if keeps else 'NO'}")
    results.publish(numbers, [path_table, quality_table])


if __name__ == "__main__":
    main()
