"""The bundled model on OpenVINO: documents, in bf16 where bf16 is measured faster, else in fp32.

OpenVINO's CPU plugin runs the encoder's products in bf16 on AVX-512 BF16 / AMX with its own
fused kernels (layer norms, GELU and attention in one pass each), where torch's autocast casts
around every product: 1.7x torch's bf16 on the same texts, with the same answers (decision
0066); in fp32 its kernels do torch's arithmetic faster than oneMKL does on every CPU
measured (decision 0069). The graph is the folder's encoder in fp32, converted once by
`vraagbaak model build` (onnx_export.py: ``openvino/encoder.xml``); its input is the token
vectors, read by row from the folder's word table as ONNX Runtime's path does, and its output
the mean-pooled, normalised vector. The tokenizer is transformers' (as sentence-transformers
loads it), so the tokens are the torch path's to the token.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.embedders.base import ModelSpec
from indexer.embedders.onnx_export import openvino_path
from indexer.embedders.onnx_runtime import PROMPTS, by_length, word_table
from indexer.embedders.sentence_transformers import auto_tokenizer, count_with
from indexer.errors import ModelError

MAX_TOKENS = 512  # the model's max_seq_length, specials included
PRECISIONS = {"bf16": "bf16", "fp32": "f32"}  # ours -> OpenVINO's INFERENCE_PRECISION_HINT


class OpenVinoEmbedder:
    """Safe to share between threads: one call at a time, as the other backends."""

    backend = "openvino-bf16"

    def __init__(self, spec: ModelSpec, precision: str = "bf16", threads: int | None = None,
                 batch_size: int = 32, backend: str | None = None) -> None:
        if spec.kind != "bundled":
            raise ModelError(f"the OpenVINO path runs only the bundled model, not {spec.model_id!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
        folder = Path(spec.location)
        graph = openvino_path(folder)
        if not graph.is_file():
            raise ModelError(f"{graph} is missing: the model folder was built without its "
                             "OpenVINO graph", hint="run `vraagbaak model build` to add it")
        self.spec, self.batch_size, self.precision = spec, batch_size, precision
        self.backend = backend or self.backend
        self._one_at_a_time = threading.Lock()
        self._tokenizer = _tokenizer(folder)
        self._words = word_table(folder / "model.safetensors")
        self.dim = int(self._words.shape[1])
        threads = torch_threads() if threads is None else threads
        self._request = _compiled(graph, PRECISIONS[precision], threads).create_infer_request()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, PROMPTS["document"])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, PROMPTS["query"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._one_at_a_time:  # the tokenizer is the passes' too
            return count_with(self._tokenizer, texts)

    def _embed(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        with self._one_at_a_time:
            return by_length(texts, prompt, self.batch_size, self.dim, self._pass)

    def _pass(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS,
                                  return_tensors="np")
        ids, mask = encoded["input_ids"], encoded["attention_mask"].astype(np.int64)
        result = self._request.infer({"inputs_embeds": np.ascontiguousarray(self._words[ids]),
                                      "attention_mask": mask})
        vectors = np.asarray(result[0], np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _tokenizer(folder: Path):
    try:
        return auto_tokenizer(folder)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of {folder}: {exc}",
                         hint="run `vraagbaak model build --force`") from exc


def torch_threads() -> int:
    """As many threads as torch is set to use where it is loaded (a Ray actor sets its own per
    actor, as for the torch path), else 0: OpenVINO's choice, the cores."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else 0


def _compiled(graph: Path, precision: str, threads: int):
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        return ov.Core().compile_model(str(graph), "CPU", config)
    except Exception as exc:  # OpenVINO raises its own RuntimeError kinds
        raise ModelError(f"OpenVINO cannot load {graph}: {exc}",
                         hint="run `vraagbaak model build --force`; or index with --device cpu "
                              "(fp32 on torch), which needs no OpenVINO") from exc
