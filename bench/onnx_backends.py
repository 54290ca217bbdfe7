"""ONNX Runtime and OpenVINO against torch for multilingual-e5-small: same answers, faster?

Runs in .venv-onnx (bash bench/onnx-setup.sh), from the repository root, offline. Every model is exported locally from a
copy of models/multilingual-e5-small in a fresh /tmp/onnx-model-* folder (removed at the end).

Variants (all go through SentenceTransformer.encode_query / encode_document, so tokenisation,
length-sorted batching, e5 prompts, mean pooling and normalisation are sentence-transformers' own):
  torch-fp32[-t1]    SentenceTransformer(folder, device="cpu"), 2 (or 1) torch threads; the reference
  onnx-*             sentence-transformers' backend="onnx" cannot be installed next to
                     sentence-transformers 6.x (optimum-onnx needs transformers<4.58, see
                     onnx-setup.sh), so: torch.onnx (dynamo) export, run by onnxruntime in place of
                     the Transformer module's model. onnx-O2/O3 = onnxruntime's transformer optimizer
                     with optimum's O2/O3 settings; onnx-int8 = quantize_dynamic with optimum's
                     AutoQuantizationConfig.avx2(is_static=False) settings. -t1: intra_op 1 thread.
  ov-fp32[-t1]       backend="openvino" (optimum-intel export), INFERENCE_NUM_THREADS 2 (or 1)
  ov-int8w           nncf.compress_weights INT8_ASYM: weight-only int8, needs no data
  ov-int8            nncf.quantize static int8, calibrated on shared/data/seeds (not the dev set)
Per variant: min/median cosine to the reference over all dev texts, recall@10 and MRR@10 on the
FLORES dev set, corpus tokens/s at batch 16 and 32 (best of 2), single-query latency p50/p95 over
200 queries (after 5 warm-ups), and "cpu wait %" (/proc/pressure/cpu: share of the variant's time
some task waited for a CPU, its own threads included) to flag runs disturbed by other work.
Kept if R@10 and MRR@10 are within 0.005 of the reference and min cosine >= 0.999.

usage: .venv-onnx/bin/python -m bench.onnx_backends [--variants NAME ...] [--limit N] [--keep]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse, gc, importlib.metadata as md, json, shutil, tempfile, time  # noqa: E401,E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from bench.lib import corpora, results  # noqa: E402
from bench.lib.timing import Timer, percentile  # noqa: E402

MODEL = corpora.ROOT / "models" / "multilingual-e5-small"
VARIANTS = ["torch-fp32", "torch-fp32-t1", "onnx-fp32", "onnx-fp32-t1", "onnx-O2", "onnx-O3", "onnx-int8",
            "ov-fp32", "ov-fp32-t1", "ov-int8w", "ov-int8"]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
COLS = {"min cos": ".5f", "median cos": ".6f", "R@10": ".4f", "MRR@10": ".4f", "tok/s bs16": ".0f",
        "tok/s bs32": ".0f", "p50 ms": ".1f", "p95 ms": ".1f", "cpu wait %": ".0f"}


class OrtModel(torch.nn.Module):
    """Stands in for the HF BertModel inside sentence-transformers' Transformer module."""

    def __init__(self, path: Path, config, threads: int):
        super().__init__()
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]
        self.config = config

    def forward(self, input_ids, attention_mask, token_type_ids=None, **_):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask,
                "token_type_ids": torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids}
        out = self.session.run(None, {n: feed[n].numpy() for n in self.names})[0]
        return {"last_hidden_state": torch.from_numpy(out)}


def export_onnx(src: Path, dst: Path, info: dict) -> None:
    """fp32 ONNX by torch.onnx (dynamo), then the O2/O3 and dynamic int8 files from it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    class Wrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    dst.mkdir()
    model = Wrapper(AutoModel.from_pretrained(src, attn_implementation="eager")).eval()
    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in INPUTS)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    dims = {k: {0: batch, 1: seq} for k in INPUTS}
    torch.onnx.export(model, example, dst / "model.onnx", input_names=list(INPUTS), dynamo=True,
                      output_names=["last_hidden_state"], dynamic_shapes=dims, external_data=False)
    for level in ("O2", "O3"):  # optimum's AutoOptimizationConfig levels, CPU
        opts = FusionOptions("bert")
        opts.enable_embed_layer_norm = False  # optimum's default (disable_embed_layer_norm_fusion)
        opts.enable_gelu_approximation = level == "O3"
        opt = optimize_model(str(dst / "model.onnx"), "bert", num_heads=12, hidden_size=384, opt_level=2,
                             optimization_options=opts, use_gpu=False, only_onnxruntime=False)
        opt.save_model_to_file(str(dst / f"model_{level}.onnx"))
        info[f"onnx-{level} fused ops"] = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    # optimum AutoQuantizationConfig.avx2(is_static=False): QUInt8 weights (symmetric) and
    # activations, per-channel, full range, IntegerOps on every dynamic-quantisable op type
    quantize_dynamic(dst / "model.onnx", dst / "model_int8.onnx", op_types_to_quantize=list(IntegerOpsRegistry),
                     per_channel=True, reduce_range=False, weight_type=QuantType.QUInt8,
                     extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})


def export_openvino(src: Path, dst: Path, calib_dir: Path, info: dict) -> None:
    """backend="openvino" export, then weight-only int8 and static int8 (local calibration texts)."""
    import nncf
    import openvino as ov
    model = SentenceTransformer(str(src), backend="openvino", device="cpu")
    model.save(str(dst))
    xml = dst / "openvino" / "openvino_model.xml"
    core = ov.Core()
    ov.save_model(nncf.compress_weights(core.read_model(xml)), xml.with_name("openvino_model_int8w.xml"))
    paragraphs = [p.strip() for f in sorted(calib_dir.glob("*.txt")) for p in f.read_text().split("\n\n")
                  if len(p.strip()) > 40]
    texts = [pre + p for p in paragraphs for pre in ("passage: ", "query: ")][:300]
    names = [i.get_any_name() for i in core.read_model(xml).inputs]
    encoded = [model.tokenizer(t, truncation=True, max_length=model.max_seq_length, return_tensors="np")
               for t in texts]
    items = [{n: e.get(n, np.zeros_like(e["input_ids"])) for n in names} for e in encoded]
    info["ov-int8 calibration texts"] = len(items)
    quantized = nncf.quantize(core.read_model(xml), nncf.Dataset(items), subset_size=len(items),
                              model_type=nncf.ModelType.TRANSFORMER)
    ov.save_model(quantized, xml.with_name("openvino_model_int8.xml"))
    info["ov CPU OPTIMIZATION_CAPABILITIES"] = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    for hint in ("bf16", "f16"):  # only meaningful with avx512_bf16 / amx / avx512_fp16
        compiled = core.compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": hint})
        info[f"ov hint {hint} -> effective"] = str(compiled.get_property("INFERENCE_PRECISION_HINT"))


def load(name: str, work: Path) -> SentenceTransformer:
    threads = 1 if name.endswith("-t1") else 2
    torch.set_num_threads(threads if name.startswith("torch") else 2)
    if name.startswith("ov-"):
        file = {"ov-int8w": "openvino_model_int8w.xml", "ov-int8": "openvino_model_int8.xml"}.get(
            name, "openvino_model.xml")
        return SentenceTransformer(str(work / "ov"), backend="openvino", device="cpu", model_kwargs={
            "file_name": f"openvino/{file}", "ov_config": {"INFERENCE_NUM_THREADS": threads}})
    model = SentenceTransformer(str(MODEL), device="cpu")
    if name.startswith("onnx-"):
        file = {"onnx-O2": "model_O2.onnx", "onnx-O3": "model_O3.onnx", "onnx-int8": "model_int8.onnx"}.get(
            name, "model.onnx")
        model[0].model = OrtModel(work / "onnx" / file, model[0].model.config, threads)
    return model


def cpu_stall_s() -> float:
    """Seconds some runnable task waited for a CPU (PSI), machine-wide: contention from other work."""
    try:
        return int(Path("/proc/pressure/cpu").read_text().split("total=")[1].split()[0]) / 1e6
    except (OSError, IndexError):
        return float("nan")


def retrieval(q_emb, d_emb, queries, doc_ids) -> tuple[float, float]:
    top = np.argsort(-(q_emb @ d_emb.T), axis=1)[:, :10]
    recall, mrr = [], []
    for row, q in zip(top, queries):
        hits = [i for i, d in enumerate(row) if doc_ids[d] in q["relevant"]]
        recall.append(len({doc_ids[d] for d in row} & set(q["relevant"])) / len(q["relevant"]))
        mrr.append(1 / (hits[0] + 1) if hits else 0.0)
    return float(np.mean(recall)), float(np.mean(mrr))


def measure(model, docs, queries, doc_ids, n_tokens) -> dict:
    texts = [q["text"] for q in queries]
    row, emb = {}, {}
    for bs in (16, 32):
        timer = Timer()
        for _ in range(2):
            with timer:
                emb["docs"] = model.encode_document(docs, batch_size=bs, show_progress_bar=False)
        row[f"tok/s bs{bs}"] = n_tokens / (min(timer.ms) / 1000)  # the best of two
    emb["queries"] = model.encode_query(texts, batch_size=32, show_progress_bar=False)
    for q in texts[:5]:
        model.encode_query(q)
    lat = Timer()
    for q in texts[:200]:
        with lat:
            model.encode_query(q)
    row["p50 ms"], row["p95 ms"] = percentile(lat.ms, 50), percentile(lat.ms, 95)
    row["R@10"], row["MRR@10"] = retrieval(emb["queries"], emb["docs"], queries, doc_ids)
    return row, np.vstack([emb["docs"], emb["queries"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS)
    parser.add_argument("--limit", type=int, help="use only the first N passages and queries")
    parser.add_argument("--dev", type=Path, default=corpora.dev_dir())
    parser.add_argument("--calib", type=Path, default=corpora.dev_dir().parent / "seeds",
                        help="texts for ov-int8 calibration")
    parser.add_argument("--keep", action="store_true", help="keep the /tmp/onnx-model-* folder")
    args = parser.parse_args()
    if not (args.dev / "corpus.jsonl").is_file():
        return results.skip(f"the FLORES dev set is not at {args.dev} (set {corpora.DEV_ENV})")
    corpus = corpora.read_jsonl(args.dev / "corpus.jsonl")[:args.limit]
    queries = corpora.read_jsonl(args.dev / "queries.jsonl")[:args.limit]
    doc_ids = [d["id"] for d in corpus]
    queries = [q for q in queries if set(q["relevant"]) <= set(doc_ids)]
    docs = [d["text"] for d in corpus]
    info = {"versions": {p: md.version(p) for p in ("torch", "sentence-transformers", "transformers",
                                                     "onnxruntime", "onnx", "openvino", "optimum-intel", "nncf")},
            "texts": {"passages": len(docs), "queries": len(queries)}}
    variants = ["torch-fp32"] + [v for v in args.variants if v != "torch-fp32"]
    work = Path(tempfile.mkdtemp(prefix="onnx-model-", dir="/tmp"))
    try:
        shutil.copytree(MODEL, work / "src")
        try:  # the real sentence-transformers ONNX backend, to record why it is not used
            SentenceTransformer(str(work / "src"), backend="onnx", device="cpu")
            info["st backend=onnx"] = "loaded"
        except Exception as exc:  # noqa: BLE001
            info["st backend=onnx"] = f"{type(exc).__name__}: {exc}"
        if any(v.startswith("onnx-") for v in variants):
            export_onnx(work / "src", work / "onnx", info)
        if any(v.startswith("ov-") for v in variants):
            export_openvino(work / "src", work / "ov", args.calib, info)
        info["model files MB"] = {str(p.relative_to(work)): round(p.stat().st_size / 2**20)
                                  for p in sorted(work.glob("*/**/*")) if p.suffix in (".onnx", ".bin")}
        rows, ref = {}, None
        for name in variants:
            print(f"... {name}", flush=True)
            model = load(name, work)
            if ref is None:  # the e5 prompts come from the folder's config and are really applied
                probe = model.encode(["passage: " + docs[0]], show_progress_bar=False)[0]
                info["prompts"] = model.prompts
                info["encode_document adds 'passage: '"] = bool(
                    np.allclose(model.encode_document([docs[0]], show_progress_bar=False)[0], probe, atol=1e-6))
            n_tokens = sum(len(ids) for ids in model.tokenizer(["passage: " + d for d in docs], truncation=True,
                                                                max_length=model.max_seq_length)["input_ids"])
            wall, stall = time.perf_counter(), cpu_stall_s()
            row, emb = measure(model, docs, queries, doc_ids, n_tokens)
            row["cpu wait %"] = 100 * (cpu_stall_s() - stall) / (time.perf_counter() - wall)
            if hasattr(model[0].model, "request"):
                row["ov precision"] = str(model[0].model.request.get_property("INFERENCE_PRECISION_HINT"))
            ref = emb if ref is None else ref
            cos = np.sum(emb * ref, 1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(ref, axis=1)
            row["min cos"], row["median cos"] = float(cos.min()), float(np.median(cos))
            base = rows.get("torch-fp32", row)
            row["kept"] = bool(abs(row["R@10"] - base["R@10"]) <= 0.005 and abs(row["MRR@10"] - base["MRR@10"])
                               <= 0.005 and row["min cos"] >= 0.999)
            rows[name] = row
            del model
            gc.collect()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    base = rows["torch-fp32"]
    faster = [n for n, r in rows.items() if r["kept"] and n != "torch-fp32" and r["tok/s bs32"] > base["tok/s bs32"]
              and r["p50 ms"] < base["p50 ms"]]
    table = results.table(
        f"multilingual-e5-small per backend on the FLORES dev set ({len(docs)} passages, {len(queries)} "
        "questions); kept = R@10 and MRR@10 within 0.005 of torch-fp32 and min cosine >= 0.999",
        ["variant", *COLS, "kept?"],
        [[name, *(format(row[c], f) for c, f in COLS.items()), "yes" if row["kept"] else "no"]
         for name, row in rows.items()],
        f"kept and faster than torch-fp32 (bs32 tok/s and query p50): {', '.join(faster) or 'none'}")
    print(json.dumps(info, indent=1, default=str))
    results.publish({"info": info, "variants": rows, "kept_and_faster": faster}, [table])

if __name__ == "__main__":
    main()
